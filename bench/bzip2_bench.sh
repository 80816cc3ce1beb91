#!/usr/bin/env bash
# Benchmarks internal/compress decoders and prints the parallel/stdlib bzip2
# speed ratio per -cpu setting. Usage: bench/bzip2_bench.sh [count]
# Best run of each is compared (the machine may be shared).
# Needs the bzip2 command (Debian package bzip2). Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
out=$(mktemp)
go test -run '^$' -bench . -benchmem -cpu 1,2 -count "$count" ./internal/compress/ | tee "$out"
awk '
/^BenchmarkBzip2(Parallel|Stdlib)/ {
	name = $1; cpu = "1"
	if (match(name, /-[0-9]+$/)) { cpu = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
	for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s" && $i > best[name, cpu]) best[name, cpu] = $i
	cpus[cpu] = 1
}
END {
	for (c in cpus) {
		p = best["BenchmarkBzip2Parallel", c]; s = best["BenchmarkBzip2Stdlib", c]
		printf "cpu=%s best of runs: parallel %.1f MB/s stdlib %.1f MB/s ratio %.2fx\n", c, p, s, p / s
	}
}' "$out"
rm -f "$out"
