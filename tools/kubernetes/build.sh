#!/usr/bin/env bash
# Builds the pinned Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl from k8s.io/kubernetes) and the etcd its client is built against
# (go.etcd.io/etcd/server/v3), from the Go module proxy, into .tools/bin. Cached: a binary is
# rebuilt only when it is missing, reports another version, or go.mod/go.sum changed; Go is needed
# only then. The lab uses binaries the user already has instead (see lab/kube/binaries.ts).
#
#   tools/kubernetes/build.sh                  build what is missing or stale
#   tools/kubernetes/build.sh etcd kubectl     only these
#   TFMESH_TOOLS_BIN=dir build.sh              install somewhere else (default: <repo>/.tools/bin)
# Exit status 2: a build is needed but no usable Go is installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TFMESH_TOOLS_BIN:-$root/.tools/bin}
log_dir=$(dirname "$bin")
cd "$here"

# The pinned releases are whatever go.mod requires: one place to change them.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' go.mod)
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' go.mod)
required_go=$(awk '$1 == "go" { print $2 }' go.mod)
k8s_minor=${k8s_version#v*.}
k8s_minor=${k8s_minor%%.*}
k8s_major=${k8s_version#v}
k8s_major=${k8s_major%%.*}
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$bin"

say() { printf '[kubernetes-tools] %s\n' "$*"; }
source "$here/../lib/gobuild.sh"

k8s_ldflags() {
  local flags="-s -w" pkg info build_date
  # The release's own date (from the proxy's .info) keeps rebuilds byte-identical.
  info=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"Info": "\(.*\)".*/\1/p')
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  # Components check each other's versions, and client-go keeps its own copy of the variables.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date -X $pkg.gitCommit=$k8s_version"
  done
  printf '%s' "$flags"
}

require_go() {
  go_at_least "$required_go" && return 0
  say "ERROR: building Kubernetes $k8s_version needs Go >= $required_go (found: $found_go)."
  say "Install Go $required_go or newer (https://go.dev/doc/install), or install kube-apiserver,"
  say "kube-controller-manager, kube-scheduler, kubectl $k8s_version and etcd ${etcd_version#v} yourself"
  say "(e.g. KUBEBUILDER_ASSETS from setup-envtest) and put them on PATH."
  exit 2
}


sources_hash() {
  cat go.mod go.sum | sha256sum | cut -c1-16
}

# name -> package, the version the binary must report, the command that prints it, its ldflags kind
target() {
  case $1 in
    etcd) printf '%s\n' go.etcd.io/etcd/server/v3 "${etcd_version#v}" "--version" etcd ;;
    kubectl) printf '%s\n' k8s.io/kubernetes/cmd/kubectl "$k8s_version" "version --client" k8s ;;
    kube-apiserver | kube-controller-manager | kube-scheduler)
      printf '%s\n' "k8s.io/kubernetes/cmd/$1" "$k8s_version" "--version" k8s ;;
    *) say "ERROR: unknown binary '$1' (known: etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)"; exit 1 ;;
  esac
}

names=("$@")
# The API server first: it compiles most of what the others share.
((${#names[@]})) || names=(kube-apiserver etcd kube-controller-manager kube-scheduler kubectl)
hash=$(sources_hash)

up_to_date() {
  local name=$1 t version_cmd reported
  mapfile -t t < <(target "$name")
  version_cmd=${t[2]}
  [[ -x $bin/$name && -f $bin/.$name.stamp && $(cat "$bin/.$name.stamp") == "${t[1]} $hash" ]] || return 1
  # shellcheck disable=SC2086 # version_cmd is our own fixed words
  reported=$("$bin/$name" $version_cmd 2>/dev/null) || return 1
  [[ $reported == *"${t[1]}"* ]]
}

stale=()
for name in "${names[@]}"; do
  if up_to_date "$name"; then say "$name is up to date"; else stale+=("$name"); fi
done
((${#stale[@]})) || exit 0

# Two labs (or tests) starting at once build once: the second waits here, then finds them built.
exec 9>"$bin/.kubernetes-build.lock"
flock 9
require_go
say "the first build downloads ~1 GB of modules and compiles for 15-25 minutes on 2 cores"
for name in "${stale[@]}"; do
  if up_to_date "$name"; then say "$name was built meanwhile"; continue; fi
  mapfile -t t < <(target "$name")
  ldflags="-s -w"
  [[ ${t[3]} == k8s ]] && ldflags=$(k8s_ldflags)
  go_build "$bin/$name" "${t[0]}" "$name ${t[1]}" "$ldflags"
  printf '%s\n' "${t[1]} $hash" >"$bin/.$name.stamp"
done
