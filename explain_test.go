package wsreconnect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkExplainForm checks the form every explanation has: it starts with
// event and a colon (or event and the quoted reason), then one sentence of
// cause and one of fix, separated by ". Fix: ", ending with a period and
// without a newline. It returns the two parts, without the event and the
// final period. quoted, if not empty, is text inside the explanation that
// may contain anything (a close reason, an error).
func checkExplainForm(t *testing.T, text, event string, quoted ...string) (cause, fix string) {
	t.Helper()
	require.NotEmpty(t, text)
	assert.NotContains(t, text, "\n")
	assert.True(t, strings.HasPrefix(text, event+": ") || strings.HasPrefix(text, event+" with reason "),
		"%q does not start with the event %q", text, event)
	assert.True(t, strings.HasSuffix(text, ".") && !strings.HasSuffix(text, ".."), "%q does not end with one period", text)
	plain := text
	for _, q := range quoted {
		plain = strings.ReplaceAll(plain, q, "")
	}
	require.Equal(t, 1, strings.Count(plain, ". Fix: "), "%q has not exactly one %q", text, ". Fix: ")
	before, after, _ := strings.Cut(plain, ". Fix: ")
	cause = strings.TrimPrefix(before, event)
	fix = strings.TrimSuffix(after, ".")
	assert.NotContains(t, cause, ". ", "the cause of %q is more than one sentence", text)
	assert.NotContains(t, fix, ". ", "the fix of %q is more than one sentence", text)
	assert.GreaterOrEqual(t, len(strings.Fields(cause)), 5, "the cause of %q is too short to say anything", text)
	assert.GreaterOrEqual(t, len(strings.Fields(fix)), 3, "the fix of %q is too short to say anything", text)
	return cause, fix
}

// containsAny reports whether s contains one of words.
func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

type explainCase struct {
	name    string
	d       Disconnect
	event   string   // what the text starts with
	cause   []string // the cause part names one of these
	fix     []string // the fix part names one of these
	want    []string // the text contains all of these
	notWant []string // and none of these
}

