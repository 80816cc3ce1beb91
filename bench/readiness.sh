#!/bin/sh
# Time to ready of `blackout watch --ris-bootstrap` and of
# `--routeviews-bootstrap` on full-size local mirrors (bench/readiness):
# rrc00, a bview of 1 M prefixes x 30 peers and 96 five-minute update
# files, with the local RIS Live server; route-views2, the RIB of the last
# 2-hour dump (same size, bzip2) and the 15-minute files since, with
# franz-go's in-process Kafka. Both are served over loopback HTTP and
# generated into bench/out/readiness and bench/out/readiness-rv (the RIS
# one is reused; the RouteViews one is dated now, so rebuilt as time goes).
#   bench/readiness.sh                                 # both
#   bench/readiness.sh -run TestReadyFullSize          # RIS only
#   BLACKOUT_FULLSIZE_PEERS=40 bench/readiness.sh
set -e
cd "$(dirname "$0")/.."
uptime
BLACKOUT_FULLSIZE=1 go test ./bench/readiness -v -count=1 -timeout 2h "$@"
uptime
