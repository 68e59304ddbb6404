#!/usr/bin/env bash
# `npm run demo`: the reference scenario end to end on this machine.
#   1. set up (system packages, Node 24, Pulumi CLI)       scripts/setup.sh
#   2. start the default lab (a no-op when it runs)        npm run lab -- up
#   3. deploy the root program (examples/red-blue)         pulumi up, stack "dev", local backend
#   4. show what was built                                 the stack outputs
#   5. measure what reaches what with real pings and check it against the scenario
#      (scripts/red-blue.reachability.json); the demo fails if they differ
#   6. look inside a pod                                   npm run lab -- exec red-pod -- ip addr / ip route
#   7. how to tear it all down
# Re-running it on a deployed stack is quick: `pulumi up --refresh` finds nothing to change.
#   TFMESH_STACK=name npm run demo   (default stack: dev)
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stack=${TFMESH_STACK:-dev}
expectation=scripts/red-blue.reachability.json
stage_no=0
stage_name=""
stage_started=$SECONDS
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi

stage() {
  ((stage_no > 0)) && printf '[demo] (%ss)\n' "$((SECONDS - stage_started))"
  stage_no=$((stage_no + 1))
  stage_name=$1
  stage_started=$SECONDS
  printf '\n%s[demo %s/7] %s%s\n' "$bold" "$stage_no" "$1" "$plain"
}
# Shows the command a reader can type, then runs the equivalent (without npm's banner).
show_cmd() { printf '\n$ %s\n' "$*"; }
lab() { node cli/tfmesh.ts lab "$@"; }
on_error() { printf '\n[demo] FAILED in stage %s/7 (%s)\n' "$stage_no" "$stage_name" >&2; }
trap on_error ERR

setup() {
  stage "set up this machine"
  bash scripts/setup.sh
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
}

start_lab() {
  stage "start the lab (embedded TF, OpenStack and NSM APIs, Linux data plane)"
  lab up
}

deploy() {
  stage "pulumi up: examples/red-blue (stack $stack, backend ${PULUMI_BACKEND_URL#file://})"
  mkdir -p .state/stacks/tfmesh
  pulumi stack select --create "$stack" --non-interactive >/dev/null
  # --refresh first reads what really exists, so a lab that was wiped or drifted since the last run
  # is rebuilt; on a healthy deployed stack this is a quick no-op.
  pulumi up --yes --skip-preview --refresh --non-interactive --suppress-outputs --stack "$stack"
}

outputs() {
  stage "what Pulumi built (stack outputs)"
  pulumi stack output --json --stack "$stack" | node scripts/demoOutputs.ts
}

reachability() {
  stage "what can reach what: real pings inside the namespaces, checked against the scenario"
  show_cmd "npm run lab -- reach --expect $expectation"
  if ! lab reach --expect "$expectation"; then
    printf '\n[demo] the measured reachability does NOT match the reference scenario (see above)\n' >&2
    return 1
  fi
}

inside_pod() {
  stage "inside a pod: red-pod keeps eth0 on the pod network and got nsm-1 on red"
  show_cmd "npm run lab -- exec red-pod -- ip addr"
  lab exec red-pod -- ip addr
  show_cmd "npm run lab -- exec red-pod -- ip route"
  lab exec red-pod -- ip route
  local vm_ip
  vm_ip=$(pulumi stack output --json --stack "$stack" | node scripts/demoOutputs.ts --get vms.redVm1.ip)
  show_cmd "npm run lab -- exec red-pod -- ping -c 2 $vm_ip     # red-vm-1"
  lab exec red-pod -- ping -c 2 -i 0.2 "$vm_ip"
}

teardown_help() {
  stage "how to tear it down"
  cat <<EOF
  source scripts/env.sh && pulumi destroy --yes --stack $stack
                                       # every TF object, Neutron port, Nova server, pod, interface and
                                       # namespace the program made is removed
  npm run lab -- down --wipe           # stop the lab and remove its state and every tfm-* namespace
More to look at: npm run lab -- topology | npm run lab -- status | npm run lab -- exec <vm|pod> -- <command>
EOF
}

main() {
  local started=$SECONDS
  setup
  start_lab
  deploy
  outputs
  reachability
  inside_pod
  teardown_help
  printf '[demo] (%ss)\n\n[demo] done in %ss: the scenario is deployed and behaves as designed.\n' "$((SECONDS - stage_started))" "$((SECONDS - started))"
}

main "$@"
