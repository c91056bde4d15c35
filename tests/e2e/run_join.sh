#!/usr/bin/env bash
# tests/e2e/run_join.sh: end-to-end tests of Flatten and Join in YAML.
#   tests/e2e/run_join.sh BUILD_DIR SOURCE_DIR
# The examples examples/join_*.yaml and examples/flatten_*.yaml give their expected output (at
# one worker byte for byte, which run_e2e.sh checks too; here also at 2 and 3 workers, the same
# rows in any order); a Join drops and counts late records; `weir graph` marks both keyed inputs
# of a Join as exchanges; and invalid files are refused with FILE:LINE:COLUMN: error: messages at
# the offending node (tags, fields, windowing, inputs, cycles).
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

# --- the examples, at 1, 2 and 3 workers ---
n=0
for y in "$src"/examples/join_*.yaml "$src"/examples/flatten_*.yaml; do
  base=$(basename "$y" .yaml)
  exp="$src/examples/$base.expected.jsonl"
  n=$((n + 1))
  if [ ! -f "$exp" ]; then bad "$base has an expected file"; continue; fi
  sed "s|^\( *path: \)$base\.jsonl\$|\1$tmp/$base.jsonl|" "$y" >"$tmp/$base.yaml"
  expect_run "$base validates" 0 "" -- validate "$y"
  for w in 1 2 3; do
    rm -f "$tmp/$base.jsonl"
    expect_run "$base runs at $w workers" 0 "dropped 0 as late, 0 errors" -- \
      run "$tmp/$base.yaml" --progress=never --set "options.workers=$w"
    if [ "$w" = 1 ]; then
      same_file "$base output" "$tmp/$base.jsonl" "$exp"
    else
      same_rows "$base output at $w workers" "$tmp/$base.jsonl" "$exp"
    fi
  done
done
[ "$n" -ge 3 ] && ok "three Join / Flatten examples" || bad "three Join / Flatten examples" "found $n"

# --- weir graph: both inputs of a Join are exchanges ---
expect_run "graph of a Join" 0 "" -- graph examples/join_inner.yaml
if [ "$(grep -c -- '-> n2 \[label="exchange (by key)"' "$tmp/out")" = 2 ]; then
  ok "graph marks both inputs of the Join as exchanges"
else
  bad "graph marks both inputs of the Join as exchanges" "$(cat "$tmp/out")"
fi

# --- late records: dropped and counted, judged by their own input's watermark ---
cat >"$tmp/late.yaml" <<Y
pipeline:
  transforms:
    - type: Create
      name: L
      config:
        timestamp: t
        elements: [{k: a, t: 1}, {k: a, t: 25}, {k: a, t: 3}, {k: a, t: 21}]
    - type: Create
      name: R
      config:
        timestamp: t
        elements: [{k: a, t: 2}, {k: a, t: 22}]
    - type: Join
      input: {l: L, r: R}
      windowing: {type: fixed, size: 10}
      config: {equalities: k}
    - type: MapToFields
      input: Join
      config: {fields: {lt: l.t, rt: r.t, start: window_start}}
    - type: WriteToFile
      input: MapToFields
      config: {path: $tmp/late.jsonl}
Y
for w in 1 3; do
  expect_run "Join drops a late record and counts it ($w workers)" 0 "wrote 3, dropped 1 as late" -- \
    run "$tmp/late.yaml" --progress=never --set "options.workers=$w"
  printf '%s\n' '{"lt":1,"rt":2,"start":0}' '{"lt":25,"rt":22,"start":20}' '{"lt":21,"rt":22,"start":20}' \
    >"$tmp/late.expected"
  same_rows "Join output without the late record ($w workers)" "$tmp/late.jsonl" "$tmp/late.expected"
done

# --- invalid files ---
head='pipeline:
  transforms:
    - type: Create
      name: A
      config:
        timestamp: t
        elements: [{k: 1, t: 1}]
    - type: ReadFromNexmark
      name: N
      config: {events: 10}'
# bad NAME LINE:COL REGEX TRANSFORM (YAML lines appended after $head, which is 10 lines)
bad_file() {
  printf '%s\n%s\n' "$head" "$4" >"$tmp/$1.yaml"
  expect_run "refused: $1" 2 "^$tmp/$1.yaml:$2: error: $3" -- validate "$tmp/$1.yaml"
}
bad_file join_unknown_tag 15:29 "no input tagged 'b2' in this Join \\(did you mean 'b'\\?\\)" '    - type: Join
      input: {a: A, b: N}
      windowing: {type: fixed, size: 10}
      config:
        equalities: [{a: k, b2: id}]'
bad_file join_field_not_in_schema 15:32 "no field 'idd' in input 'b' \\(its fields: event_type, ts, id," '    - type: Join
      input: {a: A, b: N}
      windowing: {type: fixed, size: 10}
      config:
        equalities: [{a: k, b: idd}]'
bad_file join_without_windowing 11:7 "Join needs windowing" '    - type: Join
      input: {a: A, b: N}
      config:
        equalities: [{a: k, b: id}]'
bad_file join_inputs_not_a_map 12:14 "Join takes its inputs as a map of tag to transform" '    - type: Join
      input: [A, N]
      windowing: {type: fixed, size: 10}
      config:
        equalities: k'
bad_file join_three_inputs 12:14 "Join takes two inputs" '    - type: Join
      input: {a: A, b: N, c: N}
      windowing: {type: fixed, size: 10}
      config:
        equalities: k'
bad_file join_type_outer 15:15 "Join type 'outer' is not available" '    - type: Join
      input: {a: A, b: N}
      windowing: {type: fixed, size: 10}
      config:
        type: outer
        equalities: [{a: k, b: id}]'
bad_file join_sessions 13:18 "Join .Join. needs fixed or sliding windows \\(session windows" '    - type: Join
      input: {a: A, b: N}
      windowing: {type: sessions, gap: 10}
      config:
        equalities: [{a: k, b: id}]'
bad_file join_lateness 13:18 "Join .Join. takes no allowed_lateness" '    - type: Join
      input: {a: A, b: N}
      windowing: {type: fixed, size: 10, allowed_lateness: 5}
      config:
        equalities: [{a: k, b: id}]'
bad_file join_windowed_unlike 15:7 "the inputs of a Join must be windowed alike: .b. is windowed by .W., .a. is not" '    - type: WindowInto
      name: W
      input: N
      windowing: {type: fixed, size: 10}
    - type: Join
      input: {a: A, b: W}
      config:
        equalities: [{a: k, b: id}]'
bad_file flatten_different_fields 11:7 "Flatten: its inputs must have the same fields: input 1 has \\(t\\), input 2 has \\(event_type," '    - type: Flatten
      input: [A, N]'
bad_file map_input_not_join 12:14 "inputs given as a map \\(tag: transform\\) are for Join" '    - type: Filter
      input: {a: A}
      config: {keep: "true"}'
bad_file cycle 11:7 "the pipeline has a cycle through 'X'" '    - type: Filter
      name: X
      input: Y
      config: {keep: "true"}
    - type: Filter
      name: Y
      input: X
      config: {keep: "true"}'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
