#!/bin/sh
# kubeha.cluster.secrets: run by the role as sh -c with this text (tasks/main.yml); not installed on hosts.
# Installs a host's bundle (base64 tar on stdin) in one remote command: GNU tar --diff compares
# content, mode, owner and mtime of every file with the bundle (exit 0: same, 1: differs), and only
# then is it unpacked at /. Prints what differs (names and attributes, never contents) and a last
# line: unchanged, would install (check mode) or installed. The temporary copy is 0600 and removed.
# $1: check or install; $2: owner:group the etcd files need, checked first (tar would silently fall
# back to root for an unknown name, and etcd could then not read its keys); $3: "create" makes a
# missing owner/group a system user/group (useradd/groupadd) instead of failing; then the keys and
# secret files this host must not keep (kube_secrets' stale), removed when present ("removed PATH").
set -u
# the parents tar makes for the bundle's directories (/etc/etcd above /etc/etcd/pki) get 0755 whatever the session's
# umask: under a hardened one (027, 077) /etc/etcd was 0750 or 0700 root, and etcd could not reach its keys
umask 022
for who in ${2:-}; do
  u=${who%:*} g=${who#*:}
  getent passwd "$u" >/dev/null && getent group "$g" >/dev/null && continue
  if [ "${3:-}" != create ]; then
    echo "owner ${who} of /etc/etcd/pki does not exist on this host: create it first (installing etcd does)," \
      "set secrets_etcd_file_owner_create: true, or set secrets_etcd_file_owner/group to root" >&2
    exit 3
  fi
  if [ "$1" = check ]; then echo "would create system user $u:$g"; continue; fi
  getent group "$g" >/dev/null || groupadd --system "$g" || exit 3
  getent passwd "$u" >/dev/null || useradd --system --gid "$g" --home-dir "/var/lib/$u" --no-create-home --shell /usr/sbin/nologin "$u" || exit 3
  echo "created system user $u:$g"
done
tmp=$(mktemp) || exit 3
trap 'rm -f "$tmp"' EXIT
base64 -d > "$tmp" || { echo "the bundle on stdin is not base64" >&2; exit 3; }
out=$(LC_ALL=C tar --diff -C / -f "$tmp" 2>&1)
rc=$? mode=$1
shift 3
case $rc in
  0) result=unchanged ;;
  1) printf '%s\n' "$out"
     if [ "$mode" = check ]; then result="would install"; else tar -x -C / -f "$tmp" || exit 3; result=installed; fi ;;
  *) printf 'tar --diff failed: %s\n' "$out" >&2; exit 3 ;;
esac
for f in "$@"; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ "$mode" = check ]; then echo "would remove $f"; else rm -f -- "$f" || exit 3; echo "removed $f"; fi
done
echo "$result"
