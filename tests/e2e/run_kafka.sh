#!/usr/bin/env bash
# tests/e2e/run_kafka.sh: end-to-end tests of ReadFromKafka and WriteToKafka against
# `weir kafka-dev` (librdkafka's mock cluster on 127.0.0.1), with kcat as an independent Kafka
# client: kcat produces the input and consumes the output. Each test starts its own cluster and
# stops it; faults are injected through kafka-dev's control commands on its standard input.
#   tests/e2e/run_kafka.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
weir="$build/weir"
tmp=$(mktemp -d)
pass=0
fail=0
kd=
cleanup() {
  [ -n "$kd" ] && kill -TERM "$kd" 2>/dev/null && wait "$kd" 2>/dev/null
  # a weir run a failed check left behind (the group handover test starts two)
  for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null; done
  exec 9>&- 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/kafka_lib.sh"

# keyed input lines from examples/data/clicks.jsonl: user:record
keyed_clicks() {
  sed -E 's/^(.*"user":"([a-z]+)".*)$/\2:\1/' "$src/examples/data/clicks.jsonl"
}
sorted_same() { # NAME ACTUAL EXPECTED
  if diff <(sort "$2") <(sort "$3") >"$tmp/diff"; then ok "$1"; else bad "$1" "$(head -10 "$tmp/diff")"; fi
}

# --- kcat in, windowed pipeline, kcat out: the clicks example through Kafka ---
for w in 1 2 3; do
  start_cluster clicks:1 clicks_per_user:2
  keyed_clicks | produce clicks
  (cd "$src" && timeout 60 "$weir" run examples/kafka_clicks_per_user.yaml --progress=never \
    --set options.workers=$w >"$tmp/run.out" 2>"$tmp/run.err" </dev/null)
  rc=$?
  consume clicks_per_user >"$tmp/got.jsonl"
  if [ $rc != 0 ]; then
    bad "kcat -> windowed counts -> kcat ($w workers)" "exit $rc" "$(tail -5 "$tmp/run.err")"
  else
    sorted_same "kcat -> windowed counts -> kcat ($w workers)" "$tmp/got.jsonl" \
      "$src/examples/kafka_clicks_per_user.expected.jsonl"
  fi
  # each record: key = user, timestamp = window_end - 1 (windowing.md §7), value as documented
  timeout 30 kcat -b "$boot" "${KC[@]}" -t clicks_per_user -C -e -q -f '%k %T %s\n' >"$tmp/kts" 2>>"$tmp/kcat.err"
  sed -E 's/^(\{"user":"([a-z]+)".*"window_end":([0-9]+),.*)$/\2 \3 \1/' "$src/examples/kafka_clicks_per_user.expected.jsonl" |
    awk '{ $2 -= 1; print }' >"$tmp/kts.expected"
  sorted_same "record keys and timestamps ($w workers)" "$tmp/kts" "$tmp/kts.expected"
  # the records are keyed by user: every row of one user lands in one partition
  timeout 30 kcat -b "$boot" "${KC[@]}" -t clicks_per_user -C -e -q -f '%k %p\n' 2>>"$tmp/kcat.err" |
    sort -u >"$tmp/keys"
  if [ "$(cut -d' ' -f1 "$tmp/keys" | uniq -d)" = "" ] && [ "$(wc -l <"$tmp/keys")" = 3 ]; then
    ok "output keyed by user ($w workers)"
  else
    bad "output keyed by user ($w workers)" "$(cat "$tmp/keys")"
  fi
  stop_cluster
done

# --- the demo script (the README's main job) ---
(cd "$src" && WEIR="$weir" OUT="$tmp/demo.jsonl" timeout 120 bash scripts/demo.sh >"$tmp/demo.out" 2>"$tmp/demo.err" </dev/null)
rc=$?
if [ $rc = 0 ]; then
  sorted_same "scripts/demo.sh output" "$tmp/demo.jsonl" "$src/examples/kafka_clicks_per_user.expected.jsonl"
else
  bad "scripts/demo.sh runs" "exit $rc" "$(tail -5 "$tmp/demo.err")"
fi

# --- several partitions, each with its own watermark: in-order data per partition ---
# 3 partitions, keys k0..k5, 600 records; record i: ts = i * 100 (so windows of 10 s hold 100
# records), key k(i mod 6). kcat spreads them by key; each partition is in order, so nothing is
# late and the per-key counts are known: every key has 100 records in total, 16 or 17 per window.
start_cluster events:3 counts:1
for i in $(seq 0 599); do echo "k$((i % 6)):{\"k\":\"k$((i % 6))\",\"ts\":$((i * 100)),\"v\":1}"; done | produce events
cat >"$tmp/parts.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: events, bootstrap_servers: "$boot", timestamp: ts, bounded: true}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: k, combine: {n: count}}
    - type: WriteToKafka
      config: {topic: counts, bootstrap_servers: "$boot", key: k}
options: {workers: 2}
EOF
timeout 60 "$weir" run "$tmp/parts.yaml" --progress=never >/dev/null 2>"$tmp/run.err" </dev/null
rc=$?
consume counts >"$tmp/counts.jsonl"
# expected: for window s (0, 10000, ... 50000) the records i in [s/100, s/100 + 100), per key
for s in 0 10000 20000 30000 40000 50000; do
  for k in 0 1 2 3 4 5; do
    n=0
    for i in $(seq $((s / 100)) $((s / 100 + 99))); do [ $((i % 6)) = $k ] && n=$((n + 1)); done
    echo "{\"k\":\"k$k\",\"n\":$n,\"window_start\":$s,\"window_end\":$((s + 10000)),\"pane_timing\":\"ON_TIME\",\"pane_index\":0,\"pane_last\":true,\"op\":\"+I\"}"
  done
done >"$tmp/counts.expected"
if [ $rc = 0 ]; then
  sorted_same "3 partitions, 2 workers: per-partition watermarks, nothing late" "$tmp/counts.jsonl" "$tmp/counts.expected"
else
  bad "3 partitions, 2 workers" "exit $rc" "$(tail -5 "$tmp/run.err")"
fi
stop_cluster

# --- an idle partition does not hold the watermark back with idle_timeout ---
# Unbounded read of a 2-partition topic where only partition 0 gets records. With
# idle_timeout: 1s the window [0,10s) fires while the pipeline runs; SIGTERM then ends it (exit 0).
# One worker, so that one consumer owns both partitions (a group of several consumers takes the
# mock cluster seconds to balance).
start_cluster idle:2 idle_out:1
cat >"$tmp/idle.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config:
        topic: idle
        bootstrap_servers: "$boot"
        group_id: idle-test
        timestamp: ts
        watermark: {max_out_of_orderness: 0, idle_timeout: 1s}
        consumer_config: {fetch.wait.max.ms: 1}
    - type: Combine
      windowing: {type: fixed, size: 10s}
      config: {group_by: k, combine: {n: count}}
    - type: WriteToKafka
      config: {topic: idle_out, bootstrap_servers: "$boot", key: k}
options: {workers: 1}
EOF
"$weir" run "$tmp/idle.yaml" --progress=never >/dev/null 2>"$tmp/idle.err" </dev/null &
pid=$!
sleep 1
# both records to partition 0 (kcat -p 0): one in [0,10s), one at 25 s that moves its watermark
printf 'a:{"k":"a","ts":1000}\na:{"k":"a","ts":25000}\n' |
  timeout 30 kcat -b "$boot" "${KC[@]}" -t idle -p 0 -K: -P 2>>"$tmp/kcat.err"
fired=
for _ in $(seq 200); do
  consume idle_out >"$tmp/idle.got"
  grep -q '"window_start":0,' "$tmp/idle.got" && { fired=1; break; }
  sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
if [ -n "$fired" ] && [ $rc = 0 ]; then
  ok "idle partition left out of the watermark after idle_timeout; SIGTERM exits 0"
else
  bad "idle partition left out after idle_timeout" "fired=${fired:-no} exit=$rc" "$(tail -5 "$tmp/idle.err")"
fi
# after SIGTERM the input ends as if bounded: the window of the record at 25 s is emitted too
consume idle_out >"$tmp/idle.got"
if grep -q '"window_start":20000,' "$tmp/idle.got"; then ok "SIGTERM fires the open windows"; else bad "SIGTERM fires the open windows" "$(cat "$tmp/idle.got")"; fi
stop_cluster

# --- broker trouble: request errors and added latency are retried, nothing lost or doubled ---
start_cluster in:1 out:1
for i in $(seq 1 2000); do echo "k$((i % 10)):{\"k\":\"k$((i % 10))\",\"i\":$i}"; done | produce in
cat >"$tmp/copy.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: in, bootstrap_servers: "$boot", bounded: true}
    - type: WriteToKafka
      config: {topic: out, bootstrap_servers: "$boot", key: k}
options: {workers: 2}
EOF
# the next 5 Produce requests (API key 0) fail with NOT_LEADER_FOR_PARTITION (6), and the broker
# answers 30 ms late
a=$(control errors 0 5 6)
b=$(control rtt 1 30)
timeout 60 "$weir" run "$tmp/copy.yaml" --progress=never >/dev/null 2>"$tmp/run.err" </dev/null
rc=$?
consume out | sort >"$tmp/copy.got"
consume in | sort >"$tmp/copy.want"
if [ "$a $b" = "ok ok" ] && [ $rc = 0 ] && cmp -s "$tmp/copy.got" "$tmp/copy.want"; then
  ok "produce errors and latency: retried, every record once"
else
  bad "produce errors and latency" "control: $a / $b, exit $rc, $(wc -l <"$tmp/copy.got") of $(wc -l <"$tmp/copy.want") records" "$(tail -3 "$tmp/run.err")"
fi
control rtt 1 0 >/dev/null
# the broker goes down for 2 s in the middle of an unbounded run; the records produced while it
# is down reach the output once it is back
cat >"$tmp/copy2.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: in, bootstrap_servers: "$boot", group_id: down-test, consumer_config: {fetch.wait.max.ms: 1, session.timeout.ms: 6000, heartbeat.interval.ms: 500}}
    - type: WriteToKafka
      config: {topic: out2, bootstrap_servers: "$boot", key: k}
options: {workers: 1}
EOF
control topic out2 1 >/dev/null
"$weir" run "$tmp/copy2.yaml" --progress=never >/dev/null 2>"$tmp/down.err" </dev/null &
pid=$!
for _ in $(seq 100); do [ "$(consume out2 | wc -l)" -ge 2000 ] && break; sleep 0.1; done
d=$(control broker-down 1)
sleep 2
u=$(control broker-up 1)
printf 'z:{"k":"z","i":0}\n' | produce in
n=0
for _ in $(seq 200); do n=$(consume out2 | wc -l); [ "$n" -ge 2001 ] && break; sleep 0.1; done
kill -TERM $pid
wait $pid
rc=$?
if [ "$d $u" = "ok ok" ] && [ "$n" = 2001 ] && [ $rc = 0 ]; then
  ok "broker down and up again during a run: every record once, exit 0"
else
  bad "broker down and up again" "control: $d / $u, $n of 2001 records, exit $rc" "$(tail -3 "$tmp/down.err")"
fi
# a restart resumes after the offsets the group committed when the first run closed: the
# records produced in between come out once, and nothing read before comes out again
for i in 1 2 3 4 5; do echo "r:{\"k\":\"r\",\"i\":$i}"; done | produce in
"$weir" run "$tmp/copy2.yaml" --progress=never >/dev/null 2>"$tmp/restart.err" </dev/null &
pid=$!
n=0
for _ in $(seq 600); do n=$(consume out2 | wc -l); [ "$n" -ge 2006 ] && break; sleep 0.1; done
sleep 1
kill -TERM $pid
wait $pid
rc=$?
consume out2 | sort >"$tmp/out2.got"
consume in | sort >"$tmp/out2.want"
if [ $rc = 0 ] && cmp -s "$tmp/out2.got" "$tmp/out2.want"; then
  ok "a restart resumes from the group's committed offsets: every record once"
else
  # the tails of both runs' stderr: a failed commit at the first run's close or a failed read of
  # the committed offsets at the restart says so there
  bad "restart from committed offsets" \
    "exit $rc, $(wc -l <"$tmp/out2.got") records out ($(uniq -d "$tmp/out2.got" | wc -l) distinct ones more than once), $(wc -l <"$tmp/out2.want") in" \
    "first run (stopped by SIGTERM), stderr:" "$(tail -8 "$tmp/down.err" | sed '2,$s/^/     /')" \
    "restart, stderr:" "$(tail -8 "$tmp/restart.err" | sed '2,$s/^/     /')"
fi
stop_cluster

# --- a record the broker refuses for good: the run stops with the error, never a silent loss ---
# (weir asks librdkafka for delivery reports of failures only, so this checks that those come)
start_cluster in:1 out:1
for i in $(seq 1 100); do echo "k:{\"k\":\"k\",\"i\":$i}"; done | produce in
cat >"$tmp/refused.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: in, bootstrap_servers: "$boot", bounded: true}
    - type: WriteToKafka
      config: {topic: out, bootstrap_servers: "$boot", key: k}
EOF
a=$(control errors 0 1 10) # the next Produce request fails with MESSAGE_TOO_LARGE (10)
timeout 60 "$weir" run "$tmp/refused.yaml" --progress=never >/dev/null 2>"$tmp/refused.err" </dev/null
rc=$?
if [ "$a" = ok ] && [ $rc = 1 ] && grep -q "WriteToKafka: out/0: a record could not be delivered" "$tmp/refused.err"; then
  ok "a record the broker refuses stops the run with the error (exit 1)"
else
  bad "a refused record" "control: $a, exit $rc" "$(tail -3 "$tmp/refused.err")"
fi
stop_cluster

# --- two processes in one consumer group: partitions handed over and back, nothing lost ---
# A reads all 4 partitions; B joins (the group gives it two); B stops (they go back to A). The
# short session timeout makes kafka-dev's group rebalance in about 2 s (it waits session.timeout
# minus 1 s for members to rejoin). Batches 1-3 are produced while the group is stable: each
# record of them comes out exactly once. The probe records, produced while B joins, may come out
# twice: the mock cluster refuses the commits of a group that is rebalancing, so the new owner
# re-reads from the last commit that got through (at-least-once, as documented); none is lost.
start_cluster hin:4 ha:1 hb:1
ho_batch() { # BATCH FIRST LAST: keyed records of 37 keys, spread over the partitions
  for i in $(seq "$2" "$3"); do echo "k$((i % 37)):{\"k\":\"k$((i % 37))\",\"b\":$1,\"i\":$i}"; done
}
ho_count() { cat <(consume ha) <(consume hb) | grep -c "\"b\":$1,"; }
for m in a b; do
  cat >"$tmp/ho_$m.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: hin, bootstrap_servers: "$boot", group_id: handover, consumer_config: {fetch.wait.max.ms: 1, session.timeout.ms: 3000, heartbeat.interval.ms: 300, auto.commit.interval.ms: 200}}
    - type: WriteToKafka
      config: {topic: h$m, bootstrap_servers: "$boot", key: k}
options: {workers: 1}
EOF
done
ho_batch 1 1 1000 | produce hin
"$weir" run "$tmp/ho_a.yaml" --progress=never >/dev/null 2>"$tmp/ho_a.err" </dev/null &
pa=$!
for _ in $(seq 300); do [ "$(ho_count 1)" -ge 1000 ] && break; sleep 0.1; done
sleep 1 # A's offsets committed (every 200 ms)
"$weir" run "$tmp/ho_b.yaml" --progress=never >/dev/null 2>"$tmp/ho_b.err" </dev/null &
pb=$!
for r in $(seq 150); do # until B has partitions and writes
  echo "p$r:{\"k\":\"p$r\",\"b\":0,\"i\":$r}" | produce hin
  [ "$(consume hb | wc -l)" -ge 1 ] && break
  sleep 0.2
done
sleep 1
ho_batch 2 1001 2000 | produce hin
for _ in $(seq 300); do [ "$(ho_count 2)" -ge 1000 ] && break; sleep 0.1; done
b2a=$(consume ha | grep -c '"b":2,')
b2b=$(consume hb | grep -c '"b":2,')
kill -TERM $pb
wait $pb
rcb=$?
ho_batch 3 2001 3000 | produce hin
for _ in $(seq 600); do [ "$(ho_count 3)" -ge 1000 ] && break; sleep 0.1; done
sleep 1
kill -TERM $pa
wait $pa
rca=$?
cat <(consume ha) <(consume hb) | sort >"$tmp/ho.got"
consume hin | sort >"$tmp/ho.want"
lost=$(comm -13 <(sort -u "$tmp/ho.got") "$tmp/ho.want" | wc -l)
extra=$(comm -23 <(sort -u "$tmp/ho.got") "$tmp/ho.want" | wc -l)
dups=$(uniq -d "$tmp/ho.got" | grep -vc '"b":0,')
if [ $rca = 0 ] && [ $rcb = 0 ] && [ "$lost" = 0 ] && [ "$extra" = 0 ] && [ "$dups" = 0 ] &&
  [ "$b2a" -gt 0 ] && [ "$b2b" -gt 0 ] && [ $((b2a + b2b)) = 1000 ]; then
  ok "a consumer group of two processes hands partitions over and back: none lost, batches once"
else
  bad "group handover between two processes" \
    "exit A $rca B $rcb; batch 2: $b2a by A, $b2b by B; lost $lost, unknown $extra, duplicated outside the probes $dups" \
    "A: $(tail -3 "$tmp/ho_a.err")" "B: $(tail -3 "$tmp/ho_b.err")"
fi
stop_cluster

# --- checkpoints: the Kafka offsets in them (issue #6) ---
# 90000 records over 3 partitions (keyed by user), event time 4 ms apart and up to 1.9 s out of
# order within a partition (the watermark's bound is 2 s, so no record is late); a windowed
# Combine (sliding windows, early count trigger, retracting) writes to a file. No allowed
# lateness: with it, whether an on-time pane is also the last (pane_last) depends on how far
# the minimum over the partitions' watermarks has moved when it fires, which depends on how
# the partitions interleave (and differed once between two runs); without it, every row is the
# same in any interleaving, so the run can be compared row for row. Lateness across crashes is
# tested with a single-partition file source in run_checkpoint.sh.
start_cluster ck:3 gck:3
awk 'BEGIN { x = 4242; m = 2147483648
  for (i = 0; i < 90000; i++) {
    x = (1103515245 * x + 12345) % m; j = x % 1900
    x = (1103515245 * x + 12345) % m; u = x % 300
    printf "u%d:{\"ts\":%d,\"user\":\"u%d\",\"amount\":%d}\n", u, i * 4 - j + 2000, u, i % 7 + 1 } }' \
  >"$tmp/ck.in"
