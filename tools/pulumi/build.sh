#!/usr/bin/env bash
# Builds the pinned Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, from the Go module
# proxy) and this project's Node.js language host into .tools/bin, next to the dynamic-provider
# launcher. Cached: a binary is rebuilt only when its version or sources change, and Go is needed
# only then.
#
#   tools/pulumi/build.sh            build what is missing or stale
#   TFMESH_TOOLS_BIN=dir build.sh    install somewhere else (default: <repo>/.tools/bin)
#   TFMESH_BUILD_CLI=0 build.sh      skip the CLI (an installed `pulumi` is used instead)
# Exit status 2: a build is needed but no usable Go is installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TFMESH_TOOLS_BIN:-$root/.tools/bin}
log_dir=$(dirname "$bin")
cd "$here"

# The pinned release is whatever go.mod requires: one place to change it.
version=$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2 }' go.mod)
required_go=$(awk '$1 == "go" { print $2 }' go.mod)
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$bin"

say() { printf '[pulumi-tools] %s\n' "$*"; }

require_go() {
  local have=""
  command -v go >/dev/null 2>&1 && have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  if [[ -n $have && $(printf '%s\n%s\n' "$required_go" "$have" | sort -V | head -n1) == "$required_go" ]]; then
    return 0
  fi
  say "ERROR: building Pulumi $version needs Go >= $required_go (found: ${have:-none})."
  say "Install Go $required_go or newer (https://go.dev/doc/install), or install the Pulumi CLI"
  say ">= ${version#v} the official way (https://www.pulumi.com/docs/iac/download-install/)."
  exit 2
}

# go build in the background, with a progress line every 15 s instead of thousands of names.
build() {
  local out=$1 pkg=$2 what=$3
  local log="$log_dir/build-${out##*/}.log"
  local start=$SECONDS status=0 pid
  require_go
  say "building $what ($version) -> $out"
  go build -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
      sleep 1
      kill -0 "$pid" 2>/dev/null || break 2
    done
    say "  ... $((SECONDS - start))s: $(grep -c '^go: downloading' "$log" || true) modules downloaded," \
      "$(grep -vc '^go: ' "$log" || true) packages compiled"
  done
  wait "$pid" || status=$?
  if ((status != 0)) || [[ ! -x $out.tmp ]]; then
    say "build of $what FAILED; last lines of $log:"
    tail -n 30 "$log" >&2
    rm -f "$out.tmp"
    return 1
  fi
  mv -f "$out.tmp" "$out"
  say "built $what in $((SECONDS - start))s"
}

sources_hash() {
  cat go.mod go.sum $(find cmd -name '*.go' | sort) | sha256sum | cut -c1-16
}

# The dynamic-provider launcher is a script: always link it.
ln -sfn "$here/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"

# Language host: our own (see README.md); rebuilt when its sources or the pin change.
stamp="$bin/.pulumi-language-nodejs.stamp"
want="$version $(sources_hash)"
if [[ -x $bin/pulumi-language-nodejs && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "pulumi-language-nodejs is up to date"
else
  build "$bin/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs "the Node.js language host"
  printf '%s\n' "$want" >"$stamp"
fi

if [[ ${TFMESH_BUILD_CLI:-1} == 0 ]]; then
  exit 0
fi
if [[ -x $bin/pulumi && $("$bin/pulumi" version 2>/dev/null) == "$version" ]]; then
  say "pulumi $version is up to date"
else
  say "the first build of the Pulumi CLI downloads ~1.5 GB of modules and compiles for several minutes"
  build "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "the Pulumi CLI"
fi
