# benchmarks/plots/scaling_workers.gp: throughput by worker count (bench_scaling workers), for
# the COST fixed-window workload and Nexmark q5, as speedup over one worker, with the ideal line.
#
#     gnuplot -e "results='benchmarks/results'" benchmarks/plots/scaling_workers.gp
# reads RESULTS/scaling_workers.dat and writes RESULTS/scaling_workers.png.
if (!exists("results")) results = "benchmarks/results"
data = results . "/scaling_workers.dat"
set terminal pngcairo size 1100,500 font ",10"
set output results . "/scaling_workers.png"
set multiplot layout 1,2 title "Throughput by number of workers (bench\\_scaling workers)"
stats data using 1 nooutput
set xrange [0.5:STATS_max+0.5]
set xtics 1
set grid
set key left top
set xlabel "workers"
set ylabel "million records (events) / s"
set yrange [0:*]
set title "throughput"
plot data using 1:($2/1e6) with linespoints title "COST fixed 10 s, JSON file", \
     data using 1:($4 > 0 ? $4/1e6 : 1/0) with linespoints title "Nexmark q5"
set ylabel "speedup over 1 worker"
set title "speedup"
plot data using 1:3 with linespoints title "COST fixed 10 s", \
     data using 1:($5 > 0 ? $5 : 1/0) with linespoints title "Nexmark q5", \
     x with lines dashtype 2 linecolor "gray" title "ideal"
unset multiplot
