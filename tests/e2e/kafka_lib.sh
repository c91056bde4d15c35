# tests/e2e/kafka_lib.sh: helpers of the end-to-end tests that need Kafka (sourced after
# lib.sh, not run): starting and stopping `weir kafka-dev` with a control fifo, sending it
# control commands, and producing and consuming with kcat. The sourcing script sets weir, tmp
# and kd (the cluster's pid, empty when none runs) and stops the cluster in its cleanup.
if ! command -v kcat >/dev/null; then
  echo "kcat is not installed (scripts/deps.sh installs it)"
  echo "0 passed, 1 failed"
  exit 1
fi

# start_cluster TOPIC:PARTITIONS ...: starts kafka-dev with a control fifo on fd 9; sets $boot
start_cluster() {
  # kd.out goes too: kafka-dev truncates it only once it has opened the fifo, so a stale one
  # would hand out the previous cluster's address (seen under CPU load)
  rm -f "$tmp/ctl" "$tmp/kd.out" && mkfifo "$tmp/ctl"
  local args=()
  for t in "$@"; do args+=(--topic "$t"); done
  "$weir" kafka-dev "${args[@]}" <"$tmp/ctl" >"$tmp/kd.out" 2>"$tmp/kd.err" &
  kd=$!
  exec 9>"$tmp/ctl"
  boot=
  for _ in $(seq 100); do
    boot=$(head -1 "$tmp/kd.out" 2>/dev/null)
    [ -n "$boot" ] && break
    sleep 0.05
  done
  export KAFKA_BOOTSTRAP=$boot
}
stop_cluster() {
  exec 9>&-
  kill -TERM "$kd" 2>/dev/null
  wait "$kd" 2>/dev/null
  kd=
}
# control COMMAND: sends a control command to kafka-dev and waits for its answer
control() {
  local before
  before=$(wc -l <"$tmp/kd.out")
  echo "$*" >&9
  for _ in $(seq 100); do
    [ "$(wc -l <"$tmp/kd.out")" -gt "$before" ] && break
    sleep 0.02
  done
  tail -1 "$tmp/kd.out"
}
KC=(-X fetch.wait.max.ms=1)
produce() { # TOPIC < lines KEY:VALUE
  timeout 30 kcat -b "$boot" "${KC[@]}" -t "$1" -K: -P -z none 2>>"$tmp/kcat.err"
}
consume() { # TOPIC: every record's value, to stdout
  timeout 30 kcat -b "$boot" "${KC[@]}" -t "$1" -C -e -q 2>>"$tmp/kcat.err"
}
