#!/usr/bin/env bash
# tests/e2e/run_e2e.sh: end-to-end tests of the built `weir` command: the examples produce their
# documented output, and bad input gives the documented exit status and message.
#   tests/e2e/run_e2e.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

. "$(dirname "$0")/lib.sh"

# --- the examples ---
expect_run "example clicks_per_user.yaml runs" 0 "read 10 records, wrote 6, dropped 1 as late" -- \
  run examples/clicks_per_user.yaml --progress=never --set "pipeline.transforms[3].config.path=$tmp/clicks.jsonl"
same_file "example clicks_per_user.yaml output" "$tmp/clicks.jsonl" "$src/examples/clicks_per_user.expected.jsonl"

"$build/examples/clicks_per_user" "$src/examples/data/clicks.jsonl" "$tmp/clicks_c.jsonl" 2>"$tmp/err"
same_file "example clicks_per_user.c output" "$tmp/clicks_c.jsonl" "$src/examples/clicks_per_user.expected.jsonl"

# clickstream sessions: two outputs (the sessions and the clicks dropped as late). The expected
# file comes from tests/sessions_ref.py, a model of spec/windowing.md that shares no code with weir.
cs=(run examples/clickstream_sessions.yaml --progress=never --set "pipeline.transforms[3].config.path=$tmp/cs.late.jsonl"
  --set "pipeline.transforms[4].config.path=$tmp/cs.jsonl")
expect_run "example clickstream_sessions.yaml runs" 0 "read 88 records, wrote 19, dropped 4 as late" -- "${cs[@]}"
same_file "example clickstream_sessions.yaml output" "$tmp/cs.jsonl" "$src/examples/clickstream_sessions.expected.jsonl"
# the late output holds the 4 dropped clicks, each as it was read
if [ "$(wc -l <"$tmp/cs.late.jsonl")" = 4 ] && ! grep -Fxvqf "$src/examples/data/clickstream.jsonl" "$tmp/cs.late.jsonl"; then
  ok "example clickstream_sessions.yaml late output"
else
  bad "example clickstream_sessions.yaml late output" "$(cat "$tmp/cs.late.jsonl")"
fi
if command -v python3 >/dev/null; then
  python3 "$src/tests/sessions_ref.py" --late "$tmp/cs.ref.late" "$src/examples/data/clickstream.jsonl" >"$tmp/cs.ref" 2>"$tmp/cs.ref.err"
  same_file "clickstream_sessions.expected.jsonl is the reference model's" "$tmp/cs.ref" "$src/examples/clickstream_sessions.expected.jsonl"
  same_file "clickstream_sessions late output is the reference model's" "$tmp/cs.late.jsonl" "$tmp/cs.ref.late"
else
  echo "skip clickstream_sessions against tests/sessions_ref.py: no python3"
fi
# at 3 workers: the same rows, in the same order within each user (windowing.md §2); the order
# across users may differ. sort -s keeps the order of lines with the same first field.
expect_run "example clickstream_sessions.yaml, 3 workers" 0 "read 88 records, wrote 19, dropped 4 as late" -- \
  "${cs[@]}" --set options.workers=3
sort -s -t, -k1,1 "$tmp/cs.jsonl" >"$tmp/cs.by_user"
sort -s -t, -k1,1 "$src/examples/clickstream_sessions.expected.jsonl" >"$tmp/cs.expected.by_user"
same_file "example clickstream_sessions.yaml output, 3 workers, per user" "$tmp/cs.by_user" "$tmp/cs.expected.by_user"

