#!/usr/bin/env bash
# Installs the real Python clients of the APIs the lab serves (openstacksdk, and TF's vnc_api from
# contrail-api-client) at the versions pinned in scripts/python-clients.txt into the git-ignored
# venv .tools/python, which test/lab/openstack-clients.test.ts uses. Cached: nothing runs when the
# venv was built from the current pins. It never fails the set-up: when the clients cannot be
# installed (no PyPI, no python3) it warns, and that test is skipped with the reason.
# Usage: bash scripts/setup-python.sh   (run by scripts/setup.sh)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.tools/python
pins=$root/scripts/python-clients.txt
log=$root/.tools/python-install.log
stamp=$venv/.tfmesh-install.stamp
say() { printf '[setup] %s\n' "$*"; }
warn() {
  printf '[setup] WARNING: %s\n' "$*" >&2
  printf '[setup] WARNING: test/lab/openstack-clients.test.ts will be skipped (details: %s)\n' "$log" >&2
  exit 0
}

want=$(sha256sum <"$pins" | cut -c1-16)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "Python clients up to date (.tools/python)"
  exit 0
fi

mkdir -p "$root/.tools"
: >"$log"
started=$SECONDS

# A python3 that can create venvs; Debian splits venv/ensurepip out into python3-venv.
can_make_venv() { "$1" -c 'import venv, ensurepip' >>"$log" 2>&1; }
base=""
for candidate in "$(command -v python3 2>/dev/null)" /usr/bin/python3; do
  if [[ -n $candidate && -x $candidate ]] && can_make_venv "$candidate"; then
    base=$candidate
    break
  fi
done
if [[ -z $base ]]; then
  command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]] ||
    warn "no python3 with venv support (install python3 and python3-venv) for the Python clients"
  say "installing system packages: python3 python3-venv"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv; } >>"$log" 2>&1 ||
    warn "apt-get install python3 python3-venv failed"
  can_make_venv /usr/bin/python3 || warn "/usr/bin/python3 still cannot create a venv"
  base=/usr/bin/python3
fi

# A half-built venv from an interrupted or failed run is thrown away, never patched.
rm -rf "$venv"
say "creating .tools/python with $("$base" --version 2>&1) ($base)"
"$base" -m venv "$venv" >>"$log" 2>&1 || warn "python3 -m venv .tools/python failed"

total=$(grep -c '^[^#[:space:]]' "$pins")
say "installing the Python clients (openstacksdk, contrail-api-client; $total pinned packages, 15-20 s)"
"$venv/bin/python" -m pip install --no-input --timeout 60 --retries 2 -r "$pins" >>"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  for _ in 1 2 3 4 5; do
    sleep 1
    kill -0 "$pid" 2>/dev/null || break 2
  done
  if grep -q '^Installing collected packages' "$log"; then
    say "  ... $((SECONDS - started))s: all $total fetched, installing"
  else
    say "  ... $((SECONDS - started))s: $(grep -c '^Collecting' "$log") of $total packages fetched"
  fi
done
wait "$pid" || {
  tail -n 5 "$log" | sed 's/^/[setup]   /' >&2
  warn "pip could not install the Python clients from PyPI (offline?)"
}
"$venv/bin/python" -c 'import openstack, vnc_api.vnc_api' >>"$log" 2>&1 ||
  warn "the Python clients installed but do not import"
printf '%s\n' "$want" >"$stamp"
say "Python clients installed in .tools/python in $((SECONDS - started))s"
