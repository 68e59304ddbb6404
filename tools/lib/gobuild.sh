# Shared by the tools/*/build.sh scripts (sourced, not run): the Go version check and a `go build`
# in the background with a progress line every 15 s instead of thousands of package names. The
# caller defines say() and log_dir, and may set go_build_nice=() to build at normal priority.

# Whether `go` is at least version $1; the version found (or "none") is left in $found_go.
go_at_least() {
  found_go=""
  command -v go >/dev/null 2>&1 && found_go=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [[ -n $found_go && $(printf '%s\n%s\n' "$1" "$found_go" | sort -V | head -n1) == "$1" ]] || {
    found_go=${found_go:-none}
    return 1
  }
}

# go_build <out> <package> <what> [ldflags]: builds into <out> (through <out>.tmp), logging to
# $log_dir/build-<name>.log; on failure says so with the log's last lines and returns 1.
go_build() {
  local out=$1 pkg=$2 what=$3 ldflags=${4:-}
  local log="$log_dir/build-${out##*/}.log"
  local start=$SECONDS status=0 pid
  local -a nice_cmd=(nice -n "${TFMESH_BUILD_NICE:-19}")
  [[ ${go_build_nice+set} == set ]] && nice_cmd=("${go_build_nice[@]}")
  say "building $what -> $out"
  "${nice_cmd[@]}" go build -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
      sleep 1
      kill -0 "$pid" 2>/dev/null || break 2
    done
    say "  ... $what: $((SECONDS - start))s, $(grep -c '^go: downloading' "$log" || true) modules downloaded," \
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
  say "built $what in $((SECONDS - start))s ($(du -m "$out" | cut -f1) MB)"
}
