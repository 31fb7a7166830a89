#!/usr/bin/env bash
# The Client's 16 B and 1 KiB figures both ways: with its default read
# buffer (gorilla's bufio.Reader at 128 B over a pooled 16 KiB read-ahead)
# and with gorilla's default 4 KiB read buffer (-client.readbuffer=4096),
# in alternating rounds, then benchstat old (4 KiB) against new (default).
#
#   bench/readbuffer.sh          # COUNT=6 rounds, about 2 minutes
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
PEER=${PEER:-gws}
OUT=out
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
mkdir -p "$OUT"
go build -o "$OUT/echoserver" ./echoserver
go test -c -o "$OUT/bench.test" .
: >"$OUT/readbuffer-4096.txt"
: >"$OUT/readbuffer-default.txt"
for round in $(seq 1 "$COUNT"); do
	echo "== round $round/$COUNT"
	for rb in 4096 0; do
		f="$OUT/readbuffer-default.txt"
		[ "$rb" = 4096 ] && f="$OUT/readbuffer-4096.txt"
		"$OUT/bench.test" -test.run='^$' -test.bench='^Benchmark(Pipelined|RoundTrip)$/impl=wsreconnect(-onmessage)?/size=(16B|1KiB)$' \
			-test.benchtime=1s "-echoserver=$OUT/echoserver" "-peer=$PEER" "-client.readbuffer=$rb" >>"$f"
	done
done
go run "$BENCHSTAT" "$OUT/readbuffer-4096.txt" "$OUT/readbuffer-default.txt" | tee "$OUT/readbuffer.txt"