for y in "$src"/examples/*.yaml; do
  base=$(basename "$y" .yaml)
  [ "$base" = clicks_per_user ] && continue
  [ "$base" = clickstream_sessions ] && continue # above
  grep -qE 'type: (ReadFromKafka|WriteToKafka)' "$y" && continue # tests/e2e/run_kafka.sh runs these
  exp="$src/examples/$base.expected.jsonl"
  [ -f "$exp" ] || continue
  out=$(grep -E '^\s+path: [^ ]+\.jsonl$' "$y" | tail -1 | awk '{print $2}')
  rm -f "$src/$out"
  expect_run "example $base.yaml runs" 0 "" -- run "examples/$base.yaml" --progress=never
  same_file "example $base.yaml output" "$src/$out" "$exp"
  rm -f "$src/$out"
  # a Combine at 2 workers, with combiner lifting (the default) and without: the same rows
  if grep -q 'type: Combine' "$y"; then
    sort "$exp" >"$tmp/exp.sorted"
    for lift in true false; do
      expect_run "example $base.yaml, 2 workers, combiner_lifting $lift" 0 "" -- run "examples/$base.yaml" \
        --progress=never --set options.workers=2 --set options.combiner_lifting=$lift
      sort "$src/$out" >"$tmp/got.sorted"
      same_file "example $base.yaml output, 2 workers, combiner_lifting $lift" "$tmp/got.sorted" "$tmp/exp.sorted"
      rm -f "$src/$out"
    done
  fi
done
expect_run "options.combiner_lifting must be a bool" 2 "combiner_lifting" -- run examples/spec_sliding.yaml \
  --progress=never --set options.combiner_lifting=sometimes

# --- the command ---
expect_run "--version" 0 "" -- --version
grep -q '^weir [0-9]' "$tmp/out" && ok "--version prints the version" || bad "--version prints the version" "$(cat "$tmp/out")"
expect_run "help" 0 "" -- help
grep -q 'weir run FILE.yaml' "$tmp/out" && ok "help lists run" || bad "help lists run"
expect_run "help run" 0 "" -- help run
expect_run "unknown command" 2 "unknown command" -- frobnicate
expect_run "run without a file" 2 "no pipeline file" -- run
expect_run "bad --progress" 2 "--progress takes" -- run examples/clicks_per_user.yaml --progress=sometimes

expect_run "graph" 0 "" -- graph examples/clicks_per_user.yaml
if grep -q '^digraph weir {' "$tmp/out" && grep -q 'n1 -> n2 \[label="exchange (by key; pre-aggregated per worker when several run)"' "$tmp/out" &&
   [ "$(grep -c ' -> ' "$tmp/out")" = 3 ] && tail -1 "$tmp/out" | grep -q '^}$'; then
  ok "graph prints the DOT graph"; else bad "graph prints the DOT graph" "$(cat "$tmp/out")"; fi

# --stats
expect_run "--stats" 0 "" -- run examples/clicks_per_user.yaml --progress=never --stats "$tmp/stats.json" \
  --set "pipeline.transforms[3].config.path=$tmp/c2.jsonl"
if grep -q '"records_read":10,"records_written":6,"dropped_late":1,"errors":0' "$tmp/stats.json"; then
  ok "--stats JSON"; else bad "--stats JSON" "$(cat "$tmp/stats.json")"; fi

# --- bad input: runtime failures exit 1 with one message ---
mk() { # NAME CONTENT: a pipeline reading $tmp/NAME.jsonl
  printf '%s\n' "$2" >"$tmp/$1.jsonl"
  cat >"$tmp/$1.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: $tmp/$1.jsonl, format: json, timestamp: ts}
    - type: WriteToFile
      config: {path: $tmp/$1.out.jsonl, format: json}
Y
}
mk badjson '{"ts":1,"a":2}
{"ts":2,"a":}'
expect_run "unparseable JSON line" 1 "^weir: error: $tmp/badjson.jsonl:2: column 13: expected a value" -- run "$tmp/badjson.yaml" --progress=never
mk nots '{"ts":1}
{"x":2}'
expect_run "missing timestamp" 1 "^weir: error: $tmp/nots.jsonl:2: missing timestamp field 'ts'" -- run "$tmp/nots.yaml" --progress=never
mk badts '{"ts":"yesterday"}'
expect_run "unparseable timestamp" 1 "^weir: error: $tmp/badts.jsonl:1: .*neither an integer nor RFC 3339" -- run "$tmp/badts.yaml" --progress=never
mk rfc '{"ts":"2024-01-02T03:04:05.678Z","a":1}'
expect_run "RFC 3339 timestamp" 0 "read 1 records" -- run "$tmp/rfc.yaml" --progress=never
same_file "pass-through keeps the record" "$tmp/rfc.out.jsonl" "$tmp/rfc.jsonl"
mk missing '{"ts":1}'
rm "$tmp/missing.jsonl"
expect_run "missing input file" 1 "^weir: error: $tmp/missing.jsonl: No such file or directory" -- run "$tmp/missing.yaml" --progress=never
mk unwritable '{"ts":1}'
sed -i "s|$tmp/unwritable.out.jsonl|$tmp/no/such/dir/out.jsonl|" "$tmp/unwritable.yaml"
expect_run "unwritable output" 1 "^weir: error: $tmp/no/such/dir/out.jsonl: No such file or directory" -- run "$tmp/unwritable.yaml" --progress=never

# error_handling routes bad lines and the run goes on
printf '%s\n' '{"ts":1,"a":1}' 'not json' '{"ts":3,"a":3}' >"$tmp/eh.jsonl"
cat >"$tmp/eh.yaml" <<Y
pipeline:
  transforms:
    - type: ReadFromFile
      name: In
      config:
        path: $tmp/eh.jsonl
        timestamp: ts
        error_handling: {output: bad}
    - type: WriteToFile
      input: In
      config: {path: $tmp/eh.good.jsonl}
    - type: WriteToFile
      input: In.bad
      config: {path: $tmp/eh.bad.jsonl}
Y
expect_run "error_handling output" 0 "1 errors" -- run "$tmp/eh.yaml" --progress=never
if [ "$(wc -l <"$tmp/eh.good.jsonl")" = 2 ] && grep -q "\"source\":\"$tmp/eh.jsonl:2\",\"record\":\"not json\"" "$tmp/eh.bad.jsonl"; then
  ok "error_handling rows"; else bad "error_handling rows" "$(cat "$tmp/eh.good.jsonl" "$tmp/eh.bad.jsonl")"; fi

# a generator's rows carry their record numbers (affine positions, weir_batch_pos) into errors:
# record i (from 0) has v = i mod 1000, so 100 / (v - 7) fails at i = 7 and 1007, records 8, 1008
cat >"$tmp/generr.yaml" <<Y
pipeline:
  transforms:
    - type: ReadFromGenerator
      name: Gen
      config: {count: 2000, keys: 10}
    - type: MapToFields
      name: M
      input: Gen
      config:
        fields: {q: 100 / (v - 7)}
        error_handling: {output: bad}
    - type: WriteToFile
      input: M
      config: {path: $tmp/generr.good.jsonl}
    - type: WriteToFile
      input: M.bad
      config: {path: $tmp/generr.bad.jsonl}
Y
expect_run "generator record errors" 0 "2 errors" -- run "$tmp/generr.yaml" --progress=never
if [ "$(wc -l <"$tmp/generr.good.jsonl")" = 1998 ] &&
  [ "$(grep -o '"source":"[^"]*"' "$tmp/generr.bad.jsonl" | tr '\n' ' ')" = '"source":"ReadFromGenerator:8" "source":"ReadFromGenerator:1008" ' ]; then
  ok "generator record positions"; else bad "generator record positions" "$(cat "$tmp/generr.bad.jsonl")"; fi

# --- SIGTERM: an unbounded input ends as if bounded, windows fire, output complete, exit 0 ---
printf '%s\n' '{"ts":1,"u":"a"}' '{"ts":2,"u":"b"}' >"$tmp/follow.jsonl"
cat >"$tmp/follow.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: $tmp/follow.jsonl, timestamp: ts, follow: true}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: u, combine: {n: count}}
    - type: WriteToFile
      config: {path: $tmp/follow.out.jsonl}
options:
  workers: 2
Y
"$weir" run "$tmp/follow.yaml" --progress=never 2>"$tmp/follow.err" &
pid=$!
sleep 0.5
printf '%s\n' '{"ts":3,"u":"a"}' >>"$tmp/follow.jsonl" # appended while it runs
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
if [ $rc = 0 ] && [ "$(grep -c '"u":"a","n":2' "$tmp/follow.out.jsonl")" = 1 ] && [ "$(grep -c '"u":"b","n":1' "$tmp/follow.out.jsonl")" = 1 ]; then
  ok "SIGTERM ends a followed input cleanly"
else
  bad "SIGTERM ends a followed input cleanly" "exit $rc" "$(cat "$tmp/follow.out.jsonl" "$tmp/follow.err")"
fi

# --- a glob: one partition per file, spread over the workers, each with its own watermark ---
mkdir -p "$tmp/logs"
printf '%s\n' '{"ts":1000,"u":"a"}' '{"ts":9000,"u":"a"}' '{"ts":15000,"u":"a"}' >"$tmp/logs/day-1.jsonl"
printf '%s\n' '{"ts":2000,"u":"b"}' '{"ts":12000,"u":"b"}' >"$tmp/logs/day-2.jsonl"
printf '%s\n' '{"ts":3000,"u":"a"}' '{"ts":4000,"u":"c"}' >"$tmp/logs/day-3.jsonl"
cat >"$tmp/glob.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: "$tmp/logs/day-*.jsonl", timestamp: ts}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: u, combine: {n: count}}
    - type: WriteToFile
      config: {path: $tmp/glob.out.jsonl}
Y
for w in 1 2 3; do
  expect_run "glob of 3 files, $w worker(s)" 0 "read 7 records, wrote 5, dropped 0" -- run "$tmp/glob.yaml" --progress=never --set options.workers=$w
  # each file is in order, so nothing is late however the files interleave: hand-computed rows
  sort "$tmp/glob.out.jsonl" | sed 's/,"pane_timing.*//' >"$tmp/glob.sorted"
  printf '%s\n' '{"u":"a","n":1,"window_start":10000,"window_end":20000' '{"u":"a","n":3,"window_start":0,"window_end":10000' \
    '{"u":"b","n":1,"window_start":0,"window_end":10000' '{"u":"b","n":1,"window_start":10000,"window_end":20000' \
    '{"u":"c","n":1,"window_start":0,"window_end":10000' >"$tmp/glob.expected"
  same_file "glob output, $w worker(s)" "$tmp/glob.sorted" "$tmp/glob.expected"
