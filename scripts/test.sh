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
echo "== a short fuzz run of each libFuzzer target (clang) =="
if command -v clang >/dev/null; then
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Djemalloc=false -Dbuildtype=debugoptimized >/dev/null || total_fail=$((total_fail + 1))
  fi
  if ninja -C build-fuzz tests/fuzz_expr tests/fuzz_json tests/fuzz_yaml tests/fuzz_csv >/dev/null; then
    for t in expr json yaml csv; do
      corpus=$(mktemp -d)
      cp -r tests/fuzz/corpus_$t/. "$corpus"/
      if build-fuzz/tests/fuzz_$t -max_total_time=${WEIR_FUZZ_SECONDS:-15} -timeout=10 "$corpus" >"build-fuzz/fuzz_$t.log" 2>&1; then
        echo "fuzz_$t: ok ($(grep -o 'Done [0-9]* runs' "build-fuzz/fuzz_$t.log"))"
        total_pass=$((total_pass + 1))
      else
        echo "fuzz_$t: FAILED"; tail -30 "build-fuzz/fuzz_$t.log"
        total_fail=$((total_fail + 1))
      fi
      rm -rf "$corpus"
    done
  else
    total_fail=$((total_fail + 1))
  fi
fi
echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
