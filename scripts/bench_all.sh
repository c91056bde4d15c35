#!/usr/bin/env bash
# scripts/bench_all.sh: reruns every benchmark of benchmarks/ with the parameters of issue #8 and
# makes the plots: the one command behind benchmarks/RESULTS.md.
#
#     scripts/bench_all.sh [--quick] [--only NAME[,NAME...]] [--build DIR] [--results DIR]
#
#   --quick    tiny sizes and single runs, to check in seconds that everything works; its
#              figures are not measurements (every output says so) and go to
#              benchmarks/results/quick/, never over a real run's files
#   --only     run only these programs (bench_cost, bench_exchange, bench_nexmark,
#              bench_window_memory, bench_checkpoint, bench_kafka, bench_scaling); plots are
#              made from whatever .dat files are there
#   --build    the build directory (default build-release/, meson -Dbuildtype=release)
#   --results  where results go (default benchmarks/results/, or benchmarks/results/quick/)
#
# It builds a release build, then runs each program in turn (never two at once: they would
# measure each other) and writes its raw output to RESULTS/<program>.txt, headed by the machine
# (CPU model, cores, memory, kernel, compiler, commit, date, load average at the start); a
# program run several times (modes, worker counts) appends each run under its command line.
# Besides the .txt files: latency_hist.dat (bench_kafka latency --hist), scaling_workers.dat and
# scaling_keys.dat (bench_scaling), and the PNGs that benchmarks/plots/*.gp make from them
# (gnuplot; installed with apt-get as gnuplot-nox when missing and running as root, otherwise
# the plots are skipped with a message). A full run takes on the order of an hour on 2 cores;
# run it on a quiet machine. Every benchmark runs in-process (bench_kafka starts librdkafka's
# mock cluster inside itself, no `weir kafka-dev`); the script starts each in a process group of
# its own and, if interrupted, ends that group and nothing else. Exit status: 0 when every
# program succeeded, 1 otherwise (the others still run).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
only=""
build="$root/build-release"
results=""
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) quick=1 ;;
  --only) only=",${2:?--only needs a list},"; shift ;;
  --build) build=${2:?--build needs a directory}; shift ;;
  --results) results=${2:?--results needs a directory}; shift ;;
  -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench_all.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$results" ]; then
  results="$root/benchmarks/results"
  [ $quick = 1 ] && results="$root/benchmarks/results/quick"
fi
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
mkdir -p "$results" || exit 1
results=$(cd "$results" && pwd)
cores=$(nproc)
bin="$build/benchmarks"
tmp=$(mktemp -d /tmp/weir-bench-all.XXXXXX) || exit 1
current="" # pid (= process group) of the benchmark running now

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$current" ]; then
    kill -TERM -- "-$current" 2>/dev/null || kill -TERM "$current" 2>/dev/null
    wait "$current" 2>/dev/null
    current=""
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "bench_all.sh: interrupted" >&2; exit 130' INT TERM HUP

note() { printf '== %s\n' "$*"; }
[ $quick = 1 ] && note "QUICK SMOKE RUN: tiny sizes, single runs; the figures below are NOT measurements"

# ---- the release build ----
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbuildtype=release >/dev/null || {
    echo "bench_all.sh: meson setup $build failed" >&2
    exit 1
  }
else
  buildtype=$(meson introspect --buildoptions "$build" 2>/dev/null | python3 -c \
    'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"][0])')
  if [ "$buildtype" != release ]; then
    note "$build was a $buildtype build: reconfiguring it as release"
    meson configure "$build" -Dbuildtype=release >/dev/null || exit 1
  fi
fi
programs="bench_cost bench_exchange bench_nexmark bench_window_memory bench_checkpoint bench_kafka bench_scaling"
targets=""
for p in $programs; do targets="$targets benchmarks/$p"; done
note "building $build (release)"
# shellcheck disable=SC2086
ninja -C "$build" $targets >"$tmp/build.log" 2>&1 || {
  tail -30 "$tmp/build.log"
  echo "bench_all.sh: the build failed" >&2
  exit 1
}

# ---- the machine, at the top of every result file ----
machine() {
  local cpu mem commit
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
  [ -n "$cpu" ] || cpu=$(grep -m1 -E '^(Hardware|cpu model|Processor)' /proc/cpuinfo | sed 's/^[^:]*: *//')
  mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$root" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
  echo "# machine"
  echo "#   cpu:      ${cpu:-unknown}"
  echo "#   cores:    $cores online ($(grep -c '^processor' /proc/cpuinfo) in /proc/cpuinfo)"
  echo "#   memory:   $mem"
  echo "#   kernel:   $(uname -srm)"
  # shellcheck disable=SC1091
  echo "#   os:       $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
  echo "#   compiler: $(cc --version 2>/dev/null | head -1)"
  echo "#   build:    $build (meson buildtype=release)"
  echo "#   commit:   $commit"
  echo "#   date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "#   load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the start)"
  if [ $quick = 1 ]; then
    echo "# QUICK SMOKE RUN (scripts/bench_all.sh --quick): tiny sizes, single runs;"
    echo "# these figures are NOT measurements"
  fi
}

