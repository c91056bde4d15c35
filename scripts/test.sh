#!/usr/bin/env bash
# scripts/test.sh: the whole test suite: installs dependencies, builds weir (release build in
# build/, AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/), runs every test in
# both, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh || exit 1
werror=false
[ "${CI:-}" = true ] && werror=true
total_pass=0
total_fail=0
run_suite() { # BUILD_DIR MESON_ARGS...
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=$werror "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir" | tail -30; return 1; }
  meson test -C "$dir" --print-errorlogs --num-processes 2 | tee "$dir/test-summary.txt"
  local ok fail
  ok=$(grep -E '^Ok:' "$dir/test-summary.txt" | awk '{print $2}')
  fail=$(grep -E '^(Fail|Unexpected Pass|Timeout):' "$dir/test-summary.txt" | awk '{s+=$2} END {print s+0}')
  total_pass=$((total_pass + ${ok:-0}))
  total_fail=$((total_fail + fail))
}
run_suite build || total_fail=$((total_fail + 1))
echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_suite build-asan -Db_sanitize=address,undefined -Djemalloc=false -Dbuildtype=debug \
  || total_fail=$((total_fail + 1))
echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
