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

have=""
command -v go >/dev/null 2>&1 && have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
if [[ -z $have || $(printf '%s\n%s\n' "$required_go" "$have" | sort -V | head -n1) != "$required_go" ]]; then
  say "ERROR: building pulumi-resource-kubernetes $version needs Go >= $required_go (found: ${have:-none})."
  exit 2
fi

# The schema and mapping main.go embeds: the module's own copies (generated files upstream embeds
# are not in the module).
src=$(go mod download -json "$module@$module_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
for f in schema.json terraform-mapping.json; do
  install -m 0644 "$src/$main_dir/$f" "$main_dir/$f"
done

log="$log_dir/build-pulumi-resource-kubernetes.log"
start=$SECONDS status=0
say "building pulumi-resource-kubernetes $version -> $out (the first build compiles for ~15 minutes on 2 cores)"
nice -n "${TFMESH_BUILD_NICE:-19}" go build -v -trimpath \
  -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$out.tmp" "./$main_dir" >"$log" 2>&1 &
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
  say "build FAILED; last lines of $log:"
  tail -n 30 "$log" >&2
  rm -f "$out.tmp"
  exit 1
fi
mv -f "$out.tmp" "$out"
printf '%s\n' "$want" >"$stamp"
say "built pulumi-resource-kubernetes $version in $((SECONDS - start))s ($(du -m "$out" | cut -f1) MB)"
