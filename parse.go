package wsreconnect

import (
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// addSat returns a+b, saturated at math.MaxInt64 and math.MinInt64 instead
// of wrapping. It is never negative when a and b are not.
func addSat(a, b time.Duration) time.Duration {
	switch {
	case a > 0 && b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case a < 0 && b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// capServer bounds a wait a server asked for: it returns d cut to
// [0, MaxServerDelay], and whether d was over MaxServerDelay (a cut the
// caller logs at Warn). A negative d becomes 0 and is not reported as cut.
func capServer(d time.Duration) (time.Duration, bool) {
	switch {
	case d < 0:
		return 0, false
	case d > MaxServerDelay:
		return MaxServerDelay, true
	}
	return d, false
}

// parseRetryAfter reads a Retry-After header value, either delay-seconds or an
// HTTP date (RFC 9110 §10.2.3), relative to now. The result is always in
// [0, MaxServerDelay]: a longer wait is cut to MaxServerDelay, and an absent,
// past, negative or malformed value gives 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	d, _ := retryAfter(v, now)
	return d
}

// retryAfter is parseRetryAfter that also reports whether the server asked
// for more than MaxServerDelay (and the wait was cut to it).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		// delay-seconds = 1*DIGIT; saturate instead of overflowing.
		maxSecs := int64(MaxServerDelay / time.Second)
		var secs int64
		for i := 0; i < len(v); i++ {
			secs = secs*10 + int64(v[i]-'0')
			if secs > maxSecs {
				return MaxServerDelay, true
			}
		}
		return capServer(time.Duration(secs) * time.Second)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return capServer(t.Sub(now)) // Sub saturates rather than overflows
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// minPeerLimit is the smallest limit a 1009 reason may name: anything
// smaller is taken to be a misreading (a count, a unit we got wrong).
const minPeerLimit = 64

// parseLimit returns the byte limit a peer names in the reason of a 1009
// close frame, or 0 when the reason names none or the named limit is absurd
// (the caller then falls back to halving). refused is the size of the
// message the peer refused, or 0 if unknown.
//
// The limit is the number after '>' in a comparison, such as
// "over size limit (2049 > 1024 bytes)", or else the first number shortly
// after "limit", "max…" or "allowed", such as "max payload 4096" or
// "frame exceeds limit of 65536 bytes". Numbers may group their digits in
// threes with commas, underscores or spaces ("1,048,576", "1 048 576"),
// have decimals ("1.5 MB") and a unit: B or bytes; K, KB (1000), M, MB
// (1000²), GB (1000³); KiB, MiB, GiB (1024-based). Unit letters are
// case-insensitive except for the single letter M, which must be upper case.
//
// A limit is absurd when it is under 64 bytes, does not fit in an int, or,
// when refused > 0, is at least refused or under refused/1000.
func parseLimit(reason string, refused int) int {
	n, ok := namedLimit(tokenize(reason))
	if !ok || n < minPeerLimit || n > math.MaxInt {
		return 0
	}
	limit := int(n)
	if refused > 0 && (limit >= refused || limit < refused/1000) {
		return 0
	}
	return limit
}

// limitToken is one token of a close reason: a number (with its unit
// applied), a lower-cased word, or a symbol.
type limitToken struct {
	kind  byte   // 'n' number, 'w' word, '>' greater-than, '.' other symbol
	word  string // for 'w'
	value uint64 // for 'n', in bytes, saturated at math.MaxUint64
}

// namedLimit finds the limit in a tokenized reason: the right side of a
// comparison, else the first number within a few words after a keyword.
func namedLimit(toks []limitToken) (uint64, bool) {
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind == 'n' && toks[i+1].kind == '>' && toks[i+2].kind == 'n' {
			return toks[i+2].value, true
		}
	}
	const maxGap = 3 // words between the keyword and the number, as in "max payload size is"
	for i, t := range toks {
		if t.kind != 'w' || !isLimitKeyword(t.word) {
			continue
		}
		words := 0
		for _, u := range toks[i+1:] {
			if u.kind == 'n' {
				return u.value, true
			}
			if u.kind == 'w' {
				if words++; words > maxGap {
					break
				}
			}
		}
	}
	return 0, false
}

func isLimitKeyword(w string) bool {
	return strings.HasPrefix(w, "limit") || strings.HasPrefix(w, "max") || strings.HasPrefix(w, "allow")
}

// tokenize splits a close reason into numbers, words and symbols; blanks
// separate tokens and are dropped.
func tokenize(s string) []limitToken {
	var toks []limitToken
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isASCIIDigit(r):
			var t limitToken
			t, i = scanNumber(rs, i)
			toks = append(toks, t)
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			toks = append(toks, limitToken{kind: 'w', word: strings.ToLower(string(rs[i:j]))})
			i = j
		case r == '>':
			toks = append(toks, limitToken{kind: '>'})
			i++
		case unicode.IsSpace(r):
			i++
		default:
			toks = append(toks, limitToken{kind: '.'})
			i++
		}
	}
	return toks
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

