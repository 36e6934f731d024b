#!/usr/bin/env bash
# scripts/setup.sh - everything kubeha needs on a fresh Debian 12 machine, as root. Idempotent and
# fast when nothing changed (a re-run takes a few seconds).
#
#   scripts/setup.sh [python] [hosts] [etcd] [release]    # default: all four
#
#   python  project venv ($KUBEHA_HOME/venv) from requirements.txt, the collections we use taken out
#           of PyPI's `ansible` wheel (Galaxy is not reachable), this checkout linked in as
#           kubeha.cluster, ansible-test's pip bootstrap served offline; writes .cache/env.sh
#   hosts   rootful podman configured for hosts without systemd, the node image
#           ($KUBEHA_IMAGE: Debian bookworm, systemd as PID 1, built with mmdebstrap and rebuilt only
#           when its package list changes) and the internal network ($KUBEHA_NET)
#   etcd    openssl on this machine, for the real-etcd pytest fixture (its etcd is the one built by
#           the release part)
#   release the real Kubernetes and etcd programs at the pinned releases below, built from their Go
#           modules by scripts/build_release.sh into $KUBEHA_HOME/release (cached: a warm run takes
#           seconds): what the demo and the Molecule scenarios install, as users install a download;
#           and the OCI image archives the nodes import (kube_images_source: local: pause, the smoke
#           test's web server, CoreDNS), built from Go modules and Debian's busybox-static, and the control
#           plane's images of static-pod mode (from the binaries built, kube-proxy and podmaster on a
#           Debian base made by mmdebstrap)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBEHA_HOME=${KUBEHA_HOME:-/var/tmp/kubeha}
KUBEHA_IMAGE=${KUBEHA_IMAGE:-localhost/kubeha-node:bookworm}
KUBEHA_NET=${KUBEHA_NET:-kubeha}
KUBEHA_SUBNET=${KUBEHA_SUBNET:-10.89.30.0/24}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-python3}
VENV=$KUBEHA_HOME/venv
COLLECTIONS=$KUBEHA_HOME/collections
ANSIBLE_BUNDLE=12.3.0   # PyPI `ansible`: ansible.posix 2.1.0, community.general 11.4.2, containers.podman 1.18.0
BUNDLED=(ansible/posix community/general containers/podman)

# What every node has installed (services disabled: the roles decide what runs). A change here
# rebuilds the image on the next run; so does a change of IMAGE_RECIPE.
IMAGE_PKGS=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iputils-ping,procps,curl,ca-certificates,openssl,etcd-server,etcd-client,monit,haproxy,keepalived,containerd,openssh-server,sudo,less,kmod,iptables,conntrack,socat,ethtool,containernetworking-plugins
IMAGE_RECIPE=3
# ansible-test sanity runs shellcheck on our scripts; tests/unit/roles/test_node_daemons_monit.py runs the real monit
PYTHON_PKGS=(python3-venv shellcheck monit)
HOST_PKGS=(podman runc conmon netavark aardvark-dns iptables catatonit containers-storage
           golang-github-containers-common mmdebstrap curl ca-certificates git make openssh-client)
# what the release part builds with besides Go: busybox-static is the shell of the smoke test's image,
# mmdebstrap makes the Debian base of the kube-proxy and podmaster images
RELEASE_PKGS=(busybox-static mmdebstrap ca-certificates)
ETCD_HOST_PKGS=(openssl)
# The releases the demo and the tests run (the roles' defaults are the same: tests/unit checks it).
# Kubernetes 1.35 is the newest release that supports Debian 12's containerd 1.6 and still runs on
# the cgroup v1 hosts here (with the kubelet's failCgroupV1 set to false); see README "Versions".
KUBEHA_KUBERNETES_VERSION=1.35.4
# The previous minor release, which kubeha supports too: Molecule default starts on its older patch release and
# upgrades to its newer one (a patch upgrade), then to KUBEHA_KUBERNETES_VERSION (a minor upgrade). scripts/test.sh
# builds both beside the other stages, at the lowest CPU and I/O priority (build_release.sh kubernetes VERSION).
KUBEHA_KUBERNETES_PREVIOUS_VERSION=1.34.4
KUBEHA_KUBERNETES_PATCH_FROM=1.34.3
KUBEHA_ETCD_VERSION=3.6.16
# etcd 3.5 stays supported for existing clusters (and v2 discovery); the tests run it too
KUBEHA_ETCD_PREVIOUS_VERSION=3.5.35
# CoreDNS of the local images (cluster DNS with kube_images_source: local); the dns role's default
KUBEHA_COREDNS_VERSION=1.15.0
RELEASE=${KUBEHA_RELEASE_DIR:-$KUBEHA_HOME/release}