produce ck <"$tmp/ck.in"
ckpipe() { # OUT TOPIC EXTRA-SOURCE-CONFIG [checkpoint-dir]
  cat <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: $2, bootstrap_servers: "$boot", timestamp: ts, watermark: {max_out_of_orderness: 2s}$3}
    - type: Combine
      windowing:
        type: sliding
        size: 10s
        period: 2s
        trigger: {type: after_watermark, early: {type: count, count: 5}}
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
  if [ -n "${4:-}" ]; then printf '  checkpoint: {dir: "%s", interval: 50ms}\n' "$4"; fi
}
ckpipe "$tmp/ckref.jsonl" ck ", bounded: true" >"$tmp/ckref.yaml"
timeout 60 "$weir" run "$tmp/ckref.yaml" --progress=never >/dev/null 2>"$tmp/ckref.err" </dev/null
rc=$?
if [ $rc != 0 ] || [ ! -s "$tmp/ckref.jsonl" ]; then
  bad "checkpoints: the uninterrupted run" "exit $rc" "$(tail -3 "$tmp/ckref.err")"
else
  # kill -9 at random moments, restart at 1-3 workers, until the bounded run ends
  ckpipe "$tmp/ckout.jsonl" ck ", bounded: true, group_id: ckb" "$tmp/ckdir" >"$tmp/ck.yaml"
  kills=0
  rc=x
  for i in $(seq 40); do # the 40th run is let finish (a slow build, e.g. the sanitizer one)
    "$weir" run "$tmp/ck.yaml" --progress=never --set options.workers=$((RANDOM % 3 + 1)) \
      >/dev/null 2>>"$tmp/ckkill.err" </dev/null &
    pid=$!
    sleep "0.$((RANDOM % 2))$((RANDOM % 10))" # 0-0.19 s: a whole run takes about 0.3 s
    if [ "$i" -lt 40 ] && kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      kills=$((kills + 1))
    else
      wait "$pid"
      rc=$?
      break
    fi
  done
  # a fast run may finish before the third kill: one kill at least, and the output complete
  if [ "$rc" = 0 ] && [ "$kills" -ge 1 ]; then
    sorted_same "Kafka, kill -9 at random moments ($kills times, 1-3 workers): output equals an uninterrupted run's" \
      "$tmp/ckout.jsonl" "$tmp/ckref.jsonl"
  else
    bad "Kafka, kill -9 and restart" "exit $rc after $kills kills" "$(grep -v resuming "$tmp/ckkill.err" | tail -3)"
  fi