// isGroupSeparator reports whether r may separate groups of three digits.
func isGroupSeparator(r rune) bool {
	switch r {
	case ',', '_', ' ', '\u00a0', '\u2009', '\u202f':
		return true
	}
	return false
}

// maxFractionDigits bounds the decimals kept (the rest are dropped, which
// rounds down): with at most 9, fraction × unit cannot overflow a uint64.
const maxFractionDigits = 9

// scanNumber reads the number starting at rs[i] and the unit after it, if
// any, and returns it with the index just past it.
func scanNumber(rs []rune, i int) (limitToken, int) {
	var whole uint64
	over := false
	digit := func(r rune) {
		d := uint64(r - '0')
		if whole > (math.MaxUint64-d)/10 {
			over = true
			return
		}
		whole = whole*10 + d
	}
	start := i
	for i < len(rs) && isASCIIDigit(rs[i]) {
		digit(rs[i])
		i++
	}
	// Groups of three after a first group of one to three digits.
	if i-start <= 3 {
		for i+4 <= len(rs) && isGroupSeparator(rs[i]) &&
			isASCIIDigit(rs[i+1]) && isASCIIDigit(rs[i+2]) && isASCIIDigit(rs[i+3]) &&
			(i+4 == len(rs) || !isASCIIDigit(rs[i+4])) {
			for _, r := range rs[i+1 : i+4] {
				digit(r)
			}
			i += 4
		}
	}
	var frac, scale uint64 = 0, 1
	if i+1 < len(rs) && rs[i] == '.' && isASCIIDigit(rs[i+1]) {
		i++
		for kept := 0; i < len(rs) && isASCIIDigit(rs[i]); i++ {
			if kept < maxFractionDigits {
				frac = frac*10 + uint64(rs[i]-'0')
				scale *= 10
				kept++
			}
		}
	}
	mult := uint64(1)
	j := i
	for j < len(rs) && unicode.IsSpace(rs[j]) {
		j++
	}
	k := j
	for k < len(rs) && unicode.IsLetter(rs[k]) {
		k++
	}
	if m, ok := unitMultiplier(string(rs[j:k])); ok && k > j {
		mult = m
		i = k
	}
	value := uint64(math.MaxUint64)
	if !over && (mult == 1 || whole <= math.MaxUint64/mult) {
		value = whole * mult
		if f := frac * mult / scale; value <= math.MaxUint64-f {
			value += f
		} else {
			value = math.MaxUint64
		}
	}
	return limitToken{kind: 'n', value: value}, i
}

// unitMultiplier returns the bytes in one unit u, as written after a number.
func unitMultiplier(u string) (uint64, bool) {
	if u == "M" {
		return 1000 * 1000, true // a lone lower-case m is too often minutes or metres
	}
	switch strings.ToLower(u) {
	case "b", "byte", "bytes":
		return 1, true
	case "k", "kb":
		return 1000, true
	case "mb":
		return 1000 * 1000, true
	case "gb":
		return 1000 * 1000 * 1000, true
	case "kib":
		return 1 << 10, true
	case "mib":
		return 1 << 20, true
	case "gib":
		return 1 << 30, true
	}
	return 0, false
}
