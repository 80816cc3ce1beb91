#!/bin/sh
# bench/scale.sh: `blackout replay --json` of a generated full-feed RIB plus
# updates of the same peers and prefixes (bench/genrib), side by side with
# `bgpdump -m` printing the same RIB, alternating the binaries given (say,
# the one before a change and the one after) so that a busy machine
# weighs on each alike. Prints wall and CPU (user+sys) seconds and peak
# RSS (GNU time), and RSS bytes per route.
#
#   PREFIXES=200000 PEERS=100 UPDATES=300000 ROUNDS=1 [SKIP_BGPDUMP=1] bench/scale.sh [BLACKOUT_BINARY...]
#
# Needs Go, bgpdump and GNU time: apt-get install -y bgpdump time.
set -eu
cd "$(dirname "$0")/.."
P=${PREFIXES:-200000} N=${PEERS:-100} U=${UPDATES:-300000} R=${ROUNDS:-1}
mkdir -p bench/out
rib=bench/out/rib.${P}x${N}.mrt upd=bench/out/upd.${P}x${N}+${U}.mrt
if [ ! -f "$rib" ] || [ ! -f "$upd" ]; then
	go run ./bench/genrib -o "$rib" -prefixes "$P" -peers "$N" -updates "$U" -updates-o "$upd"
fi
routes=$(go run ./bench/mrtroutes routes "$rib" | awk '{print $1}')
if [ $# -eq 0 ]; then
	go build -o bench/out/blackout ./cmd/blackout
	set -- bench/out/blackout
fi
echo "input: $rib ($routes RIB routes) + $upd; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %9s %9s %9s %12s\n' run wall_s cpu_s rss_mb rss_B/route
one() { # name, command...
	name=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o bench/out/time.txt "$@" >/dev/null 2>bench/out/stderr.txt || { echo "$name failed:"; tail -3 bench/out/stderr.txt; return; }
	read -r wall user sys rss <bench/out/time.txt
	printf '%-36s %9.2f %9.2f %9.0f %12.1f\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))" "$(echo "$rss * 1024 / $routes" | bc -l)"
}
for _ in $(seq "$R"); do
	for bin in "$@"; do
		one "$(basename "$bin") replay --json" "$bin" replay --json "$rib" "$upd"
	done
	[ -z "${SKIP_BGPDUMP:-}" ] && command -v bgpdump >/dev/null && one "bgpdump -m (RIB only)" bgpdump -m "$rib"
done
