#!/usr/bin/env bash
# tests/e2e/run_kafka_eo.sh: end-to-end tests of WriteToKafka's exactly_once mode (transactions
# committed with checkpoints, connectors/kafka_txn.h) against `weir kafka-dev`, read back with
# kcat. A windowed pipeline (sliding windows, late firings, retracting panes) over an
# out-of-order file writes to a 3-partition topic; it is killed with SIGKILL at random moments
# and restarted (at 1-4 workers) until it ends. The mock cluster does not hide aborted or open
# transactions from read_committed consumers, so the test keeps the records whose `weir.txn`
# header names a transaction of the commit log, and must find each row of an uninterrupted run
# without checkpoints exactly once. Also: exactly_once without checkpoints is refused. (Fencing
# is not tested: the 2.0.2 mock cluster does not fence, two producers with one transactional.id
# both commit; verified.)
#   tests/e2e/run_kafka_eo.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
pass=0
fail=0
kd=
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$kd" ] && kill -TERM "$kd" 2>/dev/null && wait "$kd" 2>/dev/null
  exec 9>&- 2>/dev/null
  [ -n "${KEEP:-}" ] && { echo "kept $tmp"; return; }; rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

ooo_input 300000 30 >"$tmp/in.jsonl"

# pipeline SINK-CONFIG [checkpoint-dir [input [follow]]] (30 users: a few rows per window, so
# that the topics stay within the mock cluster's 5 MiB per partition)
pipeline() {
  cat <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: "${3:-$tmp/in.jsonl}", timestamp: ts, watermark: {max_out_of_orderness: 2s}${4:+, follow: true}}
    - type: Combine
      windowing:
        type: sliding
        size: 10s
        period: 2s
        allowed_lateness: 20s
        trigger: {type: after_watermark, late: {type: count, count: 1}}
        accumulation_mode: retracting
      config:
        group_by: [user]
        combine:
          clicks: count
          spent: {fn: sum, value: amount}
    - $1
options:
  workers: 2
EOF
  if [ -n "${2:-}" ]; then printf '  checkpoint: {dir: "%s", interval: 20ms}\n' "$2"; fi
}
eo_sink() { # TOPIC [extra config]
  echo "{type: WriteToKafka, config: {topic: $1, bootstrap_servers: \"$boot\", exactly_once: true${2:-}}}"
}
# committed TOPIC CHECKPOINT-DIR: the values of the records whose transaction the log lists
committed() {
  timeout 60 kcat -b "$boot" "${KC[@]}" -t "$1" -C -e -q -f '%p:%o\t%h\t%s\n' 2>>"$tmp/kcat.err" >"$tmp/all.tsv"
  cat "$2"/kafka-txn-*.log 2>/dev/null | awk '{print $1}' >"$tmp/txns"
  awk -F'\t' 'NR == FNR { c[$1] = 1; next }
    { t = $2; sub(/^.*weir\.txn=/, "", t); sub(/,.*$/, "", t); if (t in c) print $3 }' \
    "$tmp/txns" "$tmp/all.tsv"
}
same_rows() { # NAME ACTUAL
  if sort "$2" | cmp -s - "$tmp/ref.sorted"; then ok "$1"; else
    bad "$1" "$(sort "$2" | diff - "$tmp/ref.sorted" | head -6)" "($(wc -l <"$2") rows, expected $(wc -l <"$tmp/ref.sorted"))"; fi
}

# --- the reference: the same pipeline into a file, without checkpoints ---
pipeline "{type: WriteToFile, config: {path: \"$tmp/ref.jsonl\"}}" >"$tmp/ref.yaml"
if ! "$weir" run "$tmp/ref.yaml" --progress=never 2>"$tmp/ref.err" </dev/null || [ ! -s "$tmp/ref.jsonl" ]; then
  bad "the reference run" "$(tail -3 "$tmp/ref.err")"
  echo; echo "$pass passed, $fail failed"; exit 1
fi
sort "$tmp/ref.jsonl" >"$tmp/ref.sorted"

start_cluster plain:32 killed:32

