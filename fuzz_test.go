package wsreconnect

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// The seed corpora of these targets are in testdata/fuzz; plain go test
// runs them.

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, cut := retryAfter(v, now)
		if d < 0 || d > MaxServerDelay {
			t.Fatalf("retryAfter(%q) = %s, out of [0, %s]", v, d, MaxServerDelay)
		}
		if cut && d != MaxServerDelay {
			t.Fatalf("retryAfter(%q) = %s, cut but not to MaxServerDelay", v, d)
		}
		if p := parseRetryAfter(v, now); p != d {
			t.Fatalf("parseRetryAfter(%q) = %s, retryAfter gives %s", v, p, d)
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil && isDigits(v) && n <= 3600 {
			if want := time.Duration(n) * time.Second; d != want || cut {
				t.Fatalf("retryAfter(%q) = %s, %t; want %s, false", v, d, cut, want)
			}
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	f.Fuzz(func(t *testing.T, reason string, refused int) {
		n := parseLimit(reason, refused)
		if n == 0 {
			return
		}
		if n < 64 {
			t.Fatalf("parseLimit(%q, %d) = %d, under 64", reason, refused, n)
		}
		if refused > 0 && (n >= refused || n < refused/1000) {
			t.Fatalf("parseLimit(%q, %d) = %d, not in [max(64, refused/1000), refused)", reason, refused, n)
		}
		// Knowing the refused size only ever rules a limit out.
		if m := parseLimit(reason, 0); m != n {
			t.Fatalf("parseLimit(%q, 0) = %d but parseLimit(%q, %d) = %d", reason, m, reason, refused, n)
		}
	})
}

// gorillaReceives reports whether gorilla/websocket v1.5.3 accepts a close
// frame with code (isValidReceivedCloseCode).
func gorillaReceives(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}

func FuzzCloseFromError(f *testing.F) {
	f.Fuzz(func(t *testing.T, code uint16, reason []byte) {
		inRange := func(c CloseCode) bool { return c >= 1000 && c <= 4999 }
		n := int(code)

		got, text, local := closeFromError(&websocket.CloseError{Code: n, Text: string(reason)})
		switch {
		case !inRange(got) || local:
			t.Fatalf("CloseError %d: got %s, local %t", n, got, local)
		case n == 1006:
			if got != CloseAbnormalClosure || text != "" {
				t.Fatalf("CloseError 1006: got %s %q", got, text)
			}
		case inRange(CloseCode(n)) && (got != CloseCode(n) || text != string(reason)):
			t.Fatalf("CloseError %d %q: got %s %q", n, reason, got, text)
		case !inRange(CloseCode(n)) && got != CloseProtocolError:
			t.Fatalf("CloseError %d: got %s, want 1002", n, got)
		}

		got, _, local = closeFromError(fmt.Errorf("read: %w", errors.New("websocket: bad close code "+strconv.Itoa(n))))
		want := CloseCode(n)
		if !inRange(want) {
			want = CloseProtocolError
		}
		if got != want || local {
			t.Fatalf("bad close code %d: got %s, local %t; want %s", n, got, local, want)
		}

		// The same frame through a real gorilla connection.
		if len(reason) > 123 {
			reason = reason[:123]
		}
		got, text, local = closeFromError(readCloseFrame(t, closePayload(code, string(reason))))
		wantText := ""
		switch {
		case !inRange(CloseCode(n)):
			want = CloseProtocolError
		case !gorillaReceives(n):
			want = CloseCode(n)
		case !utf8.Valid(reason):
			want, wantText = CloseProtocolError, "invalid UTF-8 in close reason"
		default:
			want, wantText = CloseCode(n), string(reason)
		}
		if got != want || text != wantText || local {
			t.Fatalf("close frame %d %q: got %s %q, local %t; want %s %q", n, reason, got, text, local, want, wantText)
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		if checkURL(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("checkURL(%q) accepted a URL that does not parse: %v", raw, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			t.Fatalf("checkURL(%q) accepted scheme %q", raw, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("checkURL(%q) accepted an empty host name", raw)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				t.Fatalf("checkURL(%q) accepted port %q", raw, p)
			}
		}
		if u.User != nil {
			t.Fatalf("checkURL(%q) accepted user info", raw)
		}
	})
}

func FuzzSizeOptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, n int) {
		for _, so := range sizeOptions {
			o := defaultOptions()
			err := so.opt(n)(&o)
			if ok := n >= so.min && n <= so.max; ok != (err == nil) {
				t.Fatalf("%s(%d): error %v, want accepted %t", so.name, n, err, ok)
			}
		}
	})
}
