# Source this file (`source scripts/env.sh`) to use tfmesh's toolchain in an interactive shell:
# Node 24 and the project's binaries, the Pulumi CLI built in .tools/bin, and a local Pulumi state
# backend. Every variable already set in your environment wins over these defaults.
_tfmesh_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)

case ":$PATH:" in
  *":$_tfmesh_root/.tools/bin:"*) ;;
  *) PATH="$_tfmesh_root/.tools/bin:$_tfmesh_root/node_modules/.bin:$PATH" ;;
esac
export PATH

# `tfmesh/...` resolves to this checkout's sources, not the built dist/ (package.json "exports"),
# for the programs in this repository and the dynamic providers they start.
case " ${NODE_OPTIONS:-} " in
  *" --conditions=tfmesh-source "*) ;;
  *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--conditions=tfmesh-source" ;;
esac

# Stacks live in a git-ignored folder of the checkout, not in Pulumi Cloud.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_tfmesh_root/.state/pulumi}"
# The documented passphrase of the embedded lab's stacks; set PULUMI_CONFIG_PASSPHRASE (or
# PULUMI_CONFIG_PASSPHRASE_FILE) for anything that holds real secrets.
if [[ -z ${PULUMI_CONFIG_PASSPHRASE+set} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
  export PULUMI_CONFIG_PASSPHRASE=tfmesh-lab
fi
# No network calls the machine cannot make: no update check, no plugin downloads.
export PULUMI_SKIP_UPDATE_CHECK="${PULUMI_SKIP_UPDATE_CHECK:-true}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}"
unset _tfmesh_root
