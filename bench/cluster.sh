#!/usr/bin/env bash
# Cluster throughput and rebuild cost on this machine: a bus (one node, or
# three with R3=1) and a PostgreSQL in a temporary directory; the demo
# ingested as fast as it goes (wall, CPU of the ingest and of the bus
# processes); then RUNS detect nodes one after the other, each rebuilding
# the whole stream into an empty store (what a takeover does): wall, CPU,
# max RSS. With FROM_VIEW=1 a view worker (all partitions) publishes the
# table deltas and the detectors run with --from-view (no tables); the
# view worker's CPU and RSS are printed at the end. Needs root (PostgreSQL runs as user postgres), postgresql-15
# and GNU time. Usage: [R3=1] [FROM_VIEW=1] [RUNS=3] bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
go build -o bench/out/blackout ./cmd/blackout
B=$PWD/bench/out/blackout
RUNS=${RUNS:-3}
W=$(mktemp -d); chmod 755 $W; chown postgres $W
runuser -u postgres -- initdb -D $W/pg -A trust -U postgres >/dev/null
runuser -u postgres -- pg_ctl -D $W/pg -l $W/pg.log -w start -o "-c listen_addresses=127.0.0.1 -p 25499 -k $W" >/dev/null
DSN='postgres://postgres@127.0.0.1:25499/postgres?sslmode=disable'
if [ "${R3:-}" = 1 ]; then
  $B bus --name bus1 --listen 127.0.0.1:24291 --cluster-listen 127.0.0.1:26291 --routes nats://127.0.0.1:26292,nats://127.0.0.1:26293 --dir $W/bus1 2>$W/bus1.log &
  P1=$!
  $B bus --name bus2 --listen 127.0.0.1:24292 --cluster-listen 127.0.0.1:26292 --routes nats://127.0.0.1:26291,nats://127.0.0.1:26293 --dir $W/bus2 2>$W/bus2.log &
  P2=$!
  $B bus --name bus3 --listen 127.0.0.1:24293 --cluster-listen 127.0.0.1:26293 --routes nats://127.0.0.1:26291,nats://127.0.0.1:26292 --dir $W/bus3 2>$W/bus3.log &
  P3=$!
  BUSPID="$P1 $P2 $P3"
  BUS=nats://127.0.0.1:24291,nats://127.0.0.1:24292,nats://127.0.0.1:24293
  sleep 3
else
  $B bus --name bus1 --listen 127.0.0.1:24299 --dir $W/bus1 2>$W/bus.log &
  BUSPID=$!
  BUS=nats://127.0.0.1:24299
  sleep 1
fi
buscpu() { local t=0; for p in $BUSPID; do set -- $(awk '{print $14, $15}' /proc/$p/stat); t=$((t+$1+$2)); done; echo $t; }
TCK=$(getconf CLK_TCK)
echo "uptime before: $(uptime)"
C0=$(buscpu)
/usr/bin/time -f "ingest: wall %e s user %U s sys %S s maxrss %M KB" $B node --role ingest --bus $BUS --demo --speed max 2>$W/ingest.log || true
C1=$(buscpu)
grep -o 'msg="ingest finished".*' $W/ingest.log; grep "^ingest:" $W/ingest.log
echo "bus processes' CPU during the ingest: $(( (C1-C0)*1000/TCK )) ms"
DFLAGS=""
if [ "${FROM_VIEW:-}" = 1 ]; then
  # One view worker owning every partition publishes the table deltas
  # first (timed); the detectors then run with --from-view.
  ( /usr/bin/time -f "view worker: wall %e s user %U s sys %S s maxrss %M KB" $B node --role view --name v1 --bus $BUS --lease-ttl 5s 2>$W/view.log ) &
  VP=$!
  for i in $(seq 1 300); do
    n=$(grep -c "view partition taken" $W/view.log 2>/dev/null || true)
    [ "$n" -ge 16 ] && break; sleep 0.1
  done
  DFLAGS="--from-view"
fi
for run in $(seq 1 $RUNS); do
  psql -q 2>/dev/null -h 127.0.0.1 -p 25499 -U postgres -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
  ( /usr/bin/time -f "detect rebuild: wall %e s user %U s sys %S s maxrss %M KB" $B node --role detect $DFLAGS --name d$run --bus $BUS --store "$DSN" --lease-ttl 2s 2>$W/detect$run.log ) &
  TP=$!
  for i in $(seq 1 600); do grep -q "route stream ended" $W/detect$run.log 2>/dev/null && break; sleep 0.1; done


  NPID=$(pgrep -f "blackout node --role detect .*--name d$run" | grep -v "^$TP$" | tail -1)
  kill -TERM $NPID 2>/dev/null || true
  wait $TP || true
  grep -o 'msg="route stream ended.*' $W/detect$run.log | sed 's/consumer_resets.*//'
  grep "^detect rebuild" $W/detect$run.log
  C2=$(buscpu); echo "bus processes' CPU so far since the ingest: $(( (C2-C1)*1000/TCK )) ms"
done
if [ -n "${VP:-}" ]; then
  kill -TERM $(pgrep -f "blackout node --role view --name v1" | grep -v "^$VP$" | tail -1) 2>/dev/null || true
  wait $VP || true
  grep "^view worker" $W/view.log
fi
echo "uptime after: $(uptime)"
kill $BUSPID; wait 2>/dev/null || true
runuser -u postgres -- pg_ctl -D $W/pg -m fast stop >/dev/null
rm -rf $W
