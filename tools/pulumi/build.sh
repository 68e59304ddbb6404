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
source "$here/../lib/gobuild.sh"
# At normal priority, as it always was.
go_build_nice=()

require_go() {
  go_at_least "$required_go" && return 0
  say "ERROR: building Pulumi $version needs Go >= $required_go (found: $found_go)."
  say "Install Go $required_go or newer (https://go.dev/doc/install), or install the Pulumi CLI"
  say ">= ${version#v} the official way (https://www.pulumi.com/docs/iac/download-install/)."
  exit 2
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
  require_go
  go_build "$bin/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs "the Node.js language host ($version)" "$ldflags"
  printf '%s\n' "$want" >"$stamp"
fi

if [[ ${TFMESH_BUILD_CLI:-1} == 0 ]]; then
  exit 0
fi
if [[ -x $bin/pulumi && $("$bin/pulumi" version 2>/dev/null) == "$version" ]]; then
  say "pulumi $version is up to date"
else
  say "the first build of the Pulumi CLI downloads ~1.5 GB of modules and compiles for several minutes"
  require_go
  go_build "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "the Pulumi CLI ($version)" "$ldflags"
fi
