#!/usr/bin/env bash
# View partition takeover with and without checkpoints, on a one-node bus:
# a synthetic RIB (PREFIXES x PEERS routes) and UPDATES updates are
# ingested as fast as they go; view worker A (all 16 partitions) publishes
# every delta, writing a checkpoint of each partition every EVERY route
# sequences, and is SIGKILLed once done; worker B then takes every
# partition over (after the lease TTL, TTL=5s) and rebuilds it. Printed per
# run: B's time from taking a partition to catching up (the longest, and
# the sum of route messages read), and B's CPU until then. Run with
# EVERY=0 for the full replay. Needs GNU time.
# Usage: [BIN=blackout] [TTL=5s] [PREFIXES=20000] [PEERS=20] [UPDATES=100000] [EVERY=100000] bench/checkpoint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
# BIN=path runs that binary instead of building this tree's.
if [ -n "${BIN:-}" ]; then B=$BIN; else go build -o bench/out/blackout ./cmd/blackout; B=$PWD/bench/out/blackout; fi
TTL=${TTL:-5s} PREFIXES=${PREFIXES:-20000} PEERS=${PEERS:-20} UPDATES=${UPDATES:-100000} EVERY=${EVERY:-100000}
RIB=bench/out/rib.${PREFIXES}x$PEERS.mrt UPD=bench/out/upd.${PREFIXES}x$PEERS+$UPDATES.mrt
[ -f $UPD ] || go run ./bench/genrib -o $RIB -prefixes $PREFIXES -peers $PEERS -updates $UPDATES -updates-o $UPD
W=$(mktemp -d)
if ss -ltn | grep -q ':24399 '; then echo "127.0.0.1:24399 is taken (a bus of an earlier run?)" >&2; exit 1; fi
$B bus --name bus1 --listen 127.0.0.1:24399 --dir $W/bus1 2>$W/bus.log &
BUSPID=$!
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
BUS=nats://127.0.0.1:24399
sleep 1
TCK=$(getconf CLK_TCK)
cpu() { set -- $(awk '{print $14, $15}' /proc/$1/stat); echo $(( ($1+$2)*1000/TCK )); }
echo "uptime before: $(uptime)"
/usr/bin/time -f "ingest: wall %e s user %U s sys %S s" $B node --role ingest --bus $BUS --replay $RIB $UPD --speed max 2>$W/ingest.log || true
grep -o 'msg="ingest finished".*' $W/ingest.log
TA=$(date +%s.%N)
$B node --role view --name va --bus $BUS --lease-ttl ${TTL:-5s} --checkpoint-every $EVERY 2>$W/va.log &
VA=$!
N=$(grep -o 'published=[0-9]*' $W/ingest.log | cut -d= -f2)
for i in $(seq 1 6000); do
  [ "$(grep -c 'view partition at the end of the replay' $W/va.log 2>/dev/null || true)" -ge 16 ] && break; sleep 0.1
done
echo "worker a: every delta published $(echo "$(date +%s.%N) - $TA" | bc) s after its start; CPU $(cpu $VA) ms for $N deltas"
sleep 2 # the last checkpoints
kill -KILL $VA; wait $VA 2>/dev/null || true
T0=$(date +%s.%N)
$B node --role view --name vb --bus $BUS --lease-ttl ${TTL:-5s} --checkpoint-every $EVERY 2>$W/vb.log &
VB=$!
for i in $(seq 1 3000); do
  [ "$(grep -c 'view partition rebuilt' $W/vb.log 2>/dev/null || true)" -ge 16 ] && break; sleep 0.1
done
echo "worker b: all 16 partitions rebuilt $(echo "$(date +%s.%N) - $T0" | bc) s after its start (lease TTL $TTL included); CPU $(cpu $VB) ms"
grep 'view partition rebuilt' $W/vb.log | grep -o 'partition=.*' > $W/rebuilt.txt
awk '{for(i=1;i<=NF;i++){split($i,a,"="); if(a[1]=="route_messages_read") r+=a[2]; if(a[1]=="from_checkpoint" && a[2]>0) c++}} END {print "partitions rebuilt:", NR, "from a checkpoint:", c+0, "route messages read:", r}' $W/rebuilt.txt
echo "partition rebuilds took: $(grep -o 'took=[^ ]*' $W/rebuilt.txt | cut -d= -f2 | tr '\n' ' ')"
grep -h 'level=WARN' $W/vb.log | head -5 || true
cp $W/vb.log bench/out/checkpoint-vb-every$EVERY.log; cp $W/va.log bench/out/checkpoint-va-every$EVERY.log
echo "uptime after: $(uptime)"
kill $VB; wait $VB 2>/dev/null || true
kill $BUSPID; wait 2>/dev/null || true
rm -rf $W
