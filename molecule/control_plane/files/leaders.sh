#!/usr/bin/env bash
# leaders.sh CONTAINER... - print one JSON object: for each elected component, the running containers
# whose copy of it says it leads (its own leader_election_master_status metric is 1), read from the
# component's secure port with the admin certificate the secrets role put on every master (the
# components serve a self-signed certificate of their own, hence --insecure: only the metric is read).
set -uo pipefail
printf '{'
sep=''
for spec in kube-scheduler:10259 kube-controller-manager:10257; do
  name=${spec%%:*} port=${spec#*:}
  printf '%s"%s": [' "$sep" "$name"
  s2=''
  for c in "$@"; do
    metrics=''
    if [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ]; then
      metrics=$(podman exec "$c" curl -sf --max-time 2 --cert /srv/kubernetes/kubecfg.crt \
        --key /srv/kubernetes/kubecfg.key --insecure "https://127.0.0.1:$port/metrics" 2>/dev/null)
    fi
    if grep -q "^leader_election_master_status{name=\"$name\"} 1" <<< "$metrics"; then
      printf '%s"%s"' "$s2" "$c"; s2=','
    fi
  done
  printf ']'
  sep=', '
done
printf '}\n'
