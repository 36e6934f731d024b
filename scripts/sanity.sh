#!/usr/bin/env bash
# scripts/sanity.sh [ansible-test sanity args...] - ansible-test sanity on this checkout.
# ansible-test needs the collection at .../ansible_collections/kubeha/cluster as a real directory,
# so the checkout's files (tracked, plus new files not ignored by git) are copied there first.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBEHA_HOME=${KUBEHA_HOME:-/var/tmp/kubeha}
# one tree per checkout, so a developer's run and CI's never share one
top=$KUBEHA_HOME/sanity/$(printf '%s' "$REPO" | sha256sum | cut -c1-12)
dest=$top/ansible_collections/kubeha/cluster
rm -rf "$dest"; mkdir -p "$dest"
cd "$REPO"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -C "$dest" -xf -
cd "$dest"
# ansible-test decides from git which files belong to the collection
git init -q && git add -A
exec ansible-test sanity --python 3.11 --color no "$@"
