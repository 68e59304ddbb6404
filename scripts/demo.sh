#!/usr/bin/env bash
# `npm run demo`: prepare the machine, then deploy the root Pulumi program (Pulumi.yaml) to a
# stack on the local backend and show its outputs. Each stage is a function, run in order by
# main(), so later stages of the full scenario slot in between.
#   TFMESH_STACK=name npm run demo   (default stack: dev)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stack=${TFMESH_STACK:-dev}
say() { printf '\n[demo] %s\n' "$*"; }

setup() {
  bash scripts/setup.sh
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
}

deploy() {
  say "pulumi up (stack $stack, backend $PULUMI_BACKEND_URL)"
  pulumi stack select --create "$stack" --non-interactive
  pulumi up --yes --non-interactive --stack "$stack"
}

show() {
  say "stack outputs"
  pulumi stack output --stack "$stack"
}

main() {
  local started=$SECONDS
  setup
  deploy
  show
  say "done in $((SECONDS - started))s. Tear down with: source scripts/env.sh && pulumi destroy --stack $stack"
}

main "$@"
