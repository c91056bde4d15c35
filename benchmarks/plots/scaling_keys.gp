# benchmarks/plots/scaling_keys.gp: speed and peak memory by number of distinct keys, every key
# with an open fixed window (bench_scaling keys); the issue's target is 10M keys under 2 GB.
#
#     gnuplot -e "results='benchmarks/results'" benchmarks/plots/scaling_keys.gp
# reads RESULTS/scaling_keys.dat and writes RESULTS/scaling_keys.png.
if (!exists("results")) results = "benchmarks/results"
data = results . "/scaling_keys.dat"
set terminal pngcairo size 1100,500 font ",10"
set output results . "/scaling_keys.png"
set multiplot layout 1,2 title "By number of distinct keys, open fixed windows, 1 worker (bench\\_scaling keys)"
set logscale x
set format x "10^{%L}"
set grid
set xlabel "distinct keys"
set key left top
set title "throughput"
set ylabel "million records / s"
set yrange [0:*]
plot data using 1:($3/1e6) with linespoints title "records/s"
set title "peak resident memory"
set logscale y
set yrange [*:*]
set ylabel "MiB"
set y2label "bytes per key"
set logscale y2
set y2tics
set ytics nomirror
plot data using 1:($4/1048576) with linespoints title "peak RSS (MiB)", \
     data using 1:5 axes x1y2 with linespoints title "peak RSS / keys (bytes, right)", \
     2000e6/1048576 with lines dashtype 2 linecolor "red" title "target: 2 GB (2e9 bytes)"
unset multiplot
