#!/usr/bin/env bash
# tests/e2e/run_csv.sh: end-to-end tests of format csv in the built `weir` command: a windowed
# Combine over CSV (declared and inferred columns, 1-3 workers), CSV to JSON, JSON to CSV, bad
# records stopping the run with PATH:LINE, error_handling, header errors, follow, and the checks
# of `weir validate`. Expected outputs are written out here by hand.
#   tests/e2e/run_csv.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

. "$(dirname "$0")/lib.sh"

# --- a windowed Combine over CSV: the same output as over the JSON lines of the same clicks ---
expected="$src/examples/clicks_per_user.expected.jsonl"
expect_run "clicks_per_user_csv.yaml runs" 0 "read 10 records, wrote 6, dropped 1 as late" -- \
  run examples/clicks_per_user_csv.yaml --progress=never \
  --set "pipeline.transforms[3].config.path=$tmp/clicks.jsonl"
same_file "clicks_per_user_csv.yaml output" "$tmp/clicks.jsonl" "$expected"
same_file "the example's expected output is the JSON example's" \
  "$src/examples/clicks_per_user_csv.expected.jsonl" "$expected"

# without the declared columns every cell is inferred, to the same values
sed '/columns:/,/amount: int/d' "$src/examples/clicks_per_user_csv.yaml" >"$tmp/inferred.yaml"
if grep -Eq '^ +columns:' "$tmp/inferred.yaml"; then bad "inferred pipeline prepared"; fi
for w in 1 2 3; do
  expect_run "inferred columns, $w workers" 0 "read 10 records, wrote 6" -- run "$tmp/inferred.yaml" \
    --progress=never --set "options.workers=$w" --set "pipeline.transforms[3].config.path=$tmp/inf$w.jsonl"
  sort "$tmp/inf$w.jsonl" >"$tmp/inf$w.sorted"
  sort "$expected" >"$tmp/expected.sorted"
  same_file "inferred columns, $w workers: the same rows" "$tmp/inf$w.sorted" "$tmp/expected.sorted"
done

# --- CSV to JSON: every column passes through as a typed member ---
printf '%s\r\n' 'ts,user,amount,ok,note' '1000,alice,5,true,"hello, ""world"""' '2000,bob,,false,""' >"$tmp/in.csv"
printf '%s\n' '3000,"two' 'lines",0.5,x,café' '4000,dave,007,TRUE,plain' >>"$tmp/in.csv"
cat >"$tmp/to_json.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: $tmp/in.csv, format: csv, timestamp: ts}
    - type: WriteToFile
      config: {path: $tmp/to_json.jsonl, format: json}
Y
cat >"$tmp/to_json.expected" <<'E'
{"ts":1000,"user":"alice","amount":5,"ok":true,"note":"hello, \"world\""}
{"ts":2000,"user":"bob","amount":null,"ok":false,"note":""}
{"ts":3000,"user":"two\nlines","amount":0.5,"ok":"x","note":"café"}
{"ts":4000,"user":"dave","amount":"007","ok":true,"note":"plain"}
E
expect_run "CSV to JSON" 0 "read 4 records, wrote 4" -- run "$tmp/to_json.yaml" --progress=never
same_file "CSV to JSON output" "$tmp/to_json.jsonl" "$tmp/to_json.expected"

# a Filter over CSV with declared types, to CSV with another delimiter (columns listed)
cat >"$tmp/csv_csv.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config:
        path: $tmp/in.csv
        format: csv
        timestamp: ts
        columns: {amount: float, note: string}
    - type: Filter
      config: {keep: "amount > 0.1"}
    - type: WriteToFile
      config: {path: $tmp/csv_csv.csv, format: csv, delimiter: ";", columns: [note, user, amount]}
Y
printf '%s\n' 'note;user;amount' '"hello, ""world""";alice;5.0' 'café;"two' 'lines";0.5' 'plain;dave;7.0' >"$tmp/csv_csv.expected"
expect_run "CSV to CSV through a Filter" 0 "read 4 records, wrote 3" -- run "$tmp/csv_csv.yaml" --progress=never
same_file "CSV to CSV output" "$tmp/csv_csv.csv" "$tmp/csv_csv.expected"

# --- JSON to CSV ---
cat >"$tmp/json_csv.yaml" <<Y
pipeline:
  transforms:
    - type: ReadFromFile
      name: In
      config: {path: examples/data/clicks.jsonl, timestamp: ts}
    - type: WriteToFile
      input: In
      config: {path: $tmp/clicks.csv, format: csv, columns: [ts, user, amount, page]}
    - type: Combine
      input: In
      windowing: {type: fixed, size: 10s}
      config: {group_by: user, combine: {n: count}}
    - type: WriteToFile
      input: Combine
      config: {path: $tmp/counts.csv, format: csv}
