#!/usr/bin/env bash
# bench/mrt.sh — side-by-side MRT decoding figures, run by hand (not in CI).
#
# First, the headline: `blackout mrt dump -m` against `bgpdump -m`, both to
# /dev/null, on a real RIB repeated 10 times (the corpus's route-views2 RIB,
# decompressed and concatenated 10 times: a valid MRT stream, each copy
# with its PEER_INDEX_TABLE, which both tools take in turn) and on the
# generated RIB; RUNS runs of each (default 3), alternating the tools, the
# least wall time and the least user+sys CPU time of each, and both ratios
# (the machine may be shared: CPU time is the figure load disturbs least;
# blackout uses every core, so its wall time can be below its CPU time).
# The outputs of the two tools are compared on the repeated real RIB.
#
# Then, on the same inputs, in one run, it times:
#   - `blackout mrt dump -m` against `bgpdump -m` (both to /dev/null);
#   - blackout's route iterator (bench/mrtroutes) against gobgp v4's
#     pkg/packet/mrt (bench/gobgpdecode);
#   - blackout's parallel bzip2 decoder against Go's compress/bzip2;
# and prints seconds, routes/s, peak RSS and the ratios.
#
# Inputs: the corpus RIBs ($BLACKOUT_CORPUS, default ../shared/corpus), and a
# generated RIB (bench/genrib: PREFIXES x PEERS, default 200,000 x 100 =
# 19.4 M entries, 1.1 GB) plain, gzip and bzip2. The generated files are
# made once in bench/out/ (gitignored) and reused.
#
# Needs: go, bgpdump, gzip, bzip2 (lbzip2 or pbzip2 used to compress when
# present), GNU time (/usr/bin/time). On Debian:
#   apt-get install -y bgpdump time bzip2 lbzip2
#
# Usage: bench/mrt.sh                 full size
#        PREFIXES=100000 bench/mrt.sh  a quicker run
#        ONLY_RATIO=1 bench/mrt.sh     the headline only
#        SKIP_CORPUS=1, SKIP_GZIP=1, SKIP_BZIP2=1 leave parts out; RUNS=N.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/bench/out
bin=$out/bin
mkdir -p "$bin"

PREFIXES=${PREFIXES:-200000}
PEERS=${PEERS:-100}
RUNS=${RUNS:-3}
corpus=${BLACKOUT_CORPUS:-$root/../shared/corpus}

for tool in bgpdump gzip bzip2; do
	command -v "$tool" >/dev/null || { echo "mrt.sh: $tool missing (apt-get install -y $tool)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "mrt.sh: /usr/bin/time missing (apt-get install -y time)" >&2; exit 1; }

echo "building..." >&2
go build -o "$bin/blackout" ./cmd/blackout
go build -o "$bin/mrtroutes" ./bench/mrtroutes
go build -o "$bin/gobgpdecode" ./bench/gobgpdecode
go build -o "$bin/genrib" ./bench/genrib

# The generated RIB, made once.
rib=$out/rib.${PREFIXES}x${PEERS}.mrt
if [ ! -s "$rib" ]; then
	echo "generating $rib..." >&2
	"$bin/genrib" -o "$rib" -prefixes "$PREFIXES" -peers "$PEERS"
fi
if [ -z "${ONLY_RATIO:-}" ] && [ -z "${SKIP_GZIP:-}" ] && [ ! -s "$rib.gz" ]; then
	echo "gzip $rib..." >&2
	gzip -c "$rib" >"$rib.gz.tmp" && mv "$rib.gz.tmp" "$rib.gz"
fi
if [ -z "${ONLY_RATIO:-}" ] && [ -z "${SKIP_BZIP2:-}" ] && [ ! -s "$rib.bz2" ]; then
	echo "bzip2 $rib..." >&2
	bz=bzip2
	command -v lbzip2 >/dev/null && bz=lbzip2
	command -v pbzip2 >/dev/null && [ "$bz" = bzip2 ] && bz=pbzip2
	$bz -c "$rib" >"$rib.bz2.tmp" && mv "$rib.bz2.tmp" "$rib.bz2"
fi

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2fM", n / s / 1e6; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

# The real RIB repeated 10 times, made once.
rv2=$corpus/mrt/routeviews2.rib.20140523.0600.partial.gz
rv2x10=$out/routeviews2.rib.20140523.0600.partial.x10.mrt
if [ -z "${SKIP_CORPUS:-}" ] && [ -e "$rv2" ] && [ ! -s "$rv2x10" ]; then
	for _ in 1 2 3 4 5 6 7 8 9 10; do gzip -dc "$rv2"; done >"$rv2x10.tmp" && mv "$rv2x10.tmp" "$rv2x10"
fi

# cputime CMD...: runs CMD, stdout to /dev/null; sets wall and cpu (user+sys).
cputime() {
	local tf
	tf=$(mktemp)
	/usr/bin/time -f "%e %U %S" -o "$tf" "$@" >/dev/null 2>/dev/null || echo "mrt.sh: failed: $*" >&2
	read -r wall u s <"$tf"
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	rm -f "$tf"
}
minof() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }'; }