// closeCases cover every row of the default policy table that a close code
// decides.
var closeCases = []explainCase{
	{name: "1000 from the server", d: Disconnect{Code: 1000}, event: "1000 (normal closure)",
		cause: []string{"normally"}, fix: []string{"reconnecting is right"}},
	{name: "1001", d: Disconnect{Code: 1001, Reason: "server restarting", Delay: 1234 * time.Millisecond}, event: "1001 (going away)",
		cause: []string{"deploy", "restart"}, fix: []string{"reconnecting is right"},
		want: []string{`with reason "server restarting"`, "next attempt in 1.234s"}},
	{name: "1002", d: Disconnect{Code: 1002, Reason: "invalid UTF-8 in close reason"}, event: "1002 (protocol error)",
		cause: []string{"protocol"}, fix: []string{"proxy"}, want: []string{`"invalid UTF-8 in close reason"`}},
	{name: "1003", d: Disconnect{Code: 1003}, event: "1003 (unsupported data)",
		cause: []string{"binary"}, fix: []string{"message type"}},
	{name: "1004 unknown", d: Disconnect{Code: 1004}, event: "1004 (reserved)",
		cause: []string{"reserves"}, fix: []string{"implementation"}},
	{name: "1005", d: Disconnect{Code: 1005}, event: "1005 (no status received)",
		cause: []string{"without a status code"}, fix: []string{"logs"}},
	{name: "1006 drop", d: Disconnect{Code: 1006, Err: &CloseError{Code: 1006, cause: io.EOF}, Delay: 2 * time.Second}, event: "1006 (abnormal closure)",
		cause: []string{"network outage"}, fix: []string{"WithHeartbeat"},
		want:    []string{"crash", "idle timeout", "shorter than the heartbeat interval", "next attempt in 2s"},
		notWant: []string{"local", "pings"}},
	{name: "1006 heartbeat timeout", d: Disconnect{Code: 1006, Local: true, Err: &CloseError{Code: 1006, cause: ErrHeartbeatTimeout}}, event: "1006 (abnormal closure)",
		cause: []string{"stopped answering pings"}, fix: []string{"WithHeartbeat"},
		want: []string{"heartbeat timeout", "this client", "local", "black hole"}, notWant: []string{"next attempt"}},
	{name: "1007", d: Disconnect{Code: 1007}, event: "1007 (invalid payload data)",
		cause: []string{"UTF-8"}, fix: []string{"WithoutUTF8Check", "BinaryMessage"}},
	{name: "1008", d: Disconnect{Code: 1008, Reason: "token expired"}, event: "1008 (policy violation)",
		cause: []string{"authentication", "authorization"}, fix: []string{"credentials"},
		want: []string{`with reason "token expired"`, "policy"}},
	{name: "1009 from the peer, limit learned", d: Disconnect{Code: 1009, Reason: "over size limit (2049 > 1024 bytes)", Limit: 1024, Delay: 1500 * time.Millisecond}, event: "1009 (message too big)",
		cause: []string{"refused a message larger than its limit"}, fix: []string{"WithSplitter", "WithMaxMessageSize"},
		want: []string{`"over size limit (2049 > 1024 bytes)"`, "outbound limit is now 1024 bytes", "next attempt in 1.5s"}},
	{name: "1009 from the peer, no limit learned", d: Disconnect{Code: 1009}, event: "1009 (message too big)",
		cause: []string{"refused a message larger than its limit"}, fix: []string{"WithSplitter", "WithMaxMessageSize"},
		want: []string{"lowers its outbound limit"}, notWant: []string{"is now"}},
	{name: "1009 from our read limit", d: Disconnect{Code: 1009, Local: true, Reason: "read limit exceeded", Limit: 500}, event: "1009 (message too big)",
		cause: []string{"read limit"}, fix: []string{"WithReadLimit"},
		want: []string{"this client", "local"}, notWant: []string{"500", "outbound", `"read limit exceeded"`, "refused"}},
	{name: "1010", d: Disconnect{Code: 1010}, event: "1010 (mandatory extension)",
		cause: []string{"extension"}, fix: []string{"EnableCompression"}},
	{name: "1011", d: Disconnect{Code: 1011}, event: "1011 (internal server error)",
		cause: []string{"unexpected error"}, fix: []string{"server's logs"}},
	{name: "1012", d: Disconnect{Code: 1012, Delay: 400 * time.Millisecond}, event: "1012 (service restart)",
		cause: []string{"restarting"}, fix: []string{"reconnecting is right"}, want: []string{"next attempt in 400ms"}},
	{name: "1013", d: Disconnect{Code: 1013, Delay: 5500 * time.Millisecond}, event: "1013 (try again later)",
		cause: []string{"overloaded"}, fix: []string{"WithMinDelay"}, want: []string{"next attempt in 5.5s"}},
	{name: "1014", d: Disconnect{Code: 1014, Delay: 6 * time.Second}, event: "1014 (bad gateway)",
		cause: []string{"gateway"}, fix: []string{"WithMinDelay"}, want: []string{"next attempt in 6s"}},
	{name: "1015", d: Disconnect{Code: 1015}, event: "1015 (TLS handshake)",
		cause: []string{"certificate"}, fix: []string{"certificate chain", "root CAs"}},
	{name: "unknown 2500", d: Disconnect{Code: 2500}, event: "2500 (invalid)",
		cause: []string{"reserves"}, fix: []string{"implementation"}},
	{name: "3000", d: Disconnect{Code: 3000, Reason: "bad token"}, event: "3000 (unauthorized)",
		cause: []string{"credentials"}, fix: []string{"WithHeaderFunc"}, want: []string{`"bad token"`}},
	{name: "3003", d: Disconnect{Code: 3003}, event: "3003 (forbidden)",
		cause: []string{"permission"}, fix: []string{"WithHeaderFunc"}},
	{name: "4401", d: Disconnect{Code: 4401}, event: "4401 (private)",
		cause: []string{"credentials"}, fix: []string{"WithHeaderFunc"}, want: []string{"unauthorized", "401"}},
	{name: "4403", d: Disconnect{Code: 4403}, event: "4403 (private)",
		cause: []string{"permission"}, fix: []string{"WithHeaderFunc"}, want: []string{"forbidden", "403"}},
	{name: "3008", d: Disconnect{Code: 3008}, event: "3008 (timeout)",
		cause: []string{"timeout"}, fix: []string{"WithHeartbeat"}},
	{name: "other 3000-3999", d: Disconnect{Code: 3001, Reason: "rebalancing"}, event: "3001 (registered)",
		cause: []string{"application-defined"}, fix: []string{"documentation"},
		want: []string{"framework", `with reason "rebalancing"`}},
	{name: "other 4000-4999", d: Disconnect{Code: 4000, Reason: "session replaced"}, event: "4000 (private)",
		cause: []string{"application-defined"}, fix: []string{"server's documentation"},
		want: []string{`with reason "session replaced"`}},
}