T0=$EPOCHREALTIME
step() { printf '== [+%ss] %s\n' "$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $T0 }")" "$*"; }
die() { echo "setup.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (podman runs rootful and packages come from apt); seen uid $(id -u)"

apt_ensure() {   # install missing Debian packages, never touching the index when all are there
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # no service may start from a package's postinst (this host has no systemd; a stray etcd on
  # :2379 would also shadow the tests' own)
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' RETURN
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
  local req_hash
  req_hash=$(sha256sum < "$REPO/requirements.txt" | cut -c1-16)
  if [ "$(cat "$VENV/.kubeha-req" 2>/dev/null)" != "$req_hash" ]; then
    step "python: venv $VENV from requirements.txt"
    [ -x "$VENV/bin/pip" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements.txt" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$req_hash" > "$VENV/.kubeha-req"
  fi
  local need=0 c
  for c in "${BUNDLED[@]}"; do [ -f "$COLLECTIONS/ansible_collections/$c/MANIFEST.json" ] || need=1; done
  [ "$(cat "$COLLECTIONS/.bundle" 2>/dev/null)" = "$ANSIBLE_BUNDLE" ] || need=1
  if [ $need = 1 ]; then
    step "python: collections ${BUNDLED[*]} from ansible==$ANSIBLE_BUNDLE"
    local wdir; wdir=$(mktemp -d)
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$wdir" "ansible==$ANSIBLE_BUNDLE"
    rm -rf "$COLLECTIONS"; mkdir -p "$COLLECTIONS"
    "$VENV/bin/python" - "$wdir"/ansible-*.whl "$COLLECTIONS" "${BUNDLED[@]}" <<'PY'
import sys, zipfile
wheel, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
z = zipfile.ZipFile(wheel)
prefixes = tuple("ansible_collections/%s/" % c for c in wanted)
z.extractall(dest, [n for n in z.namelist() if n.startswith(prefixes)])
PY
    echo "$ANSIBLE_BUNDLE" > "$COLLECTIONS/.bundle"
    rm -rf "$wdir"
  fi
  # this checkout as kubeha.cluster (relative link: every clone gets its own)
  mkdir -p "$REPO/.cache/collections/ansible_collections/kubeha"
  ln -sfn ../../../.. "$REPO/.cache/collections/ansible_collections/kubeha/cluster"
  # ansible-test bootstraps pip in its venvs by downloading get-pip from a host this machine cannot
  # reach; it takes a cached copy instead. Ours installs pip from ensurepip.
  mkdir -p ~/.ansible/test/cache
  cp "$REPO/scripts/ansible-test-get-pip.py" ~/.ansible/test/cache/get_pip_24_2.py
  cat > "$REPO/.cache/env.sh" <<ENV
# written by scripts/setup.sh: source it to use the project's tools by hand
export KUBEHA_HOME="$KUBEHA_HOME" KUBEHA_IMAGE="$KUBEHA_IMAGE" KUBEHA_NET="$KUBEHA_NET"
export PATH="$VENV/bin:\$PATH"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.cache/collections:$COLLECTIONS"
export MOLECULE_COLLECTIONS_PATH="\$ANSIBLE_COLLECTIONS_PATH"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export KUBEHA_ARCH="$(dpkg --print-architecture)"
export KUBEHA_RELEASE_DIR="$RELEASE" KUBEHA_KUBERNETES_VERSION="$KUBEHA_KUBERNETES_VERSION"
export KUBEHA_KUBERNETES_PREVIOUS_VERSION="$KUBEHA_KUBERNETES_PREVIOUS_VERSION" KUBEHA_KUBERNETES_PATCH_FROM="$KUBEHA_KUBERNETES_PATCH_FROM"
export KUBEHA_ETCD_VERSION="$KUBEHA_ETCD_VERSION" KUBEHA_ETCD_PREVIOUS_VERSION="$KUBEHA_ETCD_PREVIOUS_VERSION"
export KUBEHA_COREDNS_VERSION="$KUBEHA_COREDNS_VERSION"
export ETCD_BIN="\${ETCD_BIN:-$RELEASE/etcd/etcd-v$KUBEHA_ETCD_VERSION-linux-$(go env GOARCH 2>/dev/null || echo amd64)/etcd}"
export ETCD35_BIN="\${ETCD35_BIN:-$RELEASE/etcd/etcd-v$KUBEHA_ETCD_PREVIOUS_VERSION-linux-$(go env GOARCH 2>/dev/null || echo amd64)/etcd}"
ENV
}

setup_hosts() {
  # the controller's SSH key for root on the test nodes: Molecule's connection (scripts/molecule-ssh-proxy) and
  # the demo's inventories/demo/ssh.yml
  if [ ! -f "$KUBEHA_HOME/ssh/id_ed25519" ]; then
    step "ssh: the controller's key $KUBEHA_HOME/ssh/id_ed25519"
    mkdir -p "$KUBEHA_HOME/ssh" && chmod 0700 "$KUBEHA_HOME/ssh"
    ssh-keygen -q -t ed25519 -N '' -C kubeha -f "$KUBEHA_HOME/ssh/id_ed25519"
  fi
  # Podman on these machines: no CAP_SYS_RESOURCE and a low hard nofile limit (podman's default
  # ulimits fail with "setrlimit RLIMIT_NOFILE: Operation not permitted"), hybrid cgroups that
  # crun refuses (runc works), no systemd on the host (cgroupfs manager, file event logger).
  local hn hu conf
  hn=$(ulimit -Hn); hu=$(ulimit -Hu)
  if [ "$hu" = unlimited ] || [ "$hu" -gt 32768 ]; then hu=32768; fi
  conf=$(cat <<CONF
# written by kubeha scripts/setup.sh
[containers]
default_ulimits = ["nofile=${hn}:${hn}", "nproc=${hu}:${hu}"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
CONF
)
  mkdir -p /etc/containers
  if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
    step "podman: /etc/containers/containers.conf"
    printf '%s\n' "$conf" > /etc/containers/containers.conf
  fi
  rm -f /etc/cni/net.d/87-podman-bridge.conflist
  # Every node's kubelet, containerd and shims take inotify instances of the host's root user (128 by default): two
  # scenarios side by side ran out ("inotify_init: too many open files", a kubelet that never started). kind's
  # known issues raise the same two limits to these values.
  local sysctl
  for sysctl in fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288; do
    if [ "$(sysctl -n "${sysctl%%=*}" 2>/dev/null || echo 0)" -lt "${sysctl#*=}" ]; then
      step "sysctl: $sysctl"
      sysctl -q -w "$sysctl" || echo "setup.sh: cannot set $sysctl; scenarios side by side may run out of inotify instances" >&2
    fi
  done

  local want have
  want=$(printf '%s|%s|%s|%s' "$IMAGE_PKGS" "$IMAGE_RECIPE" "$MIRROR" "$(sha256sum < "$REPO/scripts/node-image/kubeha-init")" | sha256sum | cut -c1-16)
  have=$(podman image inspect --format '{{ index .Labels "kubeha.recipe" }}' "$KUBEHA_IMAGE" 2>/dev/null || true)
  if [ "$want" != "$have" ] || [ "${REBUILD_IMAGE:-0}" = 1 ]; then
    step "image: building $KUBEHA_IMAGE (recipe $want; was '${have:-none}') with mmdebstrap"
    mkdir -p "$KUBEHA_HOME"
    local tarball; tarball=$(mktemp -p "$KUBEHA_HOME" rootfs.XXXX.tar)
    # Services ship disabled so that roles decide what runs. Debian's etcd-server would otherwise
    # start a single-node etcd whose data dir makes a later --discovery be silently ignored.
    # the hooks' "$1" (the chroot) is expanded by mmdebstrap, not by this shell
    # shellcheck disable=SC2016
    mmdebstrap --quiet --variant=minbase --include="$IMAGE_PKGS" \
      --aptopt='Acquire::Languages "none"' \
      --customize-hook='chroot "$1" systemctl disable -q etcd.service haproxy.service monit.service keepalived.service containerd.service ssh.service e2scrub_reap.service || true' \
      --customize-hook='chroot "$1" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer getty@tty1.service || true' \
      --customize-hook='rm -rf "$1"/var/lib/etcd/default "$1"/etc/ssh/ssh_host_*' \
      --customize-hook='rm -f "$1/etc/hostname" "$1/var/lib/dbus/machine-id"; : > "$1/etc/machine-id"' \
      --customize-hook="upload $REPO/scripts/node-image/kubeha-init /usr/local/sbin/kubeha-init" \
      --customize-hook='chmod 0755 "$1/usr/local/sbin/kubeha-init"' \
      bookworm "$tarball" "$MIRROR"
    podman import -q \
      --change 'CMD ["/usr/local/sbin/kubeha-init"]' \
      --change 'ENV container=podman' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL kubeha.recipe=$want" \
      "$tarball" "$KUBEHA_IMAGE" >/dev/null
    rm -f "$tarball"
    podman image prune -f >/dev/null 2>&1 || true
  fi
  # --internal: nodes reach each other and the host's bridge address, nothing else
  podman network exists "$KUBEHA_NET" || {
    step "network: $KUBEHA_NET $KUBEHA_SUBNET (internal)"
    podman network create --internal --subnet "$KUBEHA_SUBNET" "$KUBEHA_NET" >/dev/null
  }
}

setup_release() {
  KUBEHA_HOME=$KUBEHA_HOME KUBEHA_RELEASE_DIR=$RELEASE MIRROR=$MIRROR bash "$REPO/scripts/build_release.sh" \
    kubernetes "$KUBEHA_KUBERNETES_VERSION" etcd "$KUBEHA_ETCD_VERSION" etcd "$KUBEHA_ETCD_PREVIOUS_VERSION" \
    images "$KUBEHA_COREDNS_VERSION" control-plane "$KUBEHA_KUBERNETES_VERSION" "$KUBEHA_ETCD_VERSION"
}

parts=("$@"); [ ${#parts[@]} -gt 0 ] || parts=(python hosts etcd release)
pkgs=()
for p in "${parts[@]}"; do
  case $p in
    python) pkgs+=("${PYTHON_PKGS[@]}") ;;
    hosts) pkgs+=("${HOST_PKGS[@]}") ;;
    etcd) pkgs+=("${ETCD_HOST_PKGS[@]}") ;;
    release) pkgs+=("${RELEASE_PKGS[@]}") ;;
    *) die "unknown part '$p'; use python, hosts, etcd and/or release" ;;
  esac
done
# every part's Debian packages in one apt run, first (the parts below install none of their own)
apt_ensure "${pkgs[@]}"
# The release (Go builds: CPU) runs beside the other parts (pip, apt, mmdebstrap: mostly network and disk), which
# shortens a cold set-up by about their time; its lines start with [release].
release_pid=
trap '[ -z "$release_pid" ] || kill "$release_pid" 2>/dev/null || true' EXIT
for p in "${parts[@]}"; do
  if [ "$p" = release ]; then
    ( setup_release ) > >(sed -u 's/^/[release] /') 2>&1 &
    release_pid=$!
  fi
done
for p in "${parts[@]}"; do
  case $p in
    python) setup_python ;;
    hosts) setup_hosts ;;
    etcd) ;;   # its packages only (openssl), installed above
  esac
done
if [ -n "$release_pid" ]; then
  wait "$release_pid" || { release_pid=; die "the release build failed: its lines above, starting with [release], say why"; }
  release_pid=
fi
step "setup done (${parts[*]}); source .cache/env.sh to use the tools by hand"
