#!/usr/bin/env bash
# tests/e2e/run_nexmark.sh: end-to-end tests of ReadFromNexmark and the Nexmark examples.
#   tests/e2e/run_nexmark.sh BUILD_DIR SOURCE_DIR
# Each examples/nexmark_q*.yaml runs with BUILD_DIR/weir: at the one worker it names, its output
# must be its expected file byte for byte; at 2 and 3 workers (the generator then has 2 and 3
# partitions) the same rows in any order, since the order across partitions and keys is not
# defined. With python3 at hand, each expected file is also checked against the independent
# reference tests/nexmark_ref.py. Then the YAML checks of ReadFromNexmark's config.
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }

# expect_run NAME STATUS STDERR_REGEX -- ARGS...: runs weir (from $src), checks status and stderr
expect_run() {
  local name=$1 status=$2 regex=$3
  shift 4
  (cd "$src" && "$weir" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null)
  local rc=$?
  if [ "$rc" != "$status" ]; then
    bad "$name" "exit status $rc, expected $status" "$(head -5 "$tmp/err")"
  elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$tmp/err"; then
    bad "$name" "stderr does not match /$regex/:" "$(head -5 "$tmp/err")"
  else
    ok "$name"
  fi
}

same_file() { # NAME ACTUAL EXPECTED
  if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$3" "$2" | head -6)"; fi
}

same_rows() { # NAME ACTUAL EXPECTED: the same lines in any order
  if cmp -s <(LC_ALL=C sort "$2") <(LC_ALL=C sort "$3"); then ok "$1"; else
    bad "$1" "$(diff <(LC_ALL=C sort "$3") <(LC_ALL=C sort "$2") | head -6)"; fi
}

py=$(command -v python3 || true)
n_examples=0
for y in "$src"/examples/nexmark_q*.yaml; do
  base=$(basename "$y" .yaml)
  q=${base#nexmark_}
  exp="$src/examples/$base.expected.jsonl"
  n_examples=$((n_examples + 1))
  if [ ! -f "$exp" ]; then bad "$base has an expected file"; continue; fi
  # the same pipeline, writing into $tmp
  sed "s|^\( *path: \)$base\.jsonl\$|\1$tmp/$base.jsonl|" "$y" >"$tmp/$base.yaml"
  if ! grep -q "path: $tmp/$base.jsonl" "$tmp/$base.yaml"; then
    bad "$base writes $base.jsonl"
    continue
  fi
  expect_run "$base validates" 0 "" -- validate "$y"
  expect_run "$base runs" 0 "dropped 0 as late, 0 errors" -- run "$tmp/$base.yaml" --progress=never
  same_file "$base output" "$tmp/$base.jsonl" "$exp"
  for w in 2 3; do
    rm -f "$tmp/$base.jsonl"
    expect_run "$base runs at $w workers" 0 "dropped 0 as late, 0 errors" -- \
      run "$tmp/$base.yaml" --progress=never --set "options.workers=$w"
    same_rows "$base output at $w workers" "$tmp/$base.jsonl" "$exp"
  done
  if [ -n "$py" ]; then
    if "$py" "$src/tests/nexmark_ref.py" "$q" --check "$exp" 2>"$tmp/ref.err"; then
      ok "$base expected file = reference (tests/nexmark_ref.py)"
    else
      bad "$base expected file = reference (tests/nexmark_ref.py)" "$(head -4 "$tmp/ref.err")"
    fi
  fi
done
[ "$n_examples" -ge 6 ] && ok "six Nexmark examples" || bad "six Nexmark examples" "found $n_examples"
[ -n "$py" ] || echo "skip expected files against the reference: no python3"

# --- ReadFromNexmark's config ---
mk() { # NAME CONFIG (YAML flow map): a pipeline ReadFromNexmark -> WriteToFile
  cat >"$tmp/$1.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromNexmark
      config: $2
    - type: WriteToFile
      config: {path: $tmp/$1.out.jsonl}
options:
  workers: 1
Y
}
mk unknown '{events: 10, rat: 5}'
expect_run "unknown key" 2 "unknown-key|rat.*did you mean 'rate'" -- validate "$tmp/unknown.yaml"
grep -Eq "^$tmp/unknown.yaml:5:[0-9]+: error: " "$tmp/err" && ok "unknown key: position" ||
  bad "unknown key: position" "$(cat "$tmp/err")"
mk noevents '{rate: 5}'
expect_run "events is required" 2 "ReadFromNexmark needs 'events'" -- validate "$tmp/noevents.yaml"
mk zero '{events: 0}'
expect_run "events must be positive" 2 "events must be at least 1" -- validate "$tmp/zero.yaml"
mk twice '{events: 10, max_out_of_orderness: 1s, watermark: {max_out_of_orderness: 2s}}'
expect_run "max_out_of_orderness twice" 2 "given twice" -- validate "$tmp/twice.yaml"
mk idle '{events: 10, watermark: {idle_timeout: 1s}}'
expect_run "idle_timeout refused" 2 "idle_timeout does not apply" -- validate "$tmp/idle.yaml"
mk badtime '{events: 10, base_time: yesterday}'
expect_run "bad base_time" 2 "base_time must be" -- validate "$tmp/badtime.yaml"
mk baddur '{events: 10, max_out_of_orderness: soon}'
expect_run "bad duration" 2 "max_out_of_orderness" -- validate "$tmp/baddur.yaml"
mk rate '{events: 10, rate: 2000000}'
expect_run "rate out of range" 2 "rate must be at most 1000000" -- validate "$tmp/rate.yaml"

# base_time as RFC 3339, top-level max_out_of_orderness, partitions
mk rfc '{events: 100, rate: 1000, base_time: "2024-01-01T00:00:00Z", max_out_of_orderness: 20ms, partitions: 1}'
expect_run "base_time RFC 3339 runs" 0 "read 100 records, wrote 100" -- run "$tmp/rfc.yaml" --progress=never
if [ "$(grep -Ec '"ts":(17040671999[89][0-9]|17040672000[0-9]{2}),' "$tmp/rfc.out.jsonl")" = 100 ]; then
  ok "base_time RFC 3339: times from 2024-01-01"; else bad "base_time RFC 3339: times from 2024-01-01" "$(head -c 200 "$tmp/rfc.out.jsonl")"; fi
# 2 partitions at 3 workers, 1 partition at 3 workers: the same events
mk p1 '{events: 3000, seed: 3, max_out_of_orderness: 50ms, partitions: 1}'
mk p2 '{events: 3000, seed: 3, max_out_of_orderness: 50ms, partitions: 2}'
expect_run "1 partition at 3 workers" 0 "wrote 3000" -- run "$tmp/p1.yaml" --progress=never --set options.workers=3
expect_run "2 partitions at 3 workers" 0 "wrote 3000" -- run "$tmp/p2.yaml" --progress=never --set options.workers=3
same_rows "the same events at 1 and 2 partitions" "$tmp/p2.out.jsonl" "$tmp/p1.out.jsonl"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
