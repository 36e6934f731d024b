#!/usr/bin/env bash
# scripts/demo.sh [up|nodes|status|smoke|down] - the local demo cluster on podman nodes (default: up).
#
#   up      set-up if needed (scripts/setup.sh), start the demo nodes of inventories/demo/hosts.yml
#           (3 masters, 1 worker) on the `kubeha` network, converge playbooks/site.yml when it is
#           there, then print the status. Running it again reuses what is there.
#   nodes   only start the demo nodes and build the release if needed (what bench/site_converge.py times from)
#           Every node also runs sshd with the demo key ($KUBEHA_HOME/ssh/id_ed25519) for root, so the
#           same cluster can be driven over SSH: add `-i inventories/demo/ssh.yml` to ansible-playbook.
#   status  print the state of the demo nodes and of what runs on them
#   smoke   the guide's smoke test on the running demo (playbooks/smoke.yml): 3 web replicas spread over
#           the nodes, found by DNS name across nodes, a node's kubelet and containerd killed and back,
#           a deleted pod replaced, and the master that holds the elected components stopped as a whole
#           (podman stop): the API, the workload and the Leases carry on elsewhere, and it comes back
#   down    remove the demo nodes and their secrets (the node image and the network stay for the next `up`)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
INVENTORY=inventories/demo/hosts.yml
NODES=(kubeha-demo-m1:10.89.30.101 kubeha-demo-m2:10.89.30.102 kubeha-demo-m3:10.89.30.103
       kubeha-demo-w1:10.89.30.111)
cmd=${1:-up}

node_state() {   # systemd's own verdict, or why there is none
  local n=$1 s
  s=$(podman inspect --format '{{.State.Status}}' "$n" 2>/dev/null) || { echo absent; return; }
  [ "$s" = running ] || { echo "container $s"; return; }
  podman exec "$n" systemctl is-system-running 2>/dev/null || true
}

nodes() {   # start the demo nodes (and build the real programs when they are not built yet); no converge
  bash scripts/setup.sh python hosts release
  # shellcheck disable=SC1091
  source .cache/env.sh
  local spec n ip s
  for spec in "${NODES[@]}"; do
    n=${spec%%:*}; ip=${spec#*:}
    s=$(podman inspect --format '{{.State.Status}}' "$n" 2>/dev/null || echo absent)
    case $s in
      running) ;;
      absent)
        echo "== starting $n ($ip)"
        # as the Molecule scenarios run them: what a real kubelet and containerd need in a container
        podman run -d --name "$n" --hostname "${n#kubeha-demo-}" --network "$KUBEHA_NET" --ip "$ip" \
          --privileged --cgroupns=private --volume /var/lib/containerd --systemd=always "$KUBEHA_IMAGE" /usr/local/sbin/kubeha-init >/dev/null ;;
      *) echo "== restarting $n ($s)"; podman start "$n" >/dev/null ;;
    esac
  done
  for spec in "${NODES[@]}"; do   # bounded wait: 30 s per node at most
    n=${spec%%:*}
    for _ in $(seq 300); do
      s=$(node_state "$n")
      case $s in running|degraded) break ;; esac
      sleep 0.1
    done
    [ "$s" = running ] || { echo "demo.sh: $n did not boot: systemd says '$s'"; podman exec "$n" systemctl --failed || true; exit 1; }
  done
  # SSH, the way users connect: the controller key scripts/setup.sh made for root, host keys made on first boot
  # (the image has none)
  local key=$KUBEHA_HOME/ssh/id_ed25519
  for spec in "${NODES[@]}"; do
    podman exec -i "${spec%%:*}" sh -c 'umask 077; mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys &&
      ssh-keygen -A >/dev/null && systemctl enable --now ssh.service >/dev/null 2>&1' < "$key.pub" ||
      { echo "demo.sh: could not start sshd on ${spec%%:*}"; exit 1; }
  done
}

up() {
  nodes
  ANSIBLE_PIPELINING=true ansible-playbook -i "$INVENTORY" playbooks/site.yml
  status
}

status() {
  local spec n ip
  printf '\n%-16s %-14s %s\n' NODE ADDRESS SYSTEMD
  for spec in "${NODES[@]}"; do
    n=${spec%%:*}; ip=${spec#*:}
    printf '%-16s %-14s %s\n' "$n" "$ip" "$(node_state "$n")"
  done
  [ "$(podman inspect --format '{{.State.Status}}' kubeha-demo-m1 2>/dev/null)" = running ] || return 0
  # shellcheck disable=SC1091
  source .cache/env.sh
  local table; table=$(mktemp)
  ANSIBLE_PIPELINING=true ansible-playbook -i "$INVENTORY" playbooks/status.yml -e "status_file=$table" >/dev/null ||
    echo "demo.sh: the status playbook failed; run: ansible-playbook -i $INVENTORY playbooks/status.yml"
  echo; cat "$table"; rm -f "$table"
}

smoke() {
  [ "$(podman inspect --format '{{.State.Status}}' kubeha-demo-m1 2>/dev/null)" = running ] ||
    { echo "demo.sh: the demo is not running; start it with: scripts/demo.sh up" >&2; exit 1; }
  # shellcheck disable=SC1091
  source .cache/env.sh
  ANSIBLE_PIPELINING=true ansible-playbook -i "$INVENTORY" playbooks/smoke.yml
}

down() {
  local spec
  for spec in "${NODES[@]}"; do podman rm -f -v -t 0 "${spec%%:*}" >/dev/null 2>&1 || true; done
  rm -rf inventories/demo/secrets
  echo "demo nodes (with their containerd volumes) and their secrets (inventories/demo/secrets) removed; the built release stays"
}

case $cmd in
  up) up ;;
  nodes) nodes ;;
  status) status ;;
  smoke) smoke ;;
  down) down ;;
  *) echo "usage: scripts/demo.sh [up|nodes|status|smoke|down]" >&2; exit 2 ;;
esac
