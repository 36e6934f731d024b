#!/usr/bin/env bash
# scripts/sanity.sh [ansible-test sanity args...] - ansible-test sanity on this checkout.
# ansible-test needs the collection at .../ansible_collections/kubeha/cluster as a real directory,
# so the checkout's files (tracked, plus new files not ignored by git) are copied there first.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBEHA_HOME=${KUBEHA_HOME:-/var/tmp/kubeha}
# one tree per run, so runs side by side never wipe each other's files
mkdir -p "$KUBEHA_HOME/sanity"
top=$(mktemp -d "$KUBEHA_HOME/sanity/run.XXXXXX")
trap 'rm -rf "$top"' EXIT
dest=$top/ansible_collections/kubeha/cluster
mkdir -p "$dest"
cd "$REPO"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -C "$dest" -xf -
cd "$dest"
# ansible-test decides from git which files belong to the collection
git init -q && git add -A
ansible-test sanity --python 3.11 --color no "$@"