// handshake is the Disconnect of a handshake refused with status, and the
// Retry-After the server sent.
func handshake(status int, retryAfter, delay time.Duration) Disconnect {
	return Disconnect{StatusCode: status, Err: &HandshakeError{StatusCode: status, RetryAfter: retryAfter}, Delay: delay}
}

// statusCases cover every row of the default policy table that an HTTP
// status decides.
var statusCases = []explainCase{
	{name: "400", d: handshake(400, 0, 0), event: "handshake refused with HTTP 400 (Bad Request)",
		cause: []string{"malformed"}, fix: []string{"URL"}},
	{name: "401", d: handshake(401, 0, 0), event: "handshake refused with HTTP 401 (Unauthorized)",
		cause: []string{"credentials"}, fix: []string{"WithHeaderFunc"}},
	{name: "403", d: handshake(403, 0, 0), event: "handshake refused with HTTP 403 (Forbidden)",
		cause: []string{"permission"}, fix: []string{"permissions"}},
	{name: "404", d: handshake(404, 0, 0), event: "handshake refused with HTTP 404 (Not Found)",
		cause: []string{"no WebSocket endpoint"}, fix: []string{"path"}},
	{name: "408", d: handshake(408, 0, 1100*time.Millisecond), event: "handshake refused with HTTP 408 (Request Timeout)",
		cause: []string{"timed out"}, fix: []string{"retries"}, want: []string{"next attempt in 1.1s"}},
	{name: "426", d: handshake(426, 0, 0), event: "handshake refused with HTTP 426 (Upgrade Required)",
		cause: []string{"different protocol"}, fix: []string{"wss://"}},
	{name: "429 with Retry-After", d: handshake(429, 30*time.Second, 31500*time.Millisecond), event: "handshake refused with HTTP 429 (Too Many Requests)",
		cause: []string{"rate-limiting"}, fix: []string{"Retry-After"},
		want: []string{"wait 30s (Retry-After)", "next attempt in 31.5s"}},
	{name: "429 without Retry-After", d: handshake(429, 0, 0), event: "handshake refused with HTTP 429 (Too Many Requests)",
		cause: []string{"rate-limiting"}, fix: []string{"WithBackoff"}, notWant: []string{"asked to wait", "next attempt"}},
	{name: "503 with Retry-After", d: handshake(503, 2*time.Minute, 0), event: "handshake refused with HTTP 503 (Service Unavailable)",
		cause: []string{"unavailable"}, fix: []string{"backoff"}, want: []string{"wait 2m0s (Retry-After)"}},
	{name: "503 without Retry-After", d: handshake(503, 0, 0), event: "handshake refused with HTTP 503 (Service Unavailable)",
		cause: []string{"overloaded", "maintenance"}, fix: []string{"health"}, notWant: []string{"asked to wait"}},
	{name: "other 4xx", d: handshake(418, 0, 0), event: "handshake refused with HTTP 418 (I'm a teapot)",
		cause: []string{"client error"}, fix: []string{"server's documentation"}},
	{name: "other 4xx without status text", d: handshake(499, 0, 0), event: "handshake refused with HTTP 499",
		cause: []string{"client error"}, fix: []string{"server's documentation"}},
	{name: "other 5xx", d: handshake(502, 0, 0), event: "handshake refused with HTTP 502 (Bad Gateway)",
		cause: []string{"failed"}, fix: []string{"logs"}},
	{name: "other 5xx 504", d: handshake(504, 0, 0), event: "handshake refused with HTTP 504 (Gateway Timeout)",
		cause: []string{"failed"}, fix: []string{"logs"}},
	{name: "redirect", d: handshake(302, 0, 0), event: "handshake refused with HTTP 302 (Found)",
		cause: []string{"redirect"}, fix: []string{"Location"}},
	{name: "no upgrade", d: handshake(200, 0, 0), event: "handshake refused with HTTP 200 (OK)",
		cause: []string{"without switching protocols"}, fix: []string{"Upgrade header"}},
}

