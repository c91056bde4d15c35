#!/usr/bin/env bash
# tests/e2e/run_checkpoint.sh: end-to-end tests of checkpoints in the built `weir` command
# (issue #5): a windowed pipeline (sliding windows, allowed lateness, early and late triggers,
# retracting mode) over an out-of-order input is killed with SIGKILL at random moments and
# restarted with the same command (at random worker counts) until it ends; its output file must
# then equal, as a multiset of lines, the output of an uninterrupted run WITHOUT checkpoints.
# Also: SIGTERM takes a last checkpoint and the next run resumes (1 -> 2 -> 4 workers), weir
# checkpoints, --from-checkpoint rolling the file back, --fresh, damaged and incomplete
# checkpoints, a second run on the same directory, and the checks of options.checkpoint.
#   tests/e2e/run_checkpoint.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
. "$src/tests/e2e/lib.sh"

# --- the input: 250000 records, out of order, some late (lib.sh) ---
ooo_input 250000 >"$tmp/in.jsonl"

pipeline() { # OUT [checkpoint-dir]; reads ${IN:-$tmp/in.jsonl}, followed if FOLLOW is set
  local in=${IN:-$tmp/in.jsonl}
  cat <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromFile
      config: {path: "$in", timestamp: ts, watermark: {max_out_of_orderness: 2s}${FOLLOW:+, follow: true}}
    - type: Combine
      windowing:
        type: sliding
        size: 10s
        period: 2s
        allowed_lateness: 20s
        trigger: {type: after_watermark, early: {type: count, count: 5}, late: {type: count, count: 1}}
        accumulation_mode: retracting
      config:
        group_by: [user]
        combine:
          clicks: count
          spent: {fn: sum, value: amount}
    - type: WriteToFile
      config: {path: "$1"}
options:
  workers: 2
EOF
  if [ -n "${2:-}" ]; then printf '  checkpoint: {dir: "%s", interval: 50ms}\n' "$2"; fi
}

pipeline "$tmp/ref.jsonl" >"$tmp/plain.yaml"
"$weir" run "$tmp/plain.yaml" --progress=never 2>"$tmp/plain.err" </dev/null
if [ $? != 0 ] || [ ! -s "$tmp/ref.jsonl" ]; then
  bad "the uninterrupted run" "$(tail -3 "$tmp/plain.err")"
  echo; echo "$pass passed, $fail failed"; exit 1
fi
sort "$tmp/ref.jsonl" >"$tmp/ref.sorted"
ck="$tmp/chk"
pipeline "$tmp/out.jsonl" "$ck" >"$tmp/ck.yaml"

same_sorted() { # NAME FILE
  if sort "$2" | cmp -s - "$tmp/ref.sorted"; then ok "$1"; else
    bad "$1" "$(sort "$2" | diff - "$tmp/ref.sorted" | head -6)"; fi
}

# --- kill -9 at random moments, restart at random worker counts, until the run ends ---
kills=0
rc=x
for i in $(seq 60); do # the 60th run is let finish (a slow build, e.g. the sanitizer one)
  "$weir" run "$tmp/ck.yaml" --progress=never --set options.workers=$((RANDOM % 4 + 1)) \
    >/dev/null 2>>"$tmp/kill.err" </dev/null &
  pid=$!
  pids+=("$pid")
  sleep "0.$((RANDOM % 2))$((RANDOM % 10))" # 0-0.19 s
  if [ "$i" -lt 60 ] && kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
  else
    wait "$pid"
    rc=$?
    break
  fi
done
# a fast build may finish before a third kill: one kill at least, and the output complete
if [ "$rc" = 0 ] && [ "$kills" -ge 1 ] && sort "$tmp/out.jsonl" | cmp -s - "$tmp/ref.sorted"; then
  ok "kill -9 at random moments ($kills times, 1-4 workers): output equals an uninterrupted run's"
else
  bad "kill -9 and restart" "exit $rc after $kills kills" "$(grep -v resuming "$tmp/kill.err" | tail -3)"
fi

