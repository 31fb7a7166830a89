package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestExplainNamesCauseAndFix: every code of the policy table, and every
// handshake status the client tells apart, gets a sentence with a cause
// and a fix, not a name.
func TestExplainNamesCauseAndFix(t *testing.T) {
	codes := []CloseCode{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012,
		1013, 1014, 1015, 1016, 2999, 3000, 3003, 3008, 3500, 4000, 4401, 4403, 4999}
	for _, code := range codes {
		t.Run(code.String(), func(t *testing.T) {
			for _, text := range []string{code.Explain(), Disconnect{Code: code}.Explain()} {
				assertExplains(t, text, code.String())
				name := strings.TrimSuffix(strings.SplitN(code.String(), "(", 2)[1], ")")
				cause, _, _ := strings.Cut(strings.SplitN(text, ": ", 2)[1], ". Fix: ")
				assert.Greater(t, len(cause), len(name)+20, "a cause, not the code's name: %q", text)
			}
		})
	}
	for _, status := range []int{400, 401, 403, 404, 408, 426, 429, 500, 502, 503, 418, 302} {
		t.Run(fmt.Sprint("HTTP ", status), func(t *testing.T) {
			d := dialFailure(nil, nil)
			d.StatusCode = status
			d.Err = &HandshakeError{StatusCode: status}
			assertExplains(t, d.Explain(), fmt.Sprintf("HTTP %d", status))
		})
	}
	for name, err := range map[string]error{
		"refused": &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		"dns":     &net.DNSError{Err: "no such host", Name: "nowhere.invalid"},
		"timeout": fmt.Errorf("no handshake: %w", context.DeadlineExceeded),
		"hook":    errors.New("wsreconnect: OnConnect: no answer"),
		"other":   errors.New("something"),
	} {
		t.Run(name, func(t *testing.T) {
			assertExplains(t, Disconnect{Err: err}.Explain(), "attempt failed")
		})
	}
}

func assertExplains(t *testing.T, text, subject string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(text, subject) || strings.Contains(text, subject), "%q names %q", text, subject)
	cause, fix, ok := strings.Cut(text, ". Fix: ")
	assert.True(t, ok, "%q has a fix", text)
	assert.NotEmpty(t, strings.TrimSpace(cause))
	assert.Greater(t, len(fix), 10, "%q: the fix says something", text)
	assert.False(t, strings.HasSuffix(text, "\n"))
}

func TestExplainSaysWhatIsKnown(t *testing.T) {
	d := Disconnect{Code: CloseMessageTooBig, Reason: "max 1024", Limit: 1024, Delay: 1500 * time.Millisecond}
	text := d.Explain()
	assert.Contains(t, text, "1024 bytes")
	assert.Contains(t, text, `"max 1024"`)
	assert.Contains(t, text, "1.5s")

	d = Disconnect{StatusCode: 429, Err: &HandshakeError{StatusCode: 429, RetryAfter: 30 * time.Second}}
	assert.Contains(t, d.Explain(), "Retry-After 30s")
	assert.Contains(t, Disconnect{StatusCode: 503, Err: &HandshakeError{StatusCode: 503, RetryAfter: 2 * time.Minute}}.Explain(), "Retry-After 2m0s")

	local := Disconnect{Code: CloseMessageTooBig, Local: true}.Explain()
	assert.Contains(t, local, "WithReadLimit", "our own read limit")
	dead := Disconnect{Code: CloseAbnormalClosure, Err: &CloseError{Code: 1006, cause: ErrHeartbeatTimeout}}.Explain()
	assert.Contains(t, dead, "pings")
	assert.Contains(t, Disconnect{Code: CloseAbnormalClosure}.Explain(), "idle timeout")
	assert.Contains(t, Disconnect{Code: ClosePolicyViolation}.Explain(), "authentication")
}
