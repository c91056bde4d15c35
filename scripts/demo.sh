#!/usr/bin/env bash
# scripts/demo.sh: weir's main job, Kafka in to Kafka out, with no broker to install.
#
# Starts `weir kafka-dev` (librdkafka's mock cluster on 127.0.0.1), loads the sample clicks into
# the topic `clicks` (examples/kafka_load_clicks.yaml), runs the windowed job
# examples/kafka_clicks_per_user.yaml (clicks -> clicks_per_user), copies the result topic to
# clicks_per_user.jsonl (examples/kafka_dump.yaml), prints it and stops the cluster.
# Run from anywhere after building (build/weir). The output equals
# examples/kafka_clicks_per_user.expected.jsonl (as a set of lines: with 2 workers the order
# across users may vary).
set -euo pipefail
cd "$(dirname "$0")/.."
weir=${WEIR:-build/weir}
out=${OUT:-clicks_per_user.jsonl}
dir=$(mktemp -d)
"$weir" kafka-dev --topic clicks:1 --topic clicks_per_user:1 >"$dir/boot" 2>"$dir/kafka-dev.log" </dev/null &
dev=$!
trap 'kill -TERM $dev 2>/dev/null; wait $dev 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/boot" ] && break; sleep 0.1; done
export KAFKA_BOOTSTRAP=$(head -1 "$dir/boot")
[ -n "$KAFKA_BOOTSTRAP" ] || { echo "demo: weir kafka-dev did not start" >&2; cat "$dir/kafka-dev.log" >&2; exit 1; }
echo "== weir kafka-dev serves a Kafka cluster at $KAFKA_BOOTSTRAP"
echo "== loading examples/data/clicks.jsonl into topic clicks"
"$weir" run examples/kafka_load_clicks.yaml --progress=never
echo "== running examples/kafka_clicks_per_user.yaml: clicks -> windowed counts -> clicks_per_user"
"$weir" run examples/kafka_clicks_per_user.yaml --progress=never
echo "== topic clicks_per_user, copied to $out:"
KAFKA_TOPIC=clicks_per_user OUT=$out "$weir" run examples/kafka_dump.yaml --progress=never 2>/dev/null
cat "$out"