fi

# group (unbounded) mode over the first 30000 of them: run, SIGTERM (a last checkpoint, exit 0),
# produce more, run again, SIGTERM once everything is out. One worker: a group of several
# consumers takes kafka-dev's mock cluster seconds to balance. A last record in each partition far ahead moves the
# watermark past every other window (those of user zz stay open: a stop resumes them).
wait_stable() { # FILE: until it has lines and has not grown for a second (at most 30 s)
  local last=-1 same=0 n
  for _ in $(seq 300); do
    n=$(cat "$1" 2>/dev/null | wc -l)
    if [ "$n" -gt 0 ] && [ "$n" = "$last" ]; then same=$((same + 1)); [ $same -ge 10 ] && return; else same=0; fi
    last=$n
    sleep 0.1
  done
}
head -15000 "$tmp/ck.in" | produce gck
ckpipe "$tmp/gout.jsonl" gck ", group_id: gck, consumer_config: {fetch.wait.max.ms: 1, session.timeout.ms: 6000, heartbeat.interval.ms: 500}" "$tmp/gdir" >"$tmp/g.yaml"
"$weir" run "$tmp/g.yaml" --progress=never --set options.workers=1 >/dev/null 2>"$tmp/g1.err" </dev/null &
pid=$!
wait_stable "$tmp/gout.jsonl"
kill -TERM $pid
wait $pid
rc1=$?
sed -n 15001,30000p "$tmp/ck.in" | produce gck
for p in 0 1 2; do
  printf 'zz:{"ts":1000000000,"user":"zz","amount":1}\n' |
    timeout 30 kcat -b "$boot" "${KC[@]}" -t gck -p $p -K: -P 2>>"$tmp/kcat.err"
