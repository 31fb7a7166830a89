#!/usr/bin/env bash
# Cost checks that do not depend on timing (allocations per message, send
# and receive together, at 16 B, 1 KiB and 64 KiB over 10,000 messages each;
# allocations per Send against raw gorilla; goroutines per idle client;
# goroutines after forced reconnects), plus a one-shot smoke run of every
# benchmark so that they keep compiling and working. Each threshold and its
# tolerance is a constant beside its test in check_test.go. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go vet ./...

# The count-based checks first, verbose, so that their figures are printed
# whether they hold or not.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
counts=0
go test -count=1 -v -run '^(TestAllocsPerMessage|TestIdleGoroutines)$' . >"$log" 2>&1 || counts=$?
grep -E 'FIGURE|^(---|    ---) ' "$log" | sed 's/^ *check_test.go:[0-9]*: FIGURE /  /'
grep -E 'allocations per message|idle clients run' "$log" | grep -v FIGURE || true
if [ "$counts" = 0 ]; then echo "count-based checks: ok"; else echo "count-based checks: FAILED"; fi

go test -short -count=1 -skip '^(TestAllocsPerMessage|TestIdleGoroutines)$' ./...
go test -short -count=1 -run '^$' -bench . -benchtime=1x . >/dev/null
echo "benchmark smoke run: ok"
exit "$counts"
