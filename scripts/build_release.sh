#!/usr/bin/env bash
# scripts/build_release.sh - the real Kubernetes and etcd programs, built from their Go modules into
# the layouts the roles read (nothing is downloaded but Go modules from the module proxy).
#
#   scripts/build_release.sh [kubernetes VERSION] [etcd VERSION] [images COREDNS_VERSION]
#                            [control-plane KUBERNETES_VERSION ETCD_VERSION]
#
#   kubernetes  kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and
#               kubectl from k8s.io/kubernetes@vVERSION, in the release layout that
#               kube_binaries_source: local reads:
#                 $KUBEHA_HOME/release/kubernetes/vVERSION/bin/linux/<arch>/<name>{,.sha256}
#   etcd        etcd, etcdctl and etcdutl from go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3@vVERSION,
#               as etcd's own release tarball and, unpacked beside it, its directory (what
#               etcd_artifact_dir reads, as on an air-gapped site that unpacked the download):
#                 $KUBEHA_HOME/release/etcd/etcd-vVERSION-linux-<arch>.tar.gz{,.sha256}
#                 $KUBEHA_HOME/release/etcd/etcd-vVERSION-linux-<arch>/{etcd,etcdctl,etcdutl}
#   images      the OCI image archives of kube_images_source: local (scripts/oci_image.py), no registry:
#                 kubeha.local/pause:1.0    kubeha-pause (scripts/images/pause), containerd's sandbox image
#                 kubeha.local/web:1.0      kubeha-web (scripts/images/web) and Debian's busybox-static: the
#                                           smoke test's HTTP server, with a shell
#                 kubeha.local/coredns:VER  CoreDNS from github.com/coredns/coredns@vVERSION with the plugins
#                                           a cluster's Corefile uses (scripts/images/coredns)
#               into $KUBEHA_HOME/release/images/<name>_<tag>.oci.tar
#   control-plane the images of static-pod mode, from the binaries built above, into
#               $KUBEHA_HOME/release/images/control-plane/<name>_<tag>.oci.tar (kubeha.local/<name>:<tag>):
#                 kube-apiserver, kube-controller-manager, kube-scheduler  vKUBERNETES_VERSION, the binary alone
#                 etcd:vETCD_VERSION   etcd, etcdctl and etcdutl
#                 kube-proxy           on a Debian bookworm base (iptables, nftables, conntrack: what it runs)
#                 podmaster:1.0        the Debian base alone: python3, podmaster's runtime (its code comes from
#                                      the host, with the collection)
#
# Built as the projects build their releases: CGO_ENABLED=0, -trimpath, -s -w, versions stamped
# through -ldflags -X (so --version and /version report the release), a fixed build date. Go's
# module and build caches live under $KUBEHA_HOME/go, so a later run on the same machine reuses
# them; an output whose stamp (release, Go version, flags, the function that builds it) matches is not built again.
# The go.sum of each build module is kept in scripts/build/ and checked in: it pins every module's
# hash (the checksum database cannot be reached here, so it is what verifies the downloads).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBEHA_HOME=${KUBEHA_HOME:-/var/tmp/kubeha}
OUT=${KUBEHA_RELEASE_DIR:-$KUBEHA_HOME/release}
BUILD=$KUBEHA_HOME/build
SUMS=$REPO/scripts/build
# Go: caches under KUBEHA_HOME; the machine's toolchain (the pinned releases need Go <= 1.26)
export GOMODCACHE=$KUBEHA_HOME/go/mod GOCACHE=$KUBEHA_HOME/go/cache
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=-mod=mod CGO_ENABLED=0 GOSUMDB=off GOWORK=off
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BUILD_DATE=2026-01-01T00:00:00Z   # fixed: the same inputs give the same bytes
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

T0=$EPOCHREALTIME
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - ${1:-$T0} }"; }
step() { printf '== [+%ss] %s\n' "$(elapsed)" "$*"; }
die() { echo "build_release.sh: $*" >&2; exit 1; }

command -v go >/dev/null || die "no 'go' on PATH: install Go 1.26 (the releases are built from their Go modules)"
GOARCH=$(go env GOARCH)
GOVERSION=$(go env GOVERSION)

# what an output is built from: its release, Go, the build settings and the text of the function that builds it
# (so that a change to another part of this script rebuilds nothing else)
stamp_of() {   # what function
  printf '%s|%s|%s|%s|CGO_ENABLED=%s|%s\n' "$1" "$GOVERSION" "$GOARCH" "$BUILD_DATE" "$CGO_ENABLED" \
    "$(declare -f "$2" begin_module keep_sum | sha256sum | cut -c1-16)"
}

