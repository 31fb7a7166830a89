package wsreconnect

import (
	"regexp"
	"strconv"
	"time"
)

const MaxServerDelay = time.Hour

func addSat(a, b time.Duration) time.Duration {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

func capServer(d time.Duration) (time.Duration, bool) {
	if d < 0 {
		return 0, false
	}
	if d > MaxServerDelay {
		return MaxServerDelay, true
	}
	return d, false
}

var (
	limitComparison = regexp.MustCompile(`\d+\s*>\s*(\d+)`)
	limitNumber     = regexp.MustCompile(`(?i)(?:limit|max\w*|maximum|allowed)\D{0,20}?(\d+)`)
)

func parseLimit(reason string, refused int) int {
	for _, re := range []*regexp.Regexp{limitComparison, limitNumber} {
		if m := re.FindStringSubmatch(reason); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && (refused == 0 || n < refused) {
				return n
			}
		}
	}
	return 0
}