done
sed -i 's|day-\*|none-*|' "$tmp/glob.yaml"
expect_run "a glob that matches nothing" 1 "^weir: error: $tmp/logs/none-\*.jsonl: no file matches" -- run "$tmp/glob.yaml" --progress=never

# --- idle_timeout: an empty file of a followed glob stops holding the watermark back ---
mkdir -p "$tmp/idle"
printf '%s\n' '{"ts":1000,"u":"a"}' '{"ts":12000,"u":"a"}' >"$tmp/idle/a.jsonl"
: >"$tmp/idle/b.jsonl"
for w in 1 2; do
  for idle in "idle_timeout: 300ms" ""; do
    cat >"$tmp/idle.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: "$tmp/idle/*.jsonl", timestamp: ts, follow: true, watermark: {$idle}}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: u, combine: {n: count}}
    - type: WriteToFile
      config: {path: $tmp/idle.out.jsonl}
options:
  workers: $w
Y
    rm -f "$tmp/idle.out.jsonl"
    "$weir" run "$tmp/idle.yaml" --progress=never 2>"$tmp/idle.err" &
    pid=$!
    sleep 1.5
    fired=$(grep -c '"window_start":0,' "$tmp/idle.out.jsonl" 2>/dev/null)
    kill -TERM $pid
    wait $pid
    rc=$?
    if [ -n "$idle" ]; then want=1; what="with idle_timeout the window fires while running"; else want=0; what="without idle_timeout the empty file holds it back"; fi
    if [ "${fired:-0}" = $want ] && [ $rc = 0 ]; then ok "$what ($w worker(s))"; else bad "$what ($w worker(s))" "fired=$fired exit=$rc" "$(cat "$tmp/idle.err")"; fi
  done
done

# --- idle_timeout with combiner lifting: a worker whose partition goes idle sends on what it
# pre-aggregated, so its records are not held back until they are late. Two files, one per
# worker: a.jsonl's record of user a is in window [0,10s), and c.jsonl moves its own watermark
# past 10s. Once both are idle the watermark is c's: window 0 fires with both records of a.
mkdir -p "$tmp/idle2"
printf '%s
' '{"ts":1000,"u":"a"}' >"$tmp/idle2/a.jsonl"
printf '%s
' '{"ts":2000,"u":"a"}' '{"ts":12000,"u":"b"}' >"$tmp/idle2/c.jsonl"
for lift in true false; do
  cat >"$tmp/idle2.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: "$tmp/idle2/*.jsonl", timestamp: ts, follow: true, watermark: {idle_timeout: 300ms}}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: u, combine: {n: count}}
    - type: WriteToFile
      config: {path: $tmp/idle2.out.jsonl}
options:
  workers: 2
  combiner_lifting: $lift
Y
  rm -f "$tmp/idle2.out.jsonl"
  "$weir" run "$tmp/idle2.yaml" --progress=never 2>"$tmp/idle2.err" &
  pid=$!
  sleep 1.5
  got=$(grep '"window_start":0,' "$tmp/idle2.out.jsonl" 2>/dev/null)
  kill -TERM $pid
  wait $pid
  rc=$?
  if [ "$got" = '{"u":"a","n":2,"window_start":0,"window_end":10000,"pane_timing":"ON_TIME","pane_index":0,"pane_last":true,"op":"+I"}' ] && [ $rc = 0 ]; then
    ok "idle partitions, 2 workers, combiner_lifting $lift: the window fires with every record"
  else
    bad "idle partitions, 2 workers, combiner_lifting $lift: the window fires with every record" "got=$got exit=$rc" "$(cat "$tmp/idle2.err")"
  fi
done

# --- weir kafka-dev: a Kafka-protocol cluster on 127.0.0.1 that kcat can use ---
if command -v kcat >/dev/null; then
  "$weir" kafka-dev --topic t:2 >"$tmp/kd.out" 2>"$tmp/kd.err" </dev/null &
  kd=$!
  for _ in $(seq 50); do [ -s "$tmp/kd.out" ] && break; sleep 0.1; done
  boot=$(head -1 "$tmp/kd.out")
  printf 'k1:{"a":1}\nk2:{"a":2}\n' | timeout 20 kcat -b "$boot" -t t -K: -P 2>>"$tmp/kd.err"
  got=$(timeout 20 kcat -b "$boot" -t t -C -e -q -X fetch.wait.max.ms=1 2>>"$tmp/kd.err" | sort | tr '\n' ' ')
  kill -TERM $kd
  wait $kd
  rc=$?
  if [ "$got" = '{"a":1} {"a":2} ' ] && [ $rc = 0 ] && [[ "$boot" == 127.0.0.1:* ]]; then
    ok "kafka-dev serves kcat and stops on SIGTERM"
  else
    bad "kafka-dev serves kcat and stops on SIGTERM" "bootstrap '$boot', got '$got', exit $rc" "$(cat "$tmp/kd.err")"
  fi
fi

# --- invalid pipelines exit 2 with FILE:LINE:COLUMN ---
printf 'pipeline:\n  transforms:\n    - type: ReadFromFile\n      config: {path: [x\n' >"$tmp/syntax.yaml"
expect_run "YAML syntax error" 2 "^$tmp/syntax.yaml:[0-9]+:[0-9]+: error: " -- run "$tmp/syntax.yaml"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: ReadFromFlie\n      config: {path: x}\n' >"$tmp/unknown.yaml"
expect_run "unknown transform" 2 "^$tmp/unknown.yaml:4:13: error: .*ReadFromFlie.*did you mean 'ReadFromFile'" -- validate "$tmp/unknown.yaml"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: Create\n      config: {elements: [{a: 1}]}\n    - type: Combine\n      windowng: {type: fixed, size: 10s}\n      config: {group_by: a, combine: {n: count}}\n    - type: LogForTesting\n' >"$tmp/key.yaml"
expect_run "misspelled key" 2 "^$tmp/key.yaml:7:7: error: unknown key 'windowng' \(did you mean 'windowing'\?\)" -- validate "$tmp/key.yaml"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: Create\n      config: {elements: [{a: 1}]}\n    - type: Combine\n      windowing: {type: fixed, size: 10parsecs}\n      config: {group_by: a, combine: {n: count}}\n    - type: LogForTesting\n' >"$tmp/dur.yaml"
expect_run "bad duration" 2 "^$tmp/dur.yaml:7:38: error: size: bad duration .10parsecs." -- validate "$tmp/dur.yaml"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: Create\n      config: {elements: [{a: 1}]}\n    - type: Filter\n      config: {keep: "a >"}\n    - type: LogForTesting\n' >"$tmp/expr.yaml"
expect_run "bad expression" 2 "^$tmp/expr.yaml:7:" -- validate "$tmp/expr.yaml"
expect_run "validate a good file" 0 "" -- validate examples/clicks_per_user.yaml
# an operator's message is prefixed once with the transform's name (not "Flatten: Flatten: ...")
printf 'pipeline:\n  transforms:\n    - type: Create\n      name: A\n      config: {elements: [{a: 1, b: 2}]}\n    - type: MapToFields\n      name: X\n      input: A\n      config: {fields: {a: a}}\n    - type: MapToFields\n      name: Y\n      input: A\n      config: {fields: {b: b, c: a}}\n    - type: Flatten\n      input: [X, Y]\n    - type: LogForTesting\n      input: Flatten\n' >"$tmp/flatten.yaml"
expect_run "Flatten of different fields" 2 "^$tmp/flatten.yaml:14:7: error: Flatten: its inputs must have the same fields: input 1 has \(a\), input 2 has \(b, c\)$" -- validate "$tmp/flatten.yaml"
[ "$(grep -o 'Flatten:' "$tmp/err" | wc -l)" = 1 ] && ok "one Flatten: prefix" || bad "one Flatten: prefix" "$(cat "$tmp/err")"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: Create\n      config: {elements: [{a: 1}]}\n    - type: Combine\n      config: {group_by: a, combine: {}}\n' >"$tmp/noagg.yaml"
expect_run "Combine without aggregates" 2 "^$tmp/noagg.yaml:6:7: error: Combine: no aggregates given$" -- validate "$tmp/noagg.yaml"
printf 'pipeline:\n  transforms:\n    - type: Create\n      name: A\n      config: {timestamp: t, elements: [{k: 1, t: 1}]}\n    - type: Create\n      name: B\n      config: {timestamp: t, elements: [{k: 1, t: 1}]}\n    - type: Join\n      input: {"": A, b: B}\n      windowing: {type: fixed, size: 10}\n      config: {equalities: k}\n    - type: LogForTesting\n      input: Join\n' >"$tmp/jointag.yaml"
expect_run "Join with an empty tag" 2 "^$tmp/jointag.yaml:9:7: error: Join: the tags of its inputs must differ and not be empty \('', 'b'\)$" -- validate "$tmp/jointag.yaml"
# the error classes of issue 7 not covered above: a dangling input, a cycle, a type error
printf 'pipeline:\n  transforms:\n    - type: Create\n      name: A\n      config: {elements: [{a: 1}]}\n    - type: LogForTesting\n      input: B\n' >"$tmp/dangling.yaml"
expect_run "dangling input" 2 "^$tmp/dangling.yaml:7:14: error: no transform named 'B' \(did you mean 'A'\?\)$" -- validate "$tmp/dangling.yaml"
printf 'pipeline:\n  transforms:\n    - type: Filter\n      name: F\n      input: G\n      config: {keep: "a > 0"}\n    - type: Filter\n      name: G\n      input: F\n      config: {keep: "a > 1"}\n    - type: LogForTesting\n      input: G\n' >"$tmp/cycle.yaml"
expect_run "cycle in the graph" 2 "^$tmp/cycle.yaml:3:7: error: the pipeline has a cycle through 'F'$" -- validate "$tmp/cycle.yaml"
printf 'pipeline:\n  type: chain\n  transforms:\n    - type: Create\n      config: {elements: [{a: 1}]}\n    - type: Filter\n      config: {keep: "1 + \\"x\\""}\n    - type: LogForTesting\n' >"$tmp/typeerr.yaml"
expect_run "type error in an expression" 2 "^$tmp/typeerr.yaml:7:25: error: keep: cannot apply '\+' to int and string$" -- validate "$tmp/typeerr.yaml"
# every problem at once, in source order, each at its node
expect_run "every problem at once" 2 "" -- validate tests/data/many_errors.yaml
expected='tests/data/many_errors.yaml:4:13: error: unknown transform type .ReadFromFlie. \(did you mean .ReadFromFile.\?\)
tests/data/many_errors.yaml:7:31: error: keep: expected an expression, found the end
tests/data/many_errors.yaml:9:7: error: unknown key .windowng. \(did you mean .windowing.\?\)
tests/data/many_errors.yaml:10:25: error: unknown window type .slidng. \(did you mean .sliding.\?\)
tests/data/many_errors.yaml:11:45: error: unknown aggregate .cnt.
tests/data/many_errors.yaml:13:33: error: unknown key .fromat. \(did you mean .format.\?\)
tests/data/many_errors.yaml:15:12: error: workers must be at least 1'
n=0
while IFS= read -r line; do
  n=$((n + 1))
  sed -n "${n}p" "$tmp/err" | grep -Eq "^$line" || { bad "error $n of many_errors.yaml" "expected /$line/" "got: $(sed -n "${n}p" "$tmp/err")"; n=-100; break; }
done <<<"$expected"
[ $n = 7 ] && [ "$(wc -l <"$tmp/err")" = 7 ] && ok "the seven errors, in order" || bad "the seven errors, in order" "$(cat "$tmp/err")"

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
