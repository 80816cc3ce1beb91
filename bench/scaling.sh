#!/bin/sh
# bench/scaling.sh: the scaling table of issue 16. Runs BenchmarkScale
# (internal/pipeline) for each size, one size per process and one at a
# time (so each peak RSS is its own size's, and two big runs never share
# the machine's memory), and prints one row per size: the routes the view
# holds, live heap bytes per route (runtime/metrics after a GC), route
# events per CPU-second and per wall second, the process's peak RSS
# (generation of the input included: it is written once, then reused),
# wall and CPU (user+sys) seconds of the replay, and the load.
#
#   bench/scaling.sh                       # 200000x100 1000000x40 1000000x100 1000000x200
#   SIZES="200000x100 1000000x40" bench/scaling.sh
#   SIZES="1000000x40+1000000" bench/scaling.sh   # PREFIXESxPEERS[+UPDATES], updates default 300,000
#
# Inputs go to $BLACKOUT_BENCH_DIR (default bench/out/scale) and are
# reused: 1,000,000 x 200 is 7.8 GB of MRT, the four sizes 14 GB.
# Memory: about 2 GB at 1M x 40 up to 5-6 GB at 1M x 200.
# Raw benchmark output goes to bench/out/scale/<size>.txt.
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"200000x100 1000000x40 1000000x100 1000000x200"}
dir=${BLACKOUT_BENCH_DIR:-bench/out/scale}
mkdir -p "$dir" bench/out/scale
go test -c -o bench/out/pipeline.test ./internal/pipeline
echo "$(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB RAM, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"
printf '%-22s %11s %12s %13s %11s %10s %8s %8s  %s\n' size routes live-B/route events/cpu-s events/s maxrss-MB wall_s cpu_s "load before -> after"
for size in $SIZES; do
	out=bench/out/scale/$size.txt
	before=$(cut -d' ' -f1-3 /proc/loadavg)
	BLACKOUT_BENCH_SCALE=$size BLACKOUT_BENCH_DIR=$dir bench/out/pipeline.test \
		-test.run '^$' -test.bench '^BenchmarkScale$' -test.benchtime 1x -test.timeout 4h >"$out" 2>&1 || {
		echo "$size failed:"
		tail -5 "$out"
		continue
	}
	after=$(cut -d' ' -f1-3 /proc/loadavg)
	awk -v size="$size" -v load="$before -> $after" '
		/routes held/ {
			for (i = 1; i <= NF; i++) {
				if ($(i+1) == "routes" && $(i+2) == "held") routes = $i
				if ($i == "cpu") cpu = $(i+1)
				if ($i == "wall") wall = $(i+1)
			}
			sub(/,$/, "", cpu); sub(/;$/, "", wall); sub(/s$/, "", cpu); sub(/s$/, "", wall)
		}
		/^BenchmarkScale\// {
			for (i = 3; i < NF; i++) m[$(i+1)] = $i
		}
		END {
			printf "%-22s %11s %12.1f %13.0f %11.0f %10.0f %8s %8s  %s\n", size, routes, m["live-B/route"], m["events/cpu-s"], m["events/s"], m["maxrss-MB"], wall, cpu, load
		}' "$out"
done