done
ckpipe "$tmp/gref.jsonl" gck ", bounded: true" >"$tmp/gref.yaml"
timeout 60 "$weir" run "$tmp/gref.yaml" --progress=never >/dev/null 2>"$tmp/gref.err" </dev/null
grep -v '"user":"zz"' "$tmp/gref.jsonl" >"$tmp/gref.want"
want=$(wc -l <"$tmp/gref.want")
"$weir" run "$tmp/g.yaml" --progress=never --set options.workers=1 >/dev/null 2>"$tmp/g2.err" </dev/null &
pid=$!
for _ in $(seq 300); do
  [ "$(grep -vc '"user":"zz"' "$tmp/gout.jsonl")" -ge "$want" ] && break
  sleep 0.1
done
sleep 0.3
kill -TERM $pid
wait $pid
rc2=$?
grep -v '"user":"zz"' "$tmp/gout.jsonl" >"$tmp/gout.got"
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && grep -q 'resuming from checkpoint' "$tmp/g2.err"; then
  sorted_same "Kafka group mode, SIGTERM and resume: output equals an uninterrupted run's" \
    "$tmp/gout.got" "$tmp/gref.want"
else
  bad "Kafka group mode, SIGTERM and resume" "exit $rc1 / $rc2" "$(tail -3 "$tmp/g1.err")" "$(tail -3 "$tmp/g2.err")"