# --- SIGTERM takes a last checkpoint, exit 0; the next run resumes: 1 -> 2 -> 4 workers. The
# first two runs follow a file that grows by a third before each run, so neither can end on its
# own before its SIGTERM, however fast the machine; the third reads the same file to its end. ---
rm -rf "$ck" "$tmp/out.jsonl"
IN="$tmp/grow.jsonl" FOLLOW=1 pipeline "$tmp/out.jsonl" "$ck" >"$tmp/follow.yaml"
IN="$tmp/grow.jsonl" pipeline "$tmp/out.jsonl" "$ck" >"$tmp/grow.yaml"
n_in=$(wc -l <"$tmp/in.jsonl")
: >"$tmp/grow.jsonl"
term_ok=1
term_why=""
for w in 1 2; do
  sed -n "$(((w - 1) * n_in / 3 + 1)),$((w * n_in / 3))p" "$tmp/in.jsonl" >>"$tmp/grow.jsonl"
  before=$("$weir" checkpoints "$ck" 2>/dev/null | grep -c ' complete$')
  "$weir" run "$tmp/follow.yaml" --progress=never --set options.workers=$w >/dev/null 2>"$tmp/term.err" </dev/null &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 400); do # until this run has completed a checkpoint of its own (at most 20 s)
    [ "$("$weir" checkpoints "$ck" 2>/dev/null | grep -c ' complete$')" -gt "$before" ] && break
    sleep 0.05
  done
  sleep 0.1
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  [ $rc = 0 ] || { term_ok=0; term_why="$term_why; run at $w workers: exit $rc: $(tail -1 "$tmp/term.err")"; }
  "$weir" checkpoints "$ck" >"$tmp/list" 2>&1 || term_ok=0
  tail -1 "$tmp/list" | grep -q ' final (stopped)$' || { term_ok=0; term_why="$term_why; run at $w workers: no final (stopped) checkpoint"; }
done
sed -n "$((2 * n_in / 3 + 1)),\$p" "$tmp/in.jsonl" >>"$tmp/grow.jsonl"
"$weir" run "$tmp/grow.yaml" --progress=never --set options.workers=4 >/dev/null 2>"$tmp/term4.err" </dev/null
rc=$?
if [ $term_ok = 1 ] && [ $rc = 0 ] && grep -q 'resuming from checkpoint' "$tmp/term4.err" &&
  sort "$tmp/out.jsonl" | cmp -s - "$tmp/ref.sorted"; then
  ok "SIGTERM: a last checkpoint, exit 0; resumed at 1 -> 2 -> 4 workers, same output"
else
  bad "SIGTERM and resume at 1 -> 2 -> 4 workers" "exit $rc, term_ok $term_ok$term_why" "$(cat "$tmp/list")" "$(tail -2 "$tmp/term4.err")"
fi

cp "$tmp/grow.yaml" "$tmp/ck.yaml" # the checkpoints below are of grow.jsonl, now whole

# --- the same command after the run ended does nothing, and says so ---
expect_run "a run after the end has nothing to do" 0 "taken after every input ended: nothing is left to do" -- \
  run "$tmp/ck.yaml" --progress=never
same_sorted "and leaves the output as it was" "$tmp/out.jsonl"

# --- weir checkpoints ---
expect_run "weir checkpoints lists them" 0 "" -- checkpoints "$ck"
cp "$tmp/out" "$tmp/listing"
if head -1 "$tmp/out" | grep -q '^ID .*STATE' && [ "$(grep -c ' complete$\| final (.*)$' "$tmp/out")" -ge 2 ]; then
  ok "weir checkpoints: header, complete and final ones"
else
  bad "weir checkpoints output" "$(cat "$tmp/out")"
fi
n_kept=$(($(wc -l <"$tmp/listing") - 1))
if [ "$n_kept" -le 3 ]; then ok "retention keeps at most retain (3) checkpoints"; else
  bad "retention" "$n_kept checkpoints kept" "$(cat "$tmp/listing")"; fi
expect_run "weir checkpoints of a missing directory" 1 "no such directory" -- checkpoints "$tmp/nothing"
expect_run "weir checkpoints needs a directory" 2 "one directory" -- checkpoints

# --- --from-checkpoint: the file is cut back to what that checkpoint published, then redone ---
oldest=$(sed -n 2p "$tmp/listing" | awk '{print $1}')
newest=$(tail -1 "$tmp/listing" | awk '{print $1}')
printf 'not committed\n' >>"$tmp/out.jsonl"
"$weir" run "$tmp/ck.yaml" --progress=never --from-checkpoint "$oldest" >/dev/null 2>"$tmp/from.err" </dev/null
rc=$?
if [ $rc = 0 ] && [ ! -d "$ck/chk-$newest" ] && sort "$tmp/out.jsonl" | cmp -s - "$tmp/ref.sorted"; then
  ok "--from-checkpoint $oldest: later checkpoints deleted, the file rolled back and redone"
else
  bad "--from-checkpoint" "exit $rc" "$(tail -3 "$tmp/from.err")"
fi
expect_run "--from-checkpoint of one that is not there" 1 "no checkpoint 999" -- \
  run "$tmp/ck.yaml" --progress=never --from-checkpoint 999