// attemptCases cover failed attempts without an HTTP status (Code 0).
var attemptCases = []explainCase{
	{name: "connection refused", d: Disconnect{Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, Delay: time.Second},
		event: "connection refused", cause: []string{"server is down"}, fix: []string{"listens"}, want: []string{"next attempt in 1s"}},
	{name: "connection reset", d: Disconnect{Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}},
		event: "connection reset", cause: []string{"reset the TCP connection"}, fix: []string{"proxy or firewall"}},
	{name: "DNS not found", d: Disconnect{Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "feed.invalid", IsNotFound: true}}},
		event: `DNS lookup failed for "feed.invalid"`, cause: []string{"does not exist"}, fix: []string{"DNS settings"}},
	{name: "DNS timeout", d: Disconnect{Err: &net.DNSError{Err: "i/o timeout", Name: "feed.example", IsTimeout: true}},
		event: `DNS lookup failed for "feed.example"`, cause: []string{"did not answer in time"}, fix: []string{"DNS settings"}},
	{name: "handshake timeout", d: Disconnect{Err: fmt.Errorf("wsreconnect: no handshake within 10s: %w", context.DeadlineExceeded)},
		event: "connection attempt timed out", cause: []string{"handshake timeout"}, fix: []string{"WithHandshakeTimeout"}},
	{name: "network timeout", d: Disconnect{Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}},
		event: "connection attempt timed out", cause: []string{"firewall"}, fix: []string{"WithHandshakeTimeout"}},
	{name: "unknown authority", d: Disconnect{Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}},
		event: "TLS certificate rejected", cause: []string{"authority"}, fix: []string{"RootCAs"}, want: []string{"a retry fails the same way"}},
	{name: "wrong host name", d: Disconnect{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "feed.example"}},
		event: "TLS certificate rejected", cause: []string{"host name"}, fix: []string{"certificate chain"}},
	{name: "expired certificate", d: Disconnect{Err: x509.CertificateInvalidError{Reason: x509.Expired}},
		event: "TLS certificate rejected", cause: []string{"expired"}, fix: []string{"certificate chain"}},
	{name: "not TLS", d: Disconnect{Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}},
		event: "TLS handshake failed", cause: []string{"does not speak TLS"}, fix: []string{"ws://"}},
	{name: "OnConnect error", d: Disconnect{Err: fmt.Errorf("wsreconnect: OnConnect: %w", errors.New("subscribe refused"))},
		event: "OnConnect hook failed", cause: []string{"subscribe refused"}, fix: []string{"backoff.Permanent"}},
	{name: "permanent OnConnect error", d: Disconnect{Err: backoff.Permanent(fmt.Errorf("wsreconnect: OnConnect: %w", errors.New("banned")))},
		event: "OnConnect hook failed", cause: []string{"banned"}, fix: []string{"backoff.Permanent"}},
	{name: "header func error", d: Disconnect{Err: fmt.Errorf("wsreconnect: header func: %w", errors.New("token service down"))},
		event: "header func failed", cause: []string{"token service down"}, fix: []string{"token service"}},
	{name: "other network error", d: Disconnect{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("network is unreachable")}},
		event: "network error", cause: []string{"network is unreachable"}, fix: []string{"network"}},
	{name: "other error", d: Disconnect{Err: errors.New("boom")},
		event: "connection attempt failed", cause: []string{"boom"}, fix: []string{"backoff.Permanent"}},
	{name: "nothing known", d: Disconnect{},
		event: "disconnected", cause: []string{"no close code"}, fix: []string{"log"}},
}