echo "mrt dump -m vs bgpdump -m: least of $RUNS alternating runs, wall and user+sys CPU seconds ($(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-48s %9s %10s %9s %13s %12s %7s %6s\n' input lines ours_wall ours_cpu bgpdump_wall bgpdump_cpu x_wall x_cpu
ratio_inputs=()
[ -s "$rv2x10" ] && ratio_inputs+=("$rv2x10")
ratio_inputs+=("$rib")
for f in "${ratio_inputs[@]}"; do
	ow="" oc="" bw="" bc=""
	for _ in $(seq "$RUNS"); do
		cputime "$bin/blackout" mrt dump -m "$f"
		ow=$(minof "$ow" "$wall") oc=$(minof "$oc" "$cpu")
		cputime bgpdump -m "$f"
		bw=$(minof "$bw" "$wall") bc=$(minof "$bc" "$cpu")
	done
	lines=$("$bin/blackout" mrt dump -m "$f" 2>/dev/null | wc -l)
	printf '%-48s %9s %10s %9s %13s %12s %7s %6s\n' "$(basename "$f")" "$lines" "$ow" "$oc" "$bw" "$bc" "$(ratio "$bw" "$ow")" "$(ratio "$bc" "$oc")"
done
if [ -s "$rv2x10" ]; then
	if cmp -s <("$bin/blackout" mrt dump -m "$rv2x10" 2>/dev/null) <(bgpdump -m "$rv2x10" 2>/dev/null); then
		echo "(outputs identical on $(basename "$rv2x10"))"
	else
		echo "mrt.sh: outputs differ on $(basename "$rv2x10")" >&2
	fi
fi
[ -n "${ONLY_RATIO:-}" ] && exit 0
echo

inputs=()
if [ -z "${SKIP_CORPUS:-}" ] && [ -d "$corpus/mrt" ]; then
	for f in "$corpus"/mrt/routeviews2.rib.*.gz "$corpus"/mrt/routeviews6.rib.*.gz "$corpus"/mrt/bview.20020722.2337.gz; do
		[ -e "$f" ] && inputs+=("$f")
	done
fi
inputs+=("$rib")
[ -z "${SKIP_GZIP:-}" ] && inputs+=("$rib.gz")
[ -z "${SKIP_BZIP2:-}" ] && inputs+=("$rib.bz2")

tfile=$(mktemp)
trap 'rm -f "$tfile" "$tfile.out"' EXIT

# measure CMD... : runs CMD with stdout to /dev/null (or to $tfile.out when
# keep=1), sets secs and rss_mb.
measure() {
	local dest=/dev/null
	[ -n "${keep:-}" ] && dest=$tfile.out
	/usr/bin/time -f "%e %M" -o "$tfile" "$@" >"$dest" 2>"$tfile.err" || {
		echo "mrt.sh: failed: $* ($(tail -1 "$tfile.err"))" >&2
	}
	secs=$(tail -1 "$tfile" | cut -d' ' -f1)
	rss_kb=$(tail -1 "$tfile" | cut -d' ' -f2)
	rss_mb=$((rss_kb / 1024))
	rm -f "$tfile.err"
}


printf '%-44s %-26s %9s %10s %8s %10s\n' input tool seconds routes/s RSS_MB ratio
row() { printf '%-44s %-26s %9s %10s %8s %10s\n' "$1" "$2" "$3" "$4" "$5" "$6"; }

for f in "${inputs[@]}"; do
	name=$(basename "$f")
	keep=1 measure "$bin/mrtroutes" routes "$f"
	routes=$(cut -d' ' -f1 <"$tfile.out")
	ours=$secs
	row "$name" "blackout route iterator" "$ours" "$(rate "$routes" "$ours")" "$rss_mb" ""
	keep=1 measure "$bin/gobgpdecode" "$f"
	note=""
	# gobgp prints "N routes, M records not decoded": flag what it skipped.
	read -r groutes _ gskipped _ <"$tfile.out" || true
	if [ "${gskipped:-0}" != 0 ]; then
		note=" (gobgp: $groutes routes, $gskipped records unsupported)"
	fi
	row "$name" "gobgp pkg/packet/mrt" "$secs" "$(rate "$routes" "$secs")" "$rss_mb" "gobgp/ours $(ratio "$secs" "$ours")$note"

	measure "$bin/blackout" mrt dump -m "$f"
	ours=$secs
	row "$name" "blackout mrt dump -m" "$ours" "$(rate "$routes" "$ours")" "$rss_mb" ""
	measure bgpdump -m "$f"
	row "$name" "bgpdump -m" "$secs" "$(rate "$routes" "$secs")" "$rss_mb" "bgpdump/ours $(ratio "$secs" "$ours")"

	case "$f" in
	*.bz2)
		measure "$bin/mrtroutes" bzip2 ours "$f"
		ours=$secs
		row "$name" "bzip2: blackout compress" "$ours" "" "$rss_mb" ""
		measure "$bin/mrtroutes" bzip2 stdlib "$f"
		row "$name" "bzip2: Go compress/bzip2" "$secs" "" "$rss_mb" "stdlib/ours $(ratio "$secs" "$ours")"
		;;
	esac
done
echo "($(nproc) cores; $(go version | cut -d' ' -f3); bgpdump $(dpkg-query -W -f='${Version}' bgpdump 2>/dev/null || echo '?'))"
