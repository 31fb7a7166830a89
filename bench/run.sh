#!/usr/bin/env bash
# Runs every benchmark COUNT times (default 6), then prints the benchstat
# table (the Client, raw gorilla, gws and coder side by side, column per
# impl), issue 10's table, the ratios to gorilla from the medians and the
# verdict on each target (bench/cmd/benchratio, which holds every
# threshold). Writes bench/out/ (raw results, benchstat and ratio tables)
# and bench/storm.svg. About 10 minutes on 2 cores (COUNT=6).
#
#   bench/run.sh            # COUNT=6, against the gws echo server
#   COUNT=10 bench/run.sh
#   PEER=gorilla bench/run.sh  # against the gorilla echo server instead
#   PROFILE=1 bench/run.sh  # also CPU and allocation profiles (pipelined 16 B, 1 KiB and 64 KiB, round trip 1 KiB)
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
PEER=${PEER:-gws}
OUT=out
# benchstat is run at a pinned version, outside this module, so that it
# adds nothing to go.mod.
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
mkdir -p "$OUT"
RAW="$OUT/results.txt"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== machine"
{
	echo "go: $(go version)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "cores: $(nproc)"
	echo "kernel: $(uname -sr)"
	echo "open files: $(ulimit -n)"
	echo "echo server: $PEER (own process)"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} | tee "$OUT/machine.txt"

echo "== building"
go build -o "$OUT/echoserver" ./echoserver
go test -c -o "$OUT/bench.test" .
T="$OUT/bench.test"
ECHO=("-echoserver=$OUT/echoserver" "-peer=$PEER")

: >"$RAW"
# Whole rounds, COUNT times: within a round every implementation runs one
# right after the other for each case, so that drift on a busy 2-core
# machine hits both alike (go test -count would run each case COUNT times
# in a row).
for round in $(seq 1 "$COUNT"); do
	echo "== round $round/$COUNT: throughput (pipelined, round-trip), benchtime=$BENCHTIME"
	"$T" -test.run='^$' -test.bench='^Benchmark(Pipelined|RoundTrip)$' \
		-test.benchtime="$BENCHTIME" "${ECHO[@]}" | tee -a "$RAW" | grep '^Benchmark' || true

	echo "== round $round/$COUNT: reconnect latency"
	"$T" -test.run='^$' -test.bench='^BenchmarkReconnect$' \
		-test.benchtime=500x "${ECHO[@]}" | tee -a "$RAW" | grep '^Benchmark' || true

	echo "== round $round/$COUNT: idle, leak, dead peer, storm (one measurement each)"
	"$T" -test.run='^$' -test.bench='^Benchmark(Idle|IdleReceive|ReconnectLeak|DeadPeer|Storm)$' \
		-test.benchtime=1x "${ECHO[@]}" -storm.svg=storm.svg | tee -a "$RAW" | grep '^Benchmark' || true
done
if grep -q -- '--- FAIL' "$RAW"; then
	echo "some benchmarks failed:"; grep -A3 -- '--- FAIL' "$RAW"; exit 1
fi

if [ "${PROFILE:-0}" = 1 ]; then
	echo "== profiles into $OUT/ (cpu-MODE-IMPL-SIZE.prof, mem-...)"
	for impl in gorilla wsreconnect gws coder; do
		for run in Pipelined/16B Pipelined/1KiB Pipelined/64KiB RoundTrip/1KiB; do
			mode=${run%/*} size=${run#*/}
			"$T" -test.run='^$' -test.bench="^Benchmark$mode/impl=$impl/size=$size\$" \
				-test.benchtime=3s "${ECHO[@]}" \
				-test.cpuprofile="$OUT/cpu-$mode-$impl-$size.prof" \
				-test.memprofile="$OUT/mem-$mode-$impl-$size.prof" >/dev/null
		done
	done
fi

echo
echo "== benchstat (columns: impl)"
go run "$BENCHSTAT" -col /impl "$RAW" | tee "$OUT/benchstat.txt"

echo
go run ./cmd/benchratio "$RAW" | tee "$OUT/ratios.md"