func TestDisconnectExplain(t *testing.T) {
	for _, group := range [][]explainCase{closeCases, statusCases, attemptCases} {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				text := tc.d.Explain()
				quoted := []string{}
				if tc.d.Reason != "" {
					quoted = append(quoted, strconv.Quote(tc.d.Reason))
				}
				if tc.d.Err != nil {
					quoted = append(quoted, tc.d.Err.Error())
				}
				checkExplainForm(t, text, tc.event, quoted...)
				if tc.d.Code != 0 {
					assert.Contains(t, text, strconv.Itoa(int(tc.d.Code)))
				}
				if tc.d.StatusCode != 0 {
					assert.Contains(t, text, strconv.Itoa(tc.d.StatusCode))
				}
				// A quoted error or reason may be what names the cause.
				cause, fix, _ := strings.Cut(text, ". Fix: ")
				assert.True(t, containsAny(cause, tc.cause), "the cause in %q names none of %q", text, tc.cause)
				assert.True(t, containsAny(fix, tc.fix), "the fix in %q names none of %q", text, tc.fix)
				for _, w := range tc.want {
					assert.Contains(t, text, w)
				}
				for _, w := range tc.notWant {
					assert.NotContains(t, text, w)
				}
				if tc.d.Delay == 0 {
					assert.NotContains(t, text, "next attempt")
				}
			})
		}
	}
}

// TestCloseCodeExplain: every code of the default policy table has a text
// of its own, in the common form, and without what only a Disconnect
// knows it is what Disconnect.Explain says.
func TestCloseCodeExplain(t *testing.T) {
	seen := map[string]CloseCode{}
	for _, tc := range closeCases {
		c := tc.d.Code
		text := c.Explain()
		cause, fix := checkExplainForm(t, text, c.String())
		if !tc.d.Local {
			assert.True(t, containsAny(cause, tc.cause), "the cause in %q names none of %q", text, tc.cause)
		}
		assert.True(t, containsAny(fix, tc.fix) || tc.d.Local, "the fix in %q names none of %q", text, tc.fix)
		if prev, dup := seen[text]; dup && prev != c {
			t.Errorf("%v and %v have the same text %q", prev, c, text)
		}
		seen[text] = c
	}
	assert.Contains(t, CloseAbnormalClosure.Explain(), "WithHeartbeat")
	assert.Contains(t, CloseMessageTooBig.Explain(), "WithSplitter")
	assert.Contains(t, CloseCode(0).Explain(), "0 (none): ")
}

// TestCloseCodeExplainEveryCode: every code has a text in the common form,
// and a Disconnect that knows only its code says the same.
func TestCloseCodeExplainEveryCode(t *testing.T) {
	for c := CloseCode(-1); c <= 5001; c++ {
		text := c.Explain()
		checkExplainForm(t, text, c.String())
		if c != 0 {
			require.Equal(t, text, Disconnect{Code: c}.Explain(), "code %d", c)
		}
		if t.Failed() {
			t.Fatalf("code %d: %q", c, text)
		}
	}
}

