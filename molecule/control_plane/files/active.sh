#!/usr/bin/env bash
# active.sh CONTAINER... - print one JSON object: for each elected component, the running containers
# whose systemd reports it active (`podman exec` into each; a stopped container counts as running nothing).
set -uo pipefail
printf '{'
sep=''
for unit in kube-scheduler kube-controller-manager; do
  printf '%s"%s": [' "$sep" "$unit"
  s2=''
  for c in "$@"; do
    if [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] &&
       podman exec "$c" systemctl is-active --quiet "$unit" 2>/dev/null; then
      printf '%s"%s"' "$s2" "$c"; s2=','
    fi
  done
  printf ']'
  sep=', '
done
printf '}\n'
