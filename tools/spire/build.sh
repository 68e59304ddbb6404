#!/usr/bin/env bash
# Builds SPIRE's spire-server and spire-agent (github.com/spiffe/spire, the release go.mod pins as
# `tool` directives) from the Go module proxy into .tools/bin. Cached: a binary is rebuilt only when
# it is missing, reports another version, or go.mod/go.sum changed; Go is needed only then. The lab
# uses binaries the user already has instead (see lab/spire/binaries.ts).
#
#   tools/spire/build.sh                   build what is missing or stale
#   tools/spire/build.sh spire-agent       only this one
#   TFMESH_TOOLS_BIN=dir build.sh          install somewhere else (default: <repo>/.tools/bin)
# Exit status 2: a build is needed but no usable Go is installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TFMESH_TOOLS_BIN:-$root/.tools/bin}
log_dir=$(dirname "$bin")
cd "$here"

# The pinned release is whatever go.mod requires: one place to change it.
spire_version=$(awk '$1 == "github.com/spiffe/spire" { print $2 }' go.mod)
required_go=$(awk '$1 == "go" { print $2 }' go.mod)
[[ -n $spire_version ]] || { printf '[spire-tools] ERROR: go.mod requires no github.com/spiffe/spire\n' >&2; exit 1; }
# What the binaries report: the release's number, as SPIRE's own release build sets it (without the
# tag the version package says "<base>-dev-unk").
reported_version=${spire_version#v}
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$bin"

say() { printf '[spire-tools] %s\n' "$*"; }
source "$here/../lib/gobuild.sh"

require_go() {
  go_at_least "$required_go" && return 0
  say "ERROR: building SPIRE $spire_version needs Go >= $required_go (found: $found_go)."
  say "Install Go $required_go or newer (https://go.dev/doc/install), or install spire-server and"
  say "spire-agent ${reported_version%.*}.x yourself and put them on PATH (or name them with"
  say "TFMESH_SPIRE_SERVER / TFMESH_SPIRE_AGENT)."
  exit 2
}


sources_hash() {
  cat go.mod go.sum | sha256sum | cut -c1-16
}

package_of() {
  case $1 in
    spire-server | spire-agent) printf 'github.com/spiffe/spire/cmd/%s\n' "$1" ;;
    *) say "ERROR: unknown binary '$1' (known: spire-server spire-agent)"; exit 1 ;;
  esac
}

names=("$@")
# The server first: it compiles most of what the agent shares.
((${#names[@]})) || names=(spire-server spire-agent)
for name in "${names[@]}"; do package_of "$name" >/dev/null; done
hash=$(sources_hash)

up_to_date() {
  local name=$1 reported
  [[ -x $bin/$name && -f $bin/.$name.stamp && $(cat "$bin/.$name.stamp") == "$spire_version $hash" ]] || return 1
  reported=$("$bin/$name" --version 2>&1) || return 1
  [[ $reported == "$reported_version" ]]
}

stale=()
for name in "${names[@]}"; do
  if up_to_date "$name"; then say "$name is up to date"; else stale+=("$name"); fi
done
((${#stale[@]})) || exit 0

# Two labs (or tests) starting at once build once: the second waits here, then finds them built.
exec 9>"$bin/.spire-build.lock"
flock 9
require_go
say "the first build downloads ~500 MB of modules and compiles for ~10 minutes on 2 cores"
for name in "${stale[@]}"; do
  if up_to_date "$name"; then say "$name was built meanwhile"; continue; fi
  go_build "$bin/$name" "$(package_of "$name")" "$name $spire_version" "-s -w -X github.com/spiffe/spire/pkg/common/version.gittag=$reported_version"
  printf '%s\n' "$spire_version $hash" >"$bin/.$name.stamp"
done