expect_run "--from-checkpoint needs a number" 2 "needs a checkpoint number" -- \
  run "$tmp/ck.yaml" --from-checkpoint x

# --- damaged and incomplete checkpoints ---
rm -rf "$ck"
"$weir" run "$tmp/ck.yaml" --progress=never >/dev/null 2>&1 </dev/null &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do # until two complete checkpoints exist (or the run ended)
  [ "$("$weir" checkpoints "$ck" 2>/dev/null | grep -c ' complete$\| final (.*)$')" -ge 2 ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$weir" checkpoints "$ck" >"$tmp/list" 2>&1
last=$(grep ' complete$\| final (.*)$' "$tmp/list" | tail -1 | awk '{print $1}')
if [ -z "$last" ]; then
  bad "a checkpoint to damage" "$(cat "$tmp/list")"
else
  f="$ck/chk-$last/worker-0.state"
  cp "$f" "$tmp/saved.state"
  printf '\x5a' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
  expect_run "a damaged checkpoint stops the run, naming the file" 1 "checkpoint $last is damaged: .*worker-0.state: checksum mismatch.*--from-checkpoint" -- \
    run "$tmp/ck.yaml" --progress=never
  expect_run "weir checkpoints shows it damaged (exit 1)" 1 "" -- checkpoints "$ck"
  grep -q "^$last .*damaged: .*checksum mismatch" "$tmp/out" && ok "weir checkpoints: damaged, with the reason" ||
    bad "weir checkpoints damaged line" "$(cat "$tmp/out")"
  cp "$tmp/saved.state" "$f"
  truncate -s 100 "$f"
  expect_run "a truncated state file is refused" 1 "worker-0.state: truncated" -- run "$tmp/ck.yaml" --progress=never
  cp "$tmp/saved.state" "$f"
  rm "$ck/chk-$last/MANIFEST"
  "$weir" run "$tmp/ck.yaml" --progress=never >/dev/null 2>"$tmp/inc.err" </dev/null
  rc=$?
  if [ $rc = 0 ] && grep -q "checkpoint $last never completed; skipped" "$tmp/inc.err" &&
    sort "$tmp/out.jsonl" | cmp -s - "$tmp/ref.sorted"; then
    ok "a checkpoint without MANIFEST is skipped for the previous one; output exact"
  else
    bad "incomplete checkpoint" "exit $rc" "$(tail -3 "$tmp/inc.err")"
  fi
fi

# --- --fresh, and one run per directory ---
printf 'old\n' >"$tmp/out.jsonl"
expect_run "--fresh starts over" 0 "" -- run "$tmp/ck.yaml" --progress=never --fresh
if grep -q resuming "$tmp/err"; then bad "--fresh resumed" "$(cat "$tmp/err")"; else same_sorted "--fresh output" "$tmp/out.jsonl"; fi
"$weir" run "$tmp/ck.yaml" --progress=never --fresh >/dev/null 2>&1 </dev/null &
pid=$!
pids+=("$pid")
sleep 0.1
expect_run "a second run on the same checkpoint directory is refused" 1 "another weir run uses the checkpoint directory" -- \
  run "$tmp/ck.yaml" --progress=never
wait "$pid"

# --- the checks of options.checkpoint ---
pipeline "$tmp/o.jsonl" >"$tmp/bad.yaml"
printf '  checkpoint: {interval: 1s}\n' >>"$tmp/bad.yaml"
expect_run "checkpoint without dir" 2 "bad.yaml:[0-9]+:[0-9]+: error: checkpoint needs dir" -- validate "$tmp/bad.yaml"
pipeline "$tmp/o.jsonl" >"$tmp/bad.yaml"
printf '  checkpoint: {dir: x, interval: soon}\n' >>"$tmp/bad.yaml"
expect_run "bad interval" 2 "bad.yaml:23:[0-9]+: error: .*interval" -- validate "$tmp/bad.yaml"
pipeline "$tmp/o.jsonl" >"$tmp/bad.yaml"
printf '  checkpoint: {dir: x, retian: 2}\n' >>"$tmp/bad.yaml"
expect_run "misspelled key in checkpoint" 2 "unknown key" -- validate "$tmp/bad.yaml"
grep -q "did you mean 'retain'" "$tmp/err" && ok "misspelled retain: did you mean" || bad "did you mean retain" "$(cat "$tmp/err")"
expect_run "--fresh without checkpoints" 2 "--fresh needs options.checkpoint" -- run "$tmp/plain.yaml" --fresh
expect_run "help run documents checkpoints" 0 "" -- help run
grep -q -- "--from-checkpoint" "$tmp/out" && ok "help run: --from-checkpoint" || bad "help run" "$(cat "$tmp/out")"

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