# go.mod of a build module, and its go.sum from the checkout when there is one
begin_module() {   # dir name
  local dir=$1 name=$2
  rm -rf "$dir"; mkdir -p "$dir"
  if [ -f "$SUMS/$name.sum" ]; then cp "$SUMS/$name.sum" "$dir/go.sum"; fi
}
keep_sum() {   # dir name: a new go.sum goes into the checkout, to be reviewed and committed
  local dir=$1 name=$2
  if ! cmp -s "$dir/go.sum" "$SUMS/$name.sum" 2>/dev/null; then
    mkdir -p "$SUMS"; cp "$dir/go.sum" "$SUMS/$name.sum"
    step "scripts/build/$name.sum written: commit it (it pins every module hash of this build)"
  fi
}

build_kubernetes() {
  local ver=${1#v} dest stamp mod dir minor
  [[ $ver =~ ^1\.([0-9]+)\.[0-9]+$ ]] || die "kubernetes version '$ver' is not X.Y.Z (for example 1.35.4)"
  minor=${BASH_REMATCH[1]}
  dest=$OUT/kubernetes/v$ver/bin/linux/$GOARCH
  stamp=$(stamp_of "kubernetes v$ver" build_kubernetes)
  if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
    step "kubernetes v$ver: built before ($dest)"; return 0
  fi
  step "kubernetes v$ver: build module (k8s.io/kubernetes and its staging modules at v0.$minor.${ver##*.})"
  dir=$BUILD/kubernetes-v$ver
  begin_module "$dir" "kubernetes-v$ver"
  mod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [ -f "$mod" ] || die "the module proxy did not serve k8s.io/kubernetes@v$ver (go mod download found no go.mod)"
  {
    printf 'module kubeha.invalid/build/kubernetes\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' \
      "$(sed -n 's/^go //p' "$mod")" "$ver"
    # the staging modules: k8s.io/kubernetes points them into its own tree, which only applies
    # when it is the main module; here each is the published module of the same release
    sed -n 's#^\t\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/[a-z0-9-]*$#\t\1 => \1 v0.'"$minor.${ver##*.}"'#p' "$mod"
    printf ')\n'
  } > "$dir/go.mod"
  grep -q 'k8s.io/api => ' "$dir/go.mod" || die "no staging replace lines found in $mod: the layout of k8s.io/kubernetes' go.mod changed"
  local ldflags="-s -w -buildid=" pkg v
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for v in "gitVersion=v$ver" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" "buildDate=$BUILD_DATE"; do
      ldflags+=" -X $pkg.$v"
    done
  done
  mkdir -p "$dest"; rm -f "$dest/.stamp"
  local c t
  for c in "${KUBE_CMDS[@]}"; do
    t=$EPOCHREALTIME
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$dest/$c.new" "k8s.io/kubernetes/cmd/$c") ||
      die "go build of $c (kubernetes v$ver) failed; the output above says why"
    mv "$dest/$c.new" "$dest/$c"
    (cd "$dest" && sha256sum "$c" | cut -d' ' -f1 > "$c.sha256")
    step "kubernetes v$ver: $c built in $(elapsed "$t") s ($(du -m "$dest/$c" | cut -f1) MB)"
  done
  keep_sum "$dir" "kubernetes-v$ver"
  local said; said=$("$dest/kubectl" version --client 2>&1 || true)
  [[ $said == *"Client Version: v$ver"* ]] || die "kubectl does not report v$ver (it says: $said): the version stamp did not take"
  echo "$stamp" > "$dest/.stamp"
}

build_etcd() {
  local ver=${1#v} stamp dir tarball stage name
  [[ $ver =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "etcd version '$ver' is not X.Y.Z (for example 3.6.16)"
  name=etcd-v$ver-linux-$GOARCH
  tarball=$OUT/etcd/$name.tar.gz
  stamp=$(stamp_of "etcd v$ver" build_etcd)
  if [ "$(cat "$tarball.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$tarball" ] && [ -x "$OUT/etcd/$name/etcd" ]; then
    step "etcd v$ver: built before ($tarball)"; return 0
  fi
  dir=$BUILD/etcd-v$ver
  begin_module "$dir" "etcd-v$ver"
  # etcd's own main module (go.etcd.io/etcd/v3) is not served for every release; its main is one
  # call of the server's etcdmain, so this module has the same few lines
  mkdir -p "$dir/cmd/etcd"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > "$dir/cmd/etcd/main.go"
  printf 'module kubeha.invalid/build/etcd\n\ngo 1.24\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v%s\n\tgo.etcd.io/etcd/etcdctl/v3 v%s\n\tgo.etcd.io/etcd/etcdutl/v3 v%s\n)\n' \
    "$ver" "$ver" "$ver" > "$dir/go.mod"
  stage=$OUT/etcd/$name
  rm -rf "$stage"; mkdir -p "$stage"
  local c t ldflags="-s -w -buildid="
  for c in etcd etcdctl etcdutl; do
    t=$EPOCHREALTIME
    local pkg=./cmd/etcd
    [ "$c" = etcd ] || pkg=go.etcd.io/etcd/$c/v3
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$stage/$c" "$pkg") ||
      die "go build of $c (etcd v$ver) failed; the output above says why"
    step "etcd v$ver: $c built in $(elapsed "$t") s"
  done
  keep_sum "$dir" "etcd-v$ver"
  local said; said=$("$stage/etcd" --version 2>&1 || true)
  [[ $said == *"etcd Version: $ver"* ]] || die "the etcd built does not report $ver (it says: $said)"
  tar -C "$OUT/etcd" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$BUILD_DATE" -czf "$tarball.new" "$name"
  mv "$tarball.new" "$tarball"
  (cd "$OUT/etcd" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
  echo "$stamp" > "$tarball.stamp"
}

# the local images: two programs of ours and CoreDNS, built in one module, each packed as an OCI archive
IMAGES_VERSION=1.0
build_images() {
  local ver=${1#v} stamp dir dest src
  [[ $ver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "coredns version '$ver' is not X.Y.Z (for example 1.15.0)"
  dest=$OUT/images
  src=$(cd "$REPO/scripts/images" && cat pause/main.go web/main.go coredns/main.go "$REPO/scripts/oci_image.py" | sha256sum | cut -c1-16)
  stamp=$(stamp_of "images $IMAGES_VERSION coredns v$ver $src" build_images)
  if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
    step "images: built before ($dest)"; return 0
  fi
  [ -x /bin/busybox ] || die "no /bin/busybox: install Debian's busybox-static (scripts/setup.sh release does); the web image's shell is its busybox"
  dir=$BUILD/images-coredns-v$ver
  begin_module "$dir" "images-coredns-v$ver"
  cp -r "$REPO/scripts/images/pause" "$REPO/scripts/images/web" "$REPO/scripts/images/coredns" "$dir/"
  printf 'module kubeha.invalid/build/images\n\ngo 1.26\n\nrequire github.com/coredns/coredns v%s\n' "$ver" > "$dir/go.mod"
  mkdir -p "$dest" "$dir/bin"; rm -f "$dest/.stamp"
  local c t
  for c in pause web coredns; do
    t=$EPOCHREALTIME
    (cd "$dir" && go build -trimpath -ldflags "-s -w -buildid=" -o "$dir/bin/$c" "./$c") ||
      die "go build of $c (images) failed; the output above says why"
    step "images: $c built in $(elapsed "$t") s"
  done
  keep_sum "$dir" "images-coredns-v$ver"
  local said; said=$("$dir/bin/coredns" -version 2>&1 || true)
  [[ $said == *"CoreDNS-$ver"* ]] || die "the CoreDNS built does not report $ver (it says: $said)"
  local oci=(python3 "$REPO/scripts/oci_image.py" --arch "$GOARCH" --created "$BUILD_DATE")
  "${oci[@]}" "$dest/pause_$IMAGES_VERSION.oci.tar" --name "kubeha.local/pause:$IMAGES_VERSION" \
    --entrypoint '["/pause"]' --file "$dir/bin/pause:/pause"
  local links=() tool
  for tool in sh ls cat wget nslookup ps ip hostname sleep; do links+=(--link "/bin/$tool:busybox"); done
  "${oci[@]}" "$dest/web_$IMAGES_VERSION.oci.tar" --name "kubeha.local/web:$IMAGES_VERSION" \
    --entrypoint '["/usr/local/bin/kubeha-web"]' --cmd '["serve"]' \
    --file "$dir/bin/web:/usr/local/bin/kubeha-web" --file /bin/busybox:/bin/busybox "${links[@]}"
  "${oci[@]}" "$dest/coredns_$ver.oci.tar" --name "kubeha.local/coredns:$ver" \
    --entrypoint '["/coredns"]' --file "$dir/bin/coredns:/coredns"
  echo "$stamp" > "$dest/.stamp"
}

# the control plane's images (static-pod mode with kube_images_source: local), from the binaries built above:
# one static binary each where that is all a component needs; kube-proxy (iptables, nft, conntrack) and
# podmaster (python3) on a Debian base made by mmdebstrap, one layer they share
BASE_PKGS=python3,iptables,nftables,conntrack
build_base() {   # sets BASE_TAR, named by the packages, the mirror and this function's own text
  local recipe epoch
  recipe=$(printf '%s|%s|%s' "$BASE_PKGS" "$MIRROR" "$(declare -f build_base)" | sha256sum | cut -c1-16)
  BASE_TAR=$BUILD/debian-base-$recipe.tar
  [ -f "$BASE_TAR" ] && return 0
  command -v mmdebstrap >/dev/null || die "no mmdebstrap: install Debian's mmdebstrap (scripts/setup.sh release does); it makes the base of the kube-proxy and podmaster images"
  step "control-plane images: Debian base ($BASE_PKGS) with mmdebstrap"
  epoch=$(date -d "$BUILD_DATE" +%s); mkdir -p "$BUILD"
  # the hook's "$1" (the chroot) is expanded by mmdebstrap, not by this shell
  # shellcheck disable=SC2016
  SOURCE_DATE_EPOCH=$epoch mmdebstrap --quiet --format=tar --variant=essential --include="$BASE_PKGS" --skip=output/dev \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    bookworm "$BASE_TAR.new" "$MIRROR" || die "mmdebstrap of the images' Debian base failed; the output above says why"
  mv "$BASE_TAR.new" "$BASE_TAR"
}

build_control_plane_images() {   # kubernetes-version etcd-version
  local kver=${1#v} ever=${2#v} bin etcd dest stamp
  bin=$OUT/kubernetes/v$kver/bin/linux/$GOARCH
  etcd=$OUT/etcd/etcd-v$ever-linux-$GOARCH
  [ -f "$bin/.stamp" ] || die "control-plane images need Kubernetes v$kver built first: build_release.sh kubernetes $kver control-plane $kver $ever"
  [ -x "$etcd/etcd" ] || die "control-plane images need etcd v$ever built first: build_release.sh etcd $ever control-plane $kver $ever"
  dest=$OUT/images/control-plane
  stamp=$(stamp_of "control-plane v$kver etcd v$ever base $BASE_PKGS $(declare -f build_base | sha256sum | cut -c1-16) podmaster $IMAGES_VERSION $(sha256sum < "$REPO/scripts/oci_image.py" | cut -c1-16) $(cat "$bin/.stamp" "$etcd/../etcd-v$ever-linux-$GOARCH.tar.gz.stamp" | sha256sum | cut -c1-16)" build_control_plane_images)
  if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
    step "control-plane images: built before ($dest)"; return 0
  fi
  build_base
  mkdir -p "$dest"; rm -f "$dest/.stamp" "$dest"/*.oci.tar
  local oci=(python3 "$REPO/scripts/oci_image.py" --arch "$GOARCH" --created "$BUILD_DATE") c t
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    t=$EPOCHREALTIME
    "${oci[@]}" "$dest/${c}_v$kver.oci.tar" --name "kubeha.local/$c:v$kver" --file "$bin/$c:/usr/local/bin/$c" >/dev/null
    step "control-plane images: kubeha.local/$c:v$kver in $(elapsed "$t") s"
  done
  t=$EPOCHREALTIME
  "${oci[@]}" "$dest/kube-proxy_v$kver.oci.tar" --name "kubeha.local/kube-proxy:v$kver" --base "$BASE_TAR" \
    --file "$bin/kube-proxy:/usr/local/bin/kube-proxy" >/dev/null
  step "control-plane images: kubeha.local/kube-proxy:v$kver (Debian base) in $(elapsed "$t") s"
  "${oci[@]}" "$dest/etcd_v$ever.oci.tar" --name "kubeha.local/etcd:v$ever" \
    --file "$etcd/etcd:/usr/local/bin/etcd" --file "$etcd/etcdctl:/usr/local/bin/etcdctl" \
    --file "$etcd/etcdutl:/usr/local/bin/etcdutl" >/dev/null
  step "control-plane images: kubeha.local/etcd:v$ever"
  # podmaster's code is the collection's, mounted from the host by its manifest: the image is its runtime
  "${oci[@]}" "$dest/podmaster_$IMAGES_VERSION.oci.tar" --name "kubeha.local/podmaster:$IMAGES_VERSION" --base "$BASE_TAR" \
    --label "org.opencontainers.image.description=kubeha podmaster runtime: Debian bookworm's python3" >/dev/null
  step "control-plane images: kubeha.local/podmaster:$IMAGES_VERSION (Debian base)"
  echo "$stamp" > "$dest/.stamp"
}

[ $# -gt 0 ] || die "usage: build_release.sh [kubernetes VERSION] [etcd VERSION] [images COREDNS_VERSION] [control-plane KUBERNETES_VERSION ETCD_VERSION]"
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "'$1' needs a version"
  case $1 in
    kubernetes) build_kubernetes "$2" ;;
    etcd) build_etcd "$2" ;;
    images) build_images "$2" ;;
    control-plane)
      [ $# -ge 3 ] || die "control-plane needs a Kubernetes and an etcd version"
      build_control_plane_images "$2" "$3"; shift ;;
    *) die "unknown program '$1'; use kubernetes, etcd, images or control-plane" ;;
  esac
  shift 2
done
step "release artifacts in $OUT"
