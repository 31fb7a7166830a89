#!/usr/bin/env bash
# Cost checks that do not depend on timing (allocations per Send against raw
# gorilla, goroutines per idle client, goroutines after forced reconnects),
# plus a one-shot smoke run of every benchmark so that they keep compiling
# and working. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go vet ./...
go test -short -count=1 ./...
go test -short -count=1 -run '^$' -bench . -benchtime=1x . >/dev/null
echo "benchmark smoke run: ok"