fi
# the group's committed offsets followed the checkpoints: a run without checkpoints (as after
# --fresh) starts where the last one stopped and reads only what is new
printf 'new:{"ts":2000000000,"user":"new","amount":1}\n' | produce gck
ckpipe "$tmp/gplain.jsonl" gck ", group_id: gck, consumer_config: {fetch.wait.max.ms: 1, session.timeout.ms: 6000, heartbeat.interval.ms: 500}" >"$tmp/gplain.yaml"
"$weir" run "$tmp/gplain.yaml" --progress=never >/dev/null 2>"$tmp/gplain.err" </dev/null &
pid=$!
sleep 5
kill -TERM $pid
wait $pid
rc=$?
if [ $rc = 0 ] && grep -q '"user":"new"' "$tmp/gplain.jsonl" && ! grep -vq '"user":"new"' "$tmp/gplain.jsonl"; then
  ok "the group's committed offsets follow the checkpoints: a run without them reads only what is new"
else
  bad "committed offsets after checkpoints" "exit $rc, $(grep -vc '"user":"new"' "$tmp/gplain.jsonl" 2>/dev/null) lines of older records" "$(tail -3 "$tmp/gplain.err")"
fi
stop_cluster

# a checkpoint's offset that is no longer on the broker (here: a new, empty cluster) is a clear
# error, never a silent start from the beginning
start_cluster ck:3
ckpipe "$tmp/ckout.jsonl" ck ", bounded: true" "$tmp/ckdir" >"$tmp/ck.yaml"
timeout 60 "$weir" run "$tmp/ck.yaml" --progress=never >/dev/null 2>"$tmp/ckgone.err" </dev/null
rc=$?
if [ $rc = 1 ] && grep -Eq "ck/[0-2]: the checkpoint's offset [0-9]+ is not on the broker \(it holds 0 to 0\)" "$tmp/ckgone.err"; then
  ok "a checkpoint's offset no longer on the broker is a clear error (exit 1)"
