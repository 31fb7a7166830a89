#!/usr/bin/env bash
# One process of CLIENTS Clients (default 19,000) at their default options
# against one echo server process on loopback (several listening ports):
# connect-all time; heap, stack and goroutines per client; RSS; idle CPU
# over IDLE (default 60 s) with the default heartbeat; the same memory with
# an application goroutine per client in Receive; the server SIGKILLed and
# restarted after 1 s, STORMS times (default 3): time until all are back and
# the peak reconnections per 100 ms as a fraction of the clients (medians);
# Close of every client in parallel; then the floors: as many raw gorilla
# connections, with one goroutine writing their pings at the heartbeat's
# rate and nothing else, over FLOOR (default 30 s) each way (spread, and
# batched every 100 ms), then all of them closed in parallel. Prints the figures and the verdict on
# the scale targets (bench/cmd/benchratio), writes bench/out/scale.txt and
# the chart bench/scale-storm.svg. About 3 minutes on 2 cores.
#
#   bench/scale.sh
#   CLIENTS=10000 bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")"

CLIENTS=${CLIENTS:-19000}
IDLE=${IDLE:-60s}
FLOOR=${FLOOR:-30s}
STORMS=${STORMS:-3}
PEER=${PEER:-gws}
OUT=out
mkdir -p "$OUT"
RAW="$OUT/scale.txt"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((CLIENTS + 200)) ]; then
	echo "needs $((CLIENTS + 200)) open files per process, the limit is $(ulimit -n)" >&2
	exit 1
fi

echo "== machine"
echo "go: $(go version); cores: $(nproc); open files: $(ulimit -n); ephemeral ports: $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range); echo server: $PEER; date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "== building"
go build -o "$OUT/echoserver" ./echoserver
go test -c -o "$OUT/bench.test" .

echo "== $CLIENTS clients, idle $IDLE, $STORMS restarts"
"$OUT/bench.test" -test.run='^$' -test.bench='^BenchmarkScale$' -test.benchtime=1x \
	-echoserver="$OUT/echoserver" -peer="$PEER" \
	-scale.clients="$CLIENTS" -scale.idle="$IDLE" -scale.storms="$STORMS" \
	-scale.svg=scale-storm.svg | tee "$RAW" | grep -v '^Benchmark'
echo "== floor: $CLIENTS gorilla connections, the heartbeat's pings written alone, $FLOOR each way, then all closed in parallel"
"$OUT/bench.test" -test.run='^$' -test.bench='^BenchmarkFloor$' -test.benchtime=1x \
	-echoserver="$OUT/echoserver" -peer="$PEER" \
	-floor.clients="$CLIENTS" -floor.window="$FLOOR" | tee -a "$RAW" | grep -v '^Benchmark'
if grep -q -- '--- FAIL' "$RAW"; then
	echo "the scale benchmark failed"; exit 1
fi

echo
go run ./cmd/benchratio -scale "$RAW" | tee "$OUT/scale.md"
