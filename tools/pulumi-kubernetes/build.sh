#!/usr/bin/env bash
# Builds the Kubernetes provider plugin (pulumi-resource-kubernetes, from
# github.com/pulumi/pulumi-kubernetes/provider/v4 on the Go module proxy) into .tools/bin, beside
# the Pulumi CLI, which prefers a plugin on PATH. Cached: rebuilt only when missing, reporting
# another version, or when go.mod/go.sum/main.go changed; Go is needed only then.
#
#   tools/pulumi-kubernetes/build.sh
#   TFMESH_TOOLS_BIN=dir build.sh      install somewhere else (default: <repo>/.tools/bin)
# Exit status 2: a build is needed but no usable Go is installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TFMESH_TOOLS_BIN:-$root/.tools/bin}
log_dir=$(dirname "$bin")
cd "$here"

module=github.com/pulumi/pulumi-kubernetes/provider/v4
module_version=$(awk -v m="$module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' go.mod)
# The plugin reports the version Go gives a commit after a release: the provider module has no tags
# of its own (the proxy names the commit v4.0.0-<time>-<hash>), but the commit follows the
# v4.24.0 release (sdk/v4.24.0, 2025-11-06), so it is 4.24.1-0.<time>-<hash>, newer than the
# @pulumi/kubernetes SDK package.json pins (4.23.0, the newest on npm before it), and the engine
# takes it without a version warning.
after_release=4.24.1
version="$after_release-0.${module_version#v4.0.0-}"
required_go=$(awk '$1 == "go" { print $2 }' go.mod)
out=$bin/pulumi-resource-kubernetes
stamp=$bin/.pulumi-resource-kubernetes.stamp
main_dir=cmd/pulumi-resource-kubernetes
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$bin"

say() { printf '[pulumi-kubernetes-tools] %s\n' "$*"; }
source "$here/../lib/gobuild.sh"

want="$version $(cat go.mod go.sum "$main_dir/main.go" | sha256sum | cut -c1-16)"
if [[ -x $out && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "pulumi-resource-kubernetes $version is up to date"
  exit 0
fi

# Two builds at once build once: the second waits here, then finds the plugin built.
exec 9>"$bin/.pulumi-kubernetes-build.lock"
flock 9
if [[ -x $out && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "pulumi-resource-kubernetes $version was built meanwhile"
  exit 0
fi

if ! go_at_least "$required_go"; then
  say "ERROR: building pulumi-resource-kubernetes $version needs Go >= $required_go (found: $found_go)."
  exit 2
fi

# The schema and mapping main.go embeds: the module's own copies (generated files upstream embeds
# are not in the module).
src=$(go mod download -json "$module@$module_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
for f in schema.json terraform-mapping.json; do
  install -m 0644 "$src/$main_dir/$f" "$main_dir/$f"
done

say "the first build of pulumi-resource-kubernetes compiles for ~15 minutes on 2 cores"
go_build "$out" "./$main_dir" "pulumi-resource-kubernetes $version" "-s -w -X $module/pkg/version.Version=$version" || exit 1
printf '%s\n' "$want" >"$stamp"
