#!/usr/bin/env bash
# Prepares this machine for tfmesh, idempotently, and quickly when nothing is missing:
#   1. system packages the data plane runs (installed with apt-get only when a command is missing)
#   2. node_modules (npm ci when missing or when package.json / package-lock.json changed)
#   3. Node 24 from the `node` devDependency (node_modules/.bin/node)
#   4. the Pulumi CLI, its Node.js language host and the dynamic-provider plugin (.tools/bin);
#      and the Kubernetes control plane and provider plugin (TFMESH_KUBERNETES=0 skips them);
#      and SPIRE's server and agent, the lab's SPIFFE identities (TFMESH_SPIRE=0 skips them)
#   5. the real Python clients (openstacksdk, vnc_api) in the venv .tools/python, for one test
#   6. the package build (dist/: JavaScript, declarations, source maps), skipped when no source changed
# Usage: bash scripts/setup.sh   (also run by `npm test` and `npm run demo`)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
started=$SECONDS
say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. system packages: command -> Debian package -------------------------------------------
declare -A system_packages=(
  [ip]=iproute2        # netns, veth, bridges, VXLAN, routes
  [bridge]=iproute2    # fdb entries for VXLAN
  [ping]=iputils-ping  # data plane checks
  [arping]=iputils-arping  # gratuitous ARP when an address comes up on a VM or pod interface
  [sysctl]=procps      # per-namespace kernel settings
)
missing=()
for cmd in "${!system_packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${system_packages[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing system packages: ${missing[*]}"
  if [[ $(id -u) != 0 ]]; then
    die "need root to install ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages present (iproute2, iputils-ping, iputils-arping, procps)"
fi

# --- 2. node_modules ----------------------------------------------------------------------------
command -v npm >/dev/null 2>&1 || die "npm is missing: install Node.js with npm (any version >= 18; Node 24 itself comes from npm)"
lock_stamp=node_modules/.tfmesh-install.stamp
lock_hash=$(sha256sum <package-lock.json | cut -c1-16)
if [[ -d node_modules && -f $lock_stamp && $(cat "$lock_stamp") == "$lock_hash" ]]; then
  say "node_modules up to date"
else
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$lock_hash" >"$lock_stamp"
fi

# --- 3. Node 24 -----------------------------------------------------------------------------------
node_bin=node_modules/.bin/node
[[ -x $node_bin ]] || die "$node_bin is missing: the \`node\` devDependency did not install (try: rm -rf node_modules && npm ci)"
node_version=$("$node_bin" --version)
node_major=${node_version#v}
node_major=${node_major%%.*}
if ((node_major < 24)); then
  die "$node_bin is $node_version, but tfmesh needs Node >= 24 (TypeScript type stripping). Check the \`node\` devDependency in package.json."
fi
say "Node $node_version ($node_bin)"

# --- 4. Pulumi ------------------------------------------------------------------------------------
pinned=$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2 }' tools/pulumi/go.mod)
# An installed CLI at the pinned version or newer is used as is (not the one we built earlier).
ambient=""
if path=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$root/.tools/bin" | paste -sd:) command -v pulumi 2>/dev/null); then
  ambient_version=$("$path" version 2>/dev/null || true)
  if [[ $ambient_version == v* && $(printf '%s\n%s\n' "$pinned" "$ambient_version" | sort -V | head -n1) == "$pinned" ]]; then
    ambient=$path
  fi
fi
if [[ -n $ambient ]]; then
  say "using the installed Pulumi CLI $ambient_version ($ambient)"
  TFMESH_BUILD_CLI=0 bash tools/pulumi/build.sh || say "(could not build our language host; the CLI's own plugins are used)"
else
  bash tools/pulumi/build.sh || {
    status=$?
    ((status == 2)) && die "no usable Pulumi CLI: see the message above"
    die "building the Pulumi CLI failed (logs in .tools/)"
  }
  say "Pulumi $("$root/.tools/bin/pulumi" version) in .tools/bin"
fi

# --- 4b. Kubernetes ---------------------------------------------------------------------------------
# The lab's control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
# and the Kubernetes provider plugin, from the Go module proxy (cached in .tools/bin): the lab's pods
# are Kubernetes pods, so the demo and the tests need both. Installed binaries are used instead
# (lab/kube/binaries.ts). TFMESH_KUBERNETES=0 skips them (a lab without pods: `lab up --no-kubernetes`).
if [[ ${TFMESH_KUBERNETES:-} != 0 ]]; then
  kube_started=$SECONDS
  "$node_bin" scripts/kubernetesBinaries.ts || die "the Kubernetes control plane is not usable (see above; logs in .tools/)"
  bash tools/pulumi-kubernetes/build.sh || die "building the Kubernetes provider plugin failed (logs in .tools/)"
  say "Kubernetes binaries ready in $((SECONDS - kube_started))s"
fi

# --- 4c. SPIRE ---------------------------------------------------------------------------------------
# spire-server and spire-agent: the lab's NSM speaks mTLS with SPIFFE X.509-SVIDs from them, as NSM
# does on a cluster. Installed binaries are used instead (lab/spire/binaries.ts). TFMESH_SPIRE=0 skips
# the step; a lab then builds them at its first start.
if [[ ${TFMESH_SPIRE:-} != 0 ]]; then
  spire_started=$SECONDS
  "$node_bin" scripts/spireBinaries.ts || die "spire-server and spire-agent are not usable (see above; logs in .tools/)"
  say "SPIRE binaries ready in $((SECONDS - spire_started))s"
fi

# --- 5. Python clients ------------------------------------------------------------------------------
# Only test/lab/openstack-clients.test.ts needs them: a failure warns and that test is skipped.
bash scripts/setup-python.sh || say "WARNING: scripts/setup-python.sh failed; test/lab/openstack-clients.test.ts will be skipped"

# --- 6. the package build ----------------------------------------------------------------------
# dist/ is what the published package runs (package.json "exports" and "bin"); the repository's own
# programs and tests run the sources. Skipped when neither the sources nor the build config changed.
build_hash=$( (find cli lib wire lab nsm provider components -name '*.ts' -print0 | sort -z | xargs -0 sha256sum; sha256sum tsconfig.json tsconfig.build.json package-lock.json) | sha256sum | cut -c1-16)
build_stamp=dist/.source.stamp
if [[ -f $build_stamp && $(cat "$build_stamp") == "$build_hash" ]]; then
  say "package build up to date (dist/)"
else
  build_started=$SECONDS
  say "building the package (tsc -p tsconfig.build.json -> dist/)"
  "$node_bin" node_modules/typescript/bin/tsc -p tsconfig.build.json || die "the package build failed (see the TypeScript errors above); run: npm run build"
  printf '%s\n' "$build_hash" >"$build_stamp"
  say "package built in $((SECONDS - build_started))s"
fi

mkdir -p .state/pulumi
say "ready in $((SECONDS - started))s. For a shell: source scripts/env.sh"
