#!/usr/bin/env bash
# active.sh CONTAINER... - print one JSON object: for each elected component, the running containers
# that run its process (`podman exec` into each; a stopped container counts as running nothing). The
# process, not a systemd unit: in static-pod mode the kubelet runs it.
set -uo pipefail
printf '{'
sep=''
for name in kube-scheduler kube-controller-manager; do
  printf '%s"%s": [' "$sep" "$name"
  s2=''
  for c in "$@"; do
    if [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] &&
       podman exec "$c" pgrep -f "^(\\S*/)?$name( |\$)" >/dev/null 2>&1; then
      printf '%s"%s"' "$s2" "$c"; s2=','
    fi
  done
  printf ']'
  sep=', '
done
printf '}\n'
