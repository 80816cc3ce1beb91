#!/bin/sh
# Time to ready of `blackout watch --ris-bootstrap` and `--routeviews-bootstrap` on a
# full-size local RIS mirror (bench/readiness: 1 M prefixes x 30 peers,
# 96 update files), served over loopback HTTP, with the local RIS Live
# server. The mirror is generated once into bench/out/readiness.
#   bench/readiness.sh                         # the full size
#   BLACKOUT_FULLSIZE_PEERS=40 bench/readiness.sh
set -e
cd "$(dirname "$0")/.."
uptime
BLACKOUT_FULLSIZE=1 go test ./bench/readiness -v -count=1 -timeout 2h "$@"
uptime