options:
  workers: 1
Y
# no out-of-orderness: 8000 (after 12000) and 3000 (after 21000) are late; in a pane, keys in the
# order they were first seen
cat >"$tmp/counts.expected" <<'E'
user,n,window_start,window_end,pane_timing,pane_index,pane_last,op
alice,3,0,10000,ON_TIME,0,true,+I
bob,1,0,10000,ON_TIME,0,true,+I
bob,1,10000,20000,ON_TIME,0,true,+I
alice,1,10000,20000,ON_TIME,0,true,+I
carol,1,20000,30000,ON_TIME,0,true,+I
alice,1,20000,30000,ON_TIME,0,true,+I
E
expect_run "JSON to CSV" 0 "read 10 records, wrote 16, dropped 2 as late" -- run "$tmp/json_csv.yaml" --progress=never
same_file "JSON to CSV: the clicks as CSV" "$tmp/clicks.csv" "$src/examples/data/clicks.csv"
same_file "JSON to CSV: a Combine's rows" "$tmp/counts.csv" "$tmp/counts.expected"

# a CSV sink over pass-through rows must be told its columns
cat >"$tmp/nocols.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: examples/data/clicks.jsonl}
    - type: WriteToFile
      config: {path: $tmp/nocols.csv, format: csv}
Y
expect_run "CSV sink without columns over pass-through rows" 2 \
  "nocols.yaml:6:7: error: WriteToFile: format csv needs its columns, .*list them in 'columns'" \
  -- validate "$tmp/nocols.yaml"

# --- bad records stop the run with PATH:LINE (the line where the record starts) ---
mk() { # NAME CSV [COLUMNS]: a pipeline reading $tmp/NAME.csv
  printf '%s' "$2" >"$tmp/$1.csv"
  cat >"$tmp/$1.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: $tmp/$1.csv, format: csv, timestamp: ts${3:+, columns: $3}}
    - type: WriteToFile
      config: {path: $tmp/$1.out.jsonl}
Y
}
mk cells $'ts,a\n1,"x\ny"\n2,3,4\n'
expect_run "wrong number of cells" 1 "^weir: error: $tmp/cells.csv:4: 3 cells, but the header has 2 columns$" -- run "$tmp/cells.yaml" --progress=never
mk open $'ts,a\n1,2\n\n2,"open\n3,4\n'
expect_run "unterminated quote" 1 "^weir: error: $tmp/open.csv:4: cell 2: a quoted cell is not closed" -- run "$tmp/open.yaml" --progress=never
mk stray $'ts,a\n1,5"\n'
expect_run "quote in an unquoted cell" 1 "^weir: error: $tmp/stray.csv:2: cell 2: a quote inside an unquoted cell" -- run "$tmp/stray.yaml" --progress=never
mk typed $'ts,a\n1,2\n2,two\n' '{a: int}'
expect_run "cell not of its declared type" 1 "^weir: error: $tmp/typed.csv:3: column 'a': \"two\" is not an int$" -- run "$tmp/typed.yaml" --progress=never
mk nots $'ts,a\n1,2\n,3\n'
expect_run "missing timestamp" 1 "^weir: error: $tmp/nots.csv:3: missing timestamp field 'ts'$" -- run "$tmp/nots.yaml" --progress=never
mk badts $'ts,a\nsoon,1\n'
expect_run "unparseable timestamp" 1 "^weir: error: $tmp/badts.csv:2: .*neither an integer nor RFC 3339" -- run "$tmp/badts.yaml" --progress=never
mk rfc $'ts,a\n2024-01-02T03:04:05.678Z,1\n'
expect_run "RFC 3339 timestamp" 0 "read 1 records" -- run "$tmp/rfc.yaml" --progress=never
echo '{"ts":"2024-01-02T03:04:05.678Z","a":1}' >"$tmp/rfc.expected"
same_file "RFC 3339 timestamp passes through as its text" "$tmp/rfc.out.jsonl" "$tmp/rfc.expected"

# header errors name the file
mk empty ''
expect_run "empty file: no header" 1 "^weir: error: $tmp/empty.csv: no header line" -- run "$tmp/empty.yaml" --progress=never
mk dup $'ts,a,a\n1,2,3\n'
expect_run "duplicate column" 1 "^weir: error: $tmp/dup.csv:1: the header names column 'a' twice" -- run "$tmp/dup.yaml" --progress=never
mk nocol $'t,a\n1,2\n'
expect_run "no timestamp column" 1 "^weir: error: $tmp/nocol.csv:1: the header has no column 'ts'" -- run "$tmp/nocol.yaml" --progress=never
mk missing $'ts,a\n'
rm "$tmp/missing.csv"
expect_run "missing input file" 1 "^weir: error: $tmp/missing.csv: No such file or directory" -- run "$tmp/missing.yaml" --progress=never