# --- an uninterrupted exactly_once run: every record committed, each row once ---
pipeline "$(eo_sink plain ", key: user")" "$tmp/ck1" >"$tmp/plain.yaml"
if "$weir" run "$tmp/plain.yaml" --progress=never 2>"$tmp/plain.err" </dev/null; then
  committed plain "$tmp/ck1" >"$tmp/got.jsonl"
  same_rows "exactly_once, uninterrupted (2 workers): the committed records are the rows of a run without checkpoints" "$tmp/got.jsonl"
  n_all=$(wc -l <"$tmp/all.tsv")
  n_ref=$(wc -l <"$tmp/ref.sorted")
  if [ "$n_all" = "$n_ref" ] && ! grep -qv 'weir\.txn=' "$tmp/all.tsv"; then
    ok "and the topic holds nothing else, each record with its weir.txn header"
  else
    bad "the topic after an uninterrupted run" "$n_all records, expected $n_ref"
  fi
else
  bad "exactly_once, uninterrupted" "$(tail -3 "$tmp/plain.err")"
fi
# run again on the finished checkpoints: nothing is left to do, and the sink closes with no
# transaction held (under UBSan, a memmove of its empty segment list once failed here)
if "$weir" run "$tmp/plain.yaml" --progress=never 2>"$tmp/again.err" </dev/null &&
  grep -q "nothing is left to do" "$tmp/again.err" && ! grep -q "runtime error" "$tmp/again.err"; then
  ok "run again after the end: nothing left to do, exit 0"
else
  bad "run again after the end" "$(tail -5 "$tmp/again.err")"
fi

# --- kill -9 at random moments, restart at 1-4 workers, until the run ends ---
pipeline "$(eo_sink killed)" "$tmp/ck2" >"$tmp/killed.yaml"
kills=0
rc=x
for i in $(seq 40); do # the 40th run is let finish (a slow build, e.g. the sanitizer one)
  "$weir" run "$tmp/killed.yaml" --progress=never --set options.workers=$((RANDOM % 4 + 1)) \
    >/dev/null 2>>"$tmp/kill.err" </dev/null &
  pid=$!
  pids+=("$pid")
  # each run is let commit a transaction of its own (so every run makes progress), then killed
  # at a random moment up to 10 ms later (the checkpoints come every 20 ms): while producing,
  # committing, or between. (With 0.1 s, a release build's resumed run could finish first: the
  # whole pipeline takes about 0.2 s.)
  before=$(cat "$tmp/ck2"/kafka-txn-*.log 2>/dev/null | wc -l)
  for _ in $(seq 2000); do
    [ "$(cat "$tmp/ck2"/kafka-txn-*.log 2>/dev/null | wc -l)" -gt "$before" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
  done
  sleep "0.00$((RANDOM % 10))"
  if [ "$i" -lt 40 ] && kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
  else
    wait "$pid"
    rc=$?
    break
  fi
done
committed killed "$tmp/ck2" >"$tmp/got.jsonl"
if [ "$rc" = 0 ] && [ "$kills" -ge 2 ]; then
  n_dropped=$(($(wc -l <"$tmp/all.tsv") - $(wc -l <"$tmp/got.jsonl")))
  # recoveries: log lines whose transaction commits segments another instance held
  n_rec=$(awk '{ split($1, t, "."); for (i = 2; i <= NF; i++) { split($i, g, "."); if (g[1] != t[1]) { n++; break } } } END { print n + 0 }' "$tmp/ck2"/kafka-txn-*.log)
  same_rows "kill -9 $kills times (1-4 workers): each row exactly once among the committed records ($n_dropped records of aborted or open transactions left out, $n_rec transactions recovered from a checkpoint)" "$tmp/got.jsonl"
else
  bad "exactly_once, kill -9 and restart" "exit $rc after $kills kills" "$(grep -v resuming "$tmp/kill.err" | tail -3)"
fi

# --- exactly_once needs checkpoints ---
pipeline "$(eo_sink plain)" >"$tmp/nock.yaml"
expect_run "exactly_once without options.checkpoint is refused" 2 "exactly_once .*needs options.checkpoint" -- \
  run "$tmp/nock.yaml"

stop_cluster
echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
