package wsreconnect

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLimitFromReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason  string
		refused int
		want    int
	}{
		// From the issue: units and digit grouping.
		{"max 1 MB", 2_000_000, 1_000_000},
		{"limit of 1,048,576 bytes", 2 << 20, 1 << 20},
		{"limit 64KiB", 100_000, 64 << 10},
		// The comparison form and the keyword forms.
		{"over size limit (2049 > 1024 bytes)", 2049, 1024},
		{"message too big (100 > 64 bytes)", 100, 64},
		{"max payload 4096", 5000, 4096},
		{"frame exceeds limit of 65536 bytes", 70_000, 65536},
		{"Max payload size exceeded", 5000, 0},
		{"", 5000, 0},
		{"too big", 5000, 0},
		// Grouping, decimals and units.
		{"limit 1 048 576", 2 << 20, 1 << 20},
		{"limit 1\u2009048\u2009576 bytes", 2 << 20, 1 << 20},
		{"limit 1\u202f048\u202f576 bytes", 2 << 20, 1 << 20},
		{"limit 1_048_576", 2 << 20, 1 << 20},
		{"max 1.5 MB", 2_000_000, 1_500_000},
		{"max 1.5MiB", 2 << 20, 3 << 19},
		{"max 1.99999999999999 KiB", 4096, 2047}, // decimals past the ninth are dropped
		{"max 64 kB", 100_000, 64_000},
		{"max 64 kb", 100_000, 64_000},
		{"max 64K", 100_000, 64_000},
		{"max 1M", 2_000_000, 1_000_000},
		{"max 1 mib", 2 << 20, 1 << 20},
		{"max 1 MIB", 2 << 20, 1 << 20},
		{"max 1 GB", 2_000_000_000, 1_000_000_000},
		{"max 1 GiB", 2 << 30, 1 << 30},
		{"limit: 4096 B", 5000, 4096},
		{"1.5 MB > 1 MB", 1_500_000, 1_000_000},
		{"size 2,049 > 1,024", 2049, 1024},
		{"maximum allowed message size is 4096 bytes", 5000, 4096},
		{"max 10 messages then 4096", 5000, 0}, // 10 is the first number: absurd
		{"refused 5000: max payload size exceeded, see docs 4096", 5000, 0},
		{"limit 4096", 0, 4096}, // refused unknown: only the floor applies
		// Absurd: under 64 bytes, at or over refused, or under refused/1000.
		{"max 1 MB", 0, 1_000_000},
		{"max 1 MB", 1_000_000, 0},
		{"max 1 MB", 500, 0},
		{"limit 63", 100, 0},
		{"limit 64", 64_000, 64},
		{"limit 64", 64_001, 64},
		{"limit 64", 65_000, 0},
		{"max 1 m", 5000, 0}, // a lone m is not a unit: the limit reads as 1 byte
		{"limit 99999999999999999999999999999 bytes", 5000, 0},
		{"limit 99999999999999999999999999999 bytes", 0, 0},
		{"limit 18446744073709551615", 0, 0},
		{"limit 9999999999 GiB", 0, 0},
		{"limit " + strings.Repeat("9", 1000), math.MaxInt, 0},
		{"max 4096", -1, 4096},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseLimit(tt.reason, tt.refused), "%q refused %d", tt.reason, tt.refused)
	}
}

func TestParseRetryAfterSaturates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		cut   bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"1", time.Second, false},
		{" 120 ", 2 * time.Minute, false},
		{"3600", MaxServerDelay, false},
		{"3601", MaxServerDelay, true},
		{"9223372037", MaxServerDelay, true},
		{strings.Repeat("9", 400), MaxServerDelay, true},
		{"-5", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Fri, 31 Dec 9999 23:59:59 GMT", MaxServerDelay, true},
		{"Fri, 02 Jan 2026 03:04:35 GMT", 30 * time.Second, false},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, false},
	}
	for _, tt := range tests {
		got, cut := retryAfter(tt.value, now)
		assert.Equal(t, tt.want, got, "%q", tt.value)
		assert.Equal(t, tt.cut, cut, "%q cut", tt.value)
		assert.Equal(t, tt.want, parseRetryAfter(tt.value, now), "%q", tt.value)
	}
}

func TestAddSat(t *testing.T) {
	t.Parallel()
	const maxD, minD = time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
	tests := []struct{ a, b, want time.Duration }{
		{1, 2, 3},
		{0, 0, 0},
		{maxD, 1, maxD},
		{maxD, maxD, maxD},
		{maxD - 1, 1, maxD},
		{MaxServerDelay, maxD / 2, maxD/2 + MaxServerDelay},
		{MaxServerDelay, maxD - 1, maxD},
		{minD, -1, minD},
		{-3, 1, -2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, addSat(tt.a, tt.b), "%d + %d", tt.a, tt.b)
		assert.Equal(t, tt.want, addSat(tt.b, tt.a), "%d + %d", tt.b, tt.a)
	}
}

func TestCapServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d, want time.Duration
		cut     bool
	}{
		{-time.Second, 0, false},
		{0, 0, false},
		{time.Minute, time.Minute, false},
		{MaxServerDelay, MaxServerDelay, false},
		{MaxServerDelay + 1, MaxServerDelay, true},
		{math.MaxInt64, MaxServerDelay, true},
	}
	for _, tt := range tests {
		got, cut := capServer(tt.d)
		assert.Equal(t, tt.want, got, "%s", tt.d)
		assert.Equal(t, tt.cut, cut, "%s", tt.d)
	}
}

func TestMinDelayAcceptsFloorsAboveMaxServerDelay(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	require.NoError(t, WithMinDelay(CloseTryAgainLater, math.MaxInt64)(&o))
	got, cut := capServer(o.minDelays[CloseTryAgainLater])
	assert.Equal(t, MaxServerDelay, got)
	assert.True(t, cut)
}