# --- error_handling: bad records become rows and the run goes on ---
printf '%s\n' 'ts,a' '1,1' '2,2,2' '3,"x' 'y"' '4,4' >"$tmp/eh.csv"
cat >"$tmp/eh.yaml" <<Y
pipeline:
  transforms:
    - type: ReadFromFile
      name: In
      config:
        path: $tmp/eh.csv
        format: csv
        timestamp: ts
        columns: {a: int}
        error_handling: {output: bad}
    - type: WriteToFile
      input: In
      config: {path: $tmp/eh.good.jsonl}
    - type: WriteToFile
      input: In.bad
      config: {path: $tmp/eh.bad.jsonl}
Y
printf '%s\n' '{"ts":1,"a":1}' '{"ts":4,"a":4}' >"$tmp/eh.good.expected"
cat >"$tmp/eh.bad.expected" <<E
{"error":"3 cells, but the header has 2 columns","source":"$tmp/eh.csv:3","record":"2,2,2"}
{"error":"column 'a': \"x?y\" is not an int","source":"$tmp/eh.csv:4","record":"3,\"x\ny\""}
E
expect_run "error_handling output" 0 "read 2 records, wrote 4, dropped 0 as late, 2 errors" -- run "$tmp/eh.yaml" --progress=never
same_file "error_handling: good rows" "$tmp/eh.good.jsonl" "$tmp/eh.good.expected"
same_file "error_handling: error rows" "$tmp/eh.bad.jsonl" "$tmp/eh.bad.expected"

# --- follow: a record written in two parts is read once it is whole ---
printf 'ts,u\n1,a\n2,"b' >"$tmp/follow.csv"
cat >"$tmp/follow.yaml" <<Y
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: $tmp/follow.csv, format: csv, timestamp: ts, follow: true}
    - type: WriteToFile
      config: {path: $tmp/follow.out.jsonl}
options:
  workers: 1
Y
"$weir" run "$tmp/follow.yaml" --progress=never 2>"$tmp/follow.err" &
pid=$!
sleep 0.5
printf '\nc"\n3,d\n' >>"$tmp/follow.csv"
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
printf '%s\n' '{"ts":1,"u":"a"}' '{"ts":2,"u":"b\nc"}' '{"ts":3,"u":"d"}' >"$tmp/follow.expected"
if [ $rc = 0 ]; then ok "follow: SIGTERM ends the run"; else bad "follow: SIGTERM ends the run" "exit $rc" "$(cat "$tmp/follow.err")"; fi
same_file "follow: the record cut in two is read whole" "$tmp/follow.out.jsonl" "$tmp/follow.expected"

# --- weir validate: the keys of format csv ---
cat >"$tmp/invalid.yaml" <<Y
pipeline:
  transforms:
    - type: ReadFromFile
      name: A
      config: {path: a.csv, format: csv, delimiter: ";;", columns: {a: integr, b: timestamp}}
    - type: ReadFromFile
      name: B
      config: {path: b.jsonl, format: json, delimiter: ","}
    - type: ReadFromFile
      name: C
      config: {path: c.csv, format: csv, columns: [a, b], quote: "'"}
    - type: WriteToFile
      input: A
      config: {path: out.csv, format: csv, columns: {a: int}}
    - type: WriteToFile
      input: B
      config: {path: out2.csv, format: xml}
    - type: WriteToFile
      input: C
      config: {path: out3.csv, format: csv, columns: [a, a]}
Y
expect_run "validate: csv settings" 2 "" -- validate "$tmp/invalid.yaml"
for want in \
  "invalid.yaml:5:53: error: delimiter must be one character other than a quote, CR or LF" \
  "invalid.yaml:5:72: error: unknown column type 'integr' \\(int, float, string, bool, timestamp\\)" \
  "invalid.yaml:8:56: error: delimiter is a setting of format csv" \
  "invalid.yaml:11:59: error: unknown key 'quote'" \
  "invalid.yaml:11:51: error: columns must be a map of column name to type" \
  "invalid.yaml:14:53: error: columns must be a list of the fields to write, in order" \
  "invalid.yaml:17:40: error: unknown format 'xml' \\(json or csv\\)" \
  "invalid.yaml:20:58: error: column 'a' is listed twice"; do
  if grep -Eq -- "$want" "$tmp/err"; then ok "validate: $want"; else bad "validate: $want" "$(cat "$tmp/err")"; fi
done
expect_run "validate: the CSV example" 0 "" -- validate examples/clicks_per_user_csv.yaml

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