// TestExplainNotANameTable: a text is more than the code's name.
func TestExplainNotANameTable(t *testing.T) {
	for c, name := range closeCodeNames {
		text := c.Explain()
		assert.Greater(t, len(text), len(c.String())+40, "%v: %q", c, text)
		assert.NotEqual(t, name, strings.TrimSpace(text))
	}
}

// TestExplainSeesTheLearnedLimit: after a real 1009 the hook's Disconnect
// carries the limit learned from the reason, and its text says so; the
// policy sees the limit before the disconnect.
func TestExplainSeesTheLearnedLimit(t *testing.T) {
	srv := limitServer(t, 100, func(n int) string { return "over size limit (" + itoa(n) + " > 100 bytes)" })
	policySaw := make(chan int, 4)
	c, hook := hookedClient(t, srv.url(), WithMaxMessageSize(1000), WithPolicy(func(d Disconnect) Action {
		policySaw <- d.Limit
		return DefaultPolicy(d)
	}))
	ctx := ctxTimeout(t)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 300)))
	got := hook.next(t)
	assert.Equal(t, Shrink, got.a)
	assert.Equal(t, 1000, <-policySaw, "the policy sees the limit before the disconnect")
	assert.Equal(t, 100, got.d.Limit)
	text := got.d.Explain()
	assert.Contains(t, text, "1009 (message too big)")
	assert.Contains(t, text, `"over size limit (300 > 100 bytes)"`)
	assert.Contains(t, text, "outbound limit is now 100 bytes")
	assert.Contains(t, text, "next attempt in ")
}

// TestExplainSeesRetryAfter: a real 429 with Retry-After is explained with
// the wait the server asked for.
func TestExplainSeesRetryAfter(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
	})
	_, hook := hookedClient(t, srv.url())
	got := hook.next(t)
	assert.Equal(t, Reconnect, got.a)
	text := got.d.Explain()
	assert.True(t, strings.HasPrefix(text, "handshake refused with HTTP 429 (Too Many Requests): "), text)
	assert.Contains(t, text, "wait 7s (Retry-After)")
	assert.Contains(t, text, "next attempt in 7")
}

// TestExplainLogged: every decision's log record carries the text the
// OnDisconnect hook gets.
func TestExplainLogged(t *testing.T) {
	srv := closeSequence(t, []int{1001, 1008}, []string{"restart", "bye"})
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	c, hook := hookedClient(t, srv.url(), WithLogger(logger))
	waitClosed(t, c)
	var texts []string
	for range 2 {
		texts = append(texts, hook.next(t).d.Explain())
	}
	var logged []string
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(buf.String())), []byte("\n")) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		if rec["msg"] == "wsreconnect: disconnected" {
			s, ok := rec["explain"].(string)
			require.True(t, ok, "no explain attribute in %s", line)
			logged = append(logged, s)
		}
	}
	assert.Equal(t, texts, logged)
	require.Len(t, logged, 2)
	assert.True(t, strings.HasPrefix(logged[0], `1001 (going away) with reason "restart": `), logged[0])
	assert.True(t, strings.HasPrefix(logged[1], `1008 (policy violation) with reason "bye": `), logged[1])
}

// TestExplainLocalReadLimit: a real message over our read limit is
// explained as ours, with the option that raises it.
func TestExplainLocalReadLimit(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			ws.WriteMessage(websocket.BinaryMessage, make([]byte, 2048))
			hold(ws)
		}
	})
	_, hook := hookedClient(t, srv.url(), WithReadLimit(1024))
	got := hook.next(t)
	require.True(t, got.d.Local)
	text := got.d.Explain()
	assert.True(t, strings.HasPrefix(text, "1009 (message too big): "), text)
	assert.Contains(t, text, "WithReadLimit")
	assert.Contains(t, text, "this client")
}