else
  bad "a checkpoint's offset no longer on the broker" "exit $rc" "$(tail -3 "$tmp/ckgone.err")"
fi
stop_cluster

# --- bad input: a record that is not JSON stops the run with its topic/partition@offset ---
start_cluster bad:1 bad_out:1
printf 'a:{"k":"a","ts":1}\na:not json\n' | produce bad
cat >"$tmp/bad.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: bad, bootstrap_servers: "$boot", timestamp: ts, bounded: true}
    - type: WriteToKafka
      config: {topic: bad_out, bootstrap_servers: "$boot"}
EOF
timeout 60 "$weir" run "$tmp/bad.yaml" --progress=never >/dev/null 2>"$tmp/bad.err" </dev/null
rc=$?
if [ $rc = 1 ] && grep -Eq '^weir: error: bad/0@1: ' "$tmp/bad.err"; then
  ok "a bad record stops the run naming topic/partition@offset (exit 1)"
else
  bad "a bad record stops the run" "exit $rc" "$(cat "$tmp/bad.err")"
fi
# with error_handling the bad record goes to the error output and the run goes on
cat >"$tmp/bad2.yaml" <<EOF
pipeline:
  transforms:
    - type: ReadFromKafka
      name: in
      config:
        topic: bad
        bootstrap_servers: "$boot"
        timestamp: ts
        bounded: true
        error_handling: {output: errors}
    - type: WriteToFile
      input: in
      config: {path: "$tmp/good.jsonl"}
    - type: WriteToFile
      input: in.errors
      config: {path: "$tmp/errors.jsonl"}