failed=""
started=""
wanted() { [ -z "$only" ] || [[ "$only" == *",$1,"* ]]; }

# run NAME ARGS...: runs $bin/NAME ARGS in a process group of its own, appends its output to
# RESULTS/NAME.txt (the machine first, on its first run) and shows it.
run() {
  local name=$1 out="$results/$1.txt"
  shift
  wanted "$name" || return 0
  if [[ " $started " != *" $name "* ]]; then
    machine >"$out"
    started="$started $name"
  fi
  local cmd="build-release/benchmarks/$name $*"
  [ "$build" = "$root/build-release" ] || cmd="$bin/$name $*"
  printf '\n$ %s\n' "$cmd" >>"$out"
  note "$cmd"
  local t0=$SECONDS rc
  (cd "$tmp" && exec setsid "$bin/$name" "$@") >"$tmp/out" 2>&1 &
  current=$!
  wait "$current"
  rc=$?
  current=""
  cat "$tmp/out" >>"$out"
  cat "$tmp/out"
  if [ $rc != 0 ]; then
    echo "# exit status $rc" >>"$out"
    echo "bench_all.sh: $name $* failed (exit status $rc)" >&2
    [[ " $failed " == *" $name "* ]] || failed="$failed $name"
  fi
  note "$name: $((SECONDS - t0)) s, output in ${out#"$root"/}"
}

# ---- the benchmarks, with the issue's parameters (quick: tiny ones) ----
if [ $quick = 1 ]; then
  records=200000 runs=1 events=100000 window_keys=10000
  kafka_records=20000 kafka_rates="5000" kafka_seconds=1
  ck_args="4000000 10000 1 1 10"
  ck_join_args="200000 10000 1 1 10"
  scaling_args="-n 200000 -e 100000 -r 1 -K 1000,10000,100000"
else
  records=20000000 runs=5 events=10000000 window_keys=1000000
  # (500K/s, tried on 2 cores: the mock cluster, the producer, the consumer and the pipeline
  # share them, the bare loop's own p99 went to 46-445 ms, and the consumers fell behind the
  # mock cluster's retention of about 5 MiB per partition, so weir stopped rather than skip)
  kafka_records=400000 kafka_rates="10000 100000" kafka_seconds=5
  ck_args="30000000 1000000 5 1 1000"
  ck_join_args="2000000 1000000 5 1 500"
  scaling_args="-n 20000000 -k 1000 -e 10000000 -r 5"
fi
worker_counts="1"
[ "$cores" -gt 1 ] && worker_counts="1 $cores"
exchange_workers=$((cores > 2 ? cores : 2))

for mode in fixed sliding sessions; do
  for w in $worker_counts; do run bench_cost $mode $records 1000 $runs "$w"; done
done
run bench_exchange $records 1000 $runs $exchange_workers
for w in $worker_counts; do
  run bench_nexmark -n $events -r $runs -w "$w" -q gen,q0,q1,q2,q5,q7,q11
done
run bench_window_memory $window_keys
# shellcheck disable=SC2086
run bench_checkpoint $ck_args "$tmp/checkpoints"
# shellcheck disable=SC2086
run bench_checkpoint --join $ck_join_args "$tmp/checkpoints"
run bench_kafka throughput $kafka_records $runs 1
# shellcheck disable=SC2086
run bench_kafka latency $kafka_rates --seconds $kafka_seconds --rounds $runs --workers 1 \
  --hist "$results/latency_hist.dat"
# shellcheck disable=SC2086
run bench_scaling all $scaling_args -o "$results"

# ---- the plots ----
plots() {
  if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      note "installing gnuplot-nox (apt-get)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >"$tmp/apt.log" 2>&1 ||
        tail -5 "$tmp/apt.log"
    fi
    if ! command -v gnuplot >/dev/null; then
      note "no gnuplot (install gnuplot-nox, or run as root): plots skipped"
      return 0
    fi
  fi
  local gp data made=""
  for gp in "$root"/benchmarks/plots/*.gp; do
    data=$(basename "$gp" .gp)
    [ "$data" = latency ] && data=latency_hist
    if [ ! -s "$results/$data.dat" ]; then
      note "plot $(basename "$gp"): no $data.dat in ${results#"$root"/}, skipped"
      continue
    fi
    if gnuplot -e "results='$results'" "$gp" 2>"$tmp/gnuplot.log"; then
      made="$made $(basename "$gp" .gp).png"
    else
      cat "$tmp/gnuplot.log" >&2
      failed="$failed $(basename "$gp")"
    fi
  done
  [ -n "$made" ] && note "plots in ${results#"$root"/}:$made"
  return 0
}
plots

if [ -n "$failed" ]; then
  note "FAILED:$failed"
  exit 1
fi
[ $quick = 1 ] && note "QUICK SMOKE RUN done: every benchmark ran; the figures are NOT measurements"
[ $quick = 0 ] && note "done; results in ${results#"$root"/}"
exit 0
