#!/bin/sh
# bench/longpaths.sh: the hostile RIB of issue 12 (100,000 prefixes, each
# with a distinct AS path of 1,000 ASes: 3.3 MB gzip) through
# `blackout replay`, peak RSS by GNU time. With the default
# --max-path-len the paths are dropped (and counted); with 0 (no limit)
# the view interns them all.
#
#   bench/longpaths.sh [BLACKOUT_BINARY...]
#
# Needs Go, gzip and GNU time (apt-get install -y time).
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/out
out=bench/out/crafted.mrt
if [ ! -f "$out.gz" ]; then
	go run ./bench/genrib -o "$out" -prefixes 100000 -crafted-path-len 1000
	gzip -9 -f "$out"
fi
if [ $# -eq 0 ]; then
	go build -o bench/out/blackout ./cmd/blackout
	set -- bench/out/blackout
fi
printf '%-40s %-18s %10s %8s\n' binary flags rss_mb cpu_s
for bin in "$@"; do
	for flags in "" "--max-path-len=0"; do
		st=0
		/usr/bin/time -f '%M %U %S' -o bench/out/time.txt "$bin" replay $flags "$out.gz" >/dev/null 2>&1 || st=$?
		if [ "$st" -gt 1 ]; then
			printf '%-40s %-18s %10s\n' "$bin" "${flags:-default}" "failed($st)"
			continue
		fi
		read -r rss user sys <bench/out/time.txt
		printf '%-40s %-18s %10.0f %8.2f\n' "$bin" "${flags:-default}" "$((rss / 1024))" "$(echo "$user + $sys" | bc)"
	done
done