EOF
timeout 60 "$weir" run "$tmp/bad2.yaml" --progress=never >/dev/null 2>"$tmp/bad2.err" </dev/null
rc=$?
if [ $rc = 0 ] && [ "$(cat "$tmp/good.jsonl")" = '{"k":"a","ts":1}' ] &&
  grep -q '"source":"bad/0@1","record":"not json"' "$tmp/errors.jsonl"; then
  ok "error_handling: the bad record goes to the error output with its source"
else
  bad "error_handling on ReadFromKafka" "exit $rc" "$(cat "$tmp/good.jsonl" "$tmp/errors.jsonl" "$tmp/bad2.err" 2>&1 | head -5)"
fi
# a topic that does not exist: a clear message, exit 1
sed 's/topic: bad,/topic: nosuch,/' "$tmp/bad.yaml" >"$tmp/nosuch.yaml"
timeout 60 "$weir" run "$tmp/nosuch.yaml" --progress=never >/dev/null 2>"$tmp/nosuch.err" </dev/null
rc=$?
if [ $rc = 1 ] && grep -q "topic nosuch does not exist" "$tmp/nosuch.err"; then
  ok "a missing topic is a clear error (exit 1)"
else
  bad "a missing topic" "exit $rc" "$(cat "$tmp/nosuch.err")"
fi
stop_cluster

# --- an unreachable cluster: a clear error, no hang ---
cat >"$tmp/down.yaml" <<EOF
pipeline:
  type: chain
  transforms:
    - type: ReadFromKafka
      config: {topic: t, bootstrap_servers: "127.0.0.1:1", bounded: true, consumer_config: {socket.connection.setup.timeout.ms: 1000}}
    - type: LogForTesting
EOF
timeout 60 "$weir" run "$tmp/down.yaml" --progress=never >/dev/null 2>"$tmp/unreach.err" </dev/null
rc=$?
if [ $rc = 1 ] && grep -q "cannot reach 127.0.0.1:1" "$tmp/unreach.err"; then
  ok "an unreachable cluster is a clear error (exit 1)"
else
  bad "an unreachable cluster" "exit $rc" "$(tail -3 "$tmp/unreach.err")"
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
