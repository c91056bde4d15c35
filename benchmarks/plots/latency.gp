# benchmarks/plots/latency.gp: the end-to-end latency distribution of bench_kafka latency, from
# the file its --hist option writes (one block per offered rate and pipeline; see bench_kafka.c).
# x: the percentile on a scale that opens up the tail (1 / (1 - p), logarithmic), y: latency.
#
#     gnuplot -e "results='benchmarks/results'" benchmarks/plots/latency.gp
# reads RESULTS/latency_hist.dat and writes RESULTS/latency.png.
if (!exists("results")) results = "benchmarks/results"
data = results . "/latency_hist.dat"
set terminal pngcairo size 1100,650 font ",10"
set output results . "/latency.png"
set title "Kafka -> pipeline -> Kafka on the mock cluster: end-to-end latency by percentile"
set logscale x
set logscale y
set xlabel "percentile"
set ylabel "latency (ms)"
set xtics ("50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, \
           "99.999%%" 100000)
set grid xtics ytics mytics
set key outside right top Left reverse
stats data using 2 nooutput
blocks = STATS_blocks
plot for [i=0:blocks-1] data index i using 3:2 with linespoints pointsize 0.5 \
     title columnheader(1)
