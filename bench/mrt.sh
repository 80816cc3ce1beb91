#!/usr/bin/env bash
# bench/mrt.sh — side-by-side MRT decoding figures, run by hand (not in CI).
#
# On the same inputs, in one run, it times:
#   - `blackout mrt dump -m` against `bgpdump -m` (both to /dev/null);
#   - blackout's route iterator (bench/mrtroutes) against gobgp v4's
#     pkg/packet/mrt (bench/gobgpdecode);
#   - blackout's parallel bzip2 decoder against Go's compress/bzip2;
# and prints seconds, routes/s, peak RSS and the ratios.
#
# Inputs: the corpus RIBs ($BLACKOUT_CORPUS, default ../shared/corpus), and a
# generated full-size RIB (bench/genrib: PREFIXES x PEERS entries, default
# 1,000,000 x 40, about 3 GB) plain, gzip and bzip2. The generated files are
# made once in bench/out/ (gitignored) and reused.
#
# Needs: go, bgpdump, gzip, bzip2 (lbzip2 or pbzip2 used to compress when
# present), GNU time (/usr/bin/time). On Debian:
#   apt-get install -y bgpdump time bzip2 lbzip2
#
# Usage: bench/mrt.sh                 full size
#        PREFIXES=100000 bench/mrt.sh  a quicker run
#        SKIP_CORPUS=1, SKIP_GZIP=1, SKIP_BZIP2=1 leave parts out.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/bench/out
bin=$out/bin
mkdir -p "$bin"

PREFIXES=${PREFIXES:-1000000}
PEERS=${PEERS:-40}
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
if [ -z "${SKIP_GZIP:-}" ] && [ ! -s "$rib.gz" ]; then
	echo "gzip $rib..." >&2
	gzip -c "$rib" >"$rib.gz.tmp" && mv "$rib.gz.tmp" "$rib.gz"
fi
if [ -z "${SKIP_BZIP2:-}" ] && [ ! -s "$rib.bz2" ]; then
	echo "bzip2 $rib..." >&2
	bz=bzip2
	command -v lbzip2 >/dev/null && bz=lbzip2
	command -v pbzip2 >/dev/null && [ "$bz" = bzip2 ] && bz=pbzip2
	$bz -c "$rib" >"$rib.bz2.tmp" && mv "$rib.bz2.tmp" "$rib.bz2"
fi

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

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2fM", n / s / 1e6; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

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
