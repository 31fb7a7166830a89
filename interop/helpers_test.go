package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/goleak"

	ws "github.com/wsreconnect/wsreconnect"
)

// Backoff used by most tests: tiny steps so a reconnect costs milliseconds.
const (
	fastInitial = 10 * time.Millisecond
	fastMax     = 100 * time.Millisecond
	fastRand    = 0.5
)

// fastBackoffBound is the longest single backoff delay fastBackoff can pick.
const fastBackoffBound = time.Duration(float64(fastMax) * (1 + fastRand))

// schedulingSlack absorbs process start-up, the race detector and a busy
// two-core machine in timing bounds.
const schedulingSlack = 750 * time.Millisecond

// fastBackoff returns a fresh exponential backoff with tiny steps.
func fastBackoff() backoff.BackOff {
	return newBackoff(fastInitial, fastMax, 1.5, fastRand)
}

// newBackoff returns a fresh exponential backoff that never gives up.
func newBackoff(initial, max time.Duration, mult, rand float64) backoff.BackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: rand,
		Multiplier:          mult,
		MaxInterval:         max,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// ctxFor returns a context that ends after d or when the test ends.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// leakCheck makes the test fail if goroutines started during it are still
// running once every cleanup registered after this call has run. Call it
// first, before starting peers or clients.
//
// Goroutines of toxiproxy's own links are not counted: after a toxic is
// removed from a link whose connection is gone, toxiproxy v2.12.0 can leave
// a stub goroutine blocked on a channel send (its bug, not the client's).
func leakCheck(t *testing.T) {
	t.Helper()
	ignore := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
	}
	t.Cleanup(func() {
		if err := goleak.Find(ignore...); err != nil {
			t.Errorf("goroutines leaked: %v", err)
		}
	})
}

// event is one OnDisconnect call.
type event struct {
	D  ws.Disconnect
	A  ws.Action
	At time.Time
}

// recorder collects the client's hook calls so tests can wait for them.
type recorder struct {
	mu          sync.Mutex
	disconnects []event
	connects    []time.Time
	discCh      chan event
	connCh      chan time.Time
}

func newRecorder() *recorder {
	return &recorder{discCh: make(chan event, 4096), connCh: make(chan time.Time, 4096)}
}

// options returns the hooks that feed the recorder.
func (r *recorder) options() []ws.Option {
	return []ws.Option{
		ws.WithOnDisconnect(func(d ws.Disconnect, a ws.Action) {
			e := event{D: d, A: a, At: time.Now()}
			r.mu.Lock()
			r.disconnects = append(r.disconnects, e)
			r.mu.Unlock()
			select {
			case r.discCh <- e:
			default:
			}
		}),
		ws.WithOnConnect(func(context.Context, *ws.Conn) error {
			now := time.Now()
			r.mu.Lock()
			r.connects = append(r.connects, now)
			r.mu.Unlock()
			select {
			case r.connCh <- now:
			default:
			}
			return nil
		}),
	}
}

// nextDisconnect waits for the next OnDisconnect call.
func (r *recorder) nextDisconnect(t testing.TB, timeout time.Duration) event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case e := <-r.discCh:
		return e
	case <-timer.C:
		t.Fatalf("no disconnect reported within %v", timeout)
		return event{}
	}
}

// noDisconnect fails the test if OnDisconnect is called within d.
func (r *recorder) noDisconnect(t testing.TB, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case e := <-r.discCh:
		t.Fatalf("unexpected disconnect: %s", describe(e))
	case <-timer.C:
	}
}

// count returns how many disconnects and connects were seen.
func (r *recorder) count() (disconnects, connects int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.disconnects), len(r.connects)
}

// all returns a copy of the disconnects seen so far.
func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.disconnects...)
}

func describe(e event) string {
	return fmt.Sprintf("code=%d reason=%q status=%d attempt=%d uptime=%v local=%v action=%v err=%v",
		e.D.Code, e.D.Reason, e.D.StatusCode, e.D.Attempt, e.D.Uptime, e.D.Local, e.A, e.D.Err)
}

// baseOptions are the options every test client starts with: tiny backoff,
// a short handshake timeout, and the recorder's hooks.
func baseOptions(r *recorder) []ws.Option {
	opts := []ws.Option{
		ws.WithBackoff(fastBackoff()),
		ws.WithHandshakeTimeout(2 * time.Second),
	}
	if r != nil {
		opts = append(opts, r.options()...)
	}
	return opts
}

// closeOnCleanup closes c when the test ends and checks that Close returns
// within its documented bound.
func closeOnCleanup(t testing.TB, c *ws.Client) {
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			t.Errorf("Close did not return within 10s; client goroutines:\n%s", clientStacks())
		}
	})
}

// clientStacks returns the stacks of the goroutines that run wsreconnect
// code, for reports of a hang.
func clientStacks() string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var out []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(g, "wsreconnect/wsreconnect.") && !strings.Contains(g, "interop.clientStacks") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// newClient starts a client without waiting for it to connect.
func newClient(t testing.TB, url string, r *recorder, opts ...ws.Option) *ws.Client {
	t.Helper()
	c, err := ws.New(url, append(baseOptions(r), opts...)...)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	closeOnCleanup(t, c)
	return c
}

// dial starts a client and waits (10 s at most) for its first connection.
func dial(t testing.TB, url string, r *recorder, opts ...ws.Option) *ws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, url, append(baseOptions(r), opts...)...)
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	closeOnCleanup(t, c)
	return c
}

// waitConnected waits until c is connected.
func waitConnected(t testing.TB, c *ws.Client, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.WaitState(ctx, ws.StateConnected); err != nil {
		t.Fatalf("client not connected within %v: %v (state %v, Err %v)", timeout, err, c.State(), c.Err())
	}
}

// waitDone waits until c has stopped for good.
func waitDone(t testing.TB, c *ws.Client, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.Done():
	case <-timer.C:
		t.Fatalf("client still running after %v (state %v)", timeout, c.State())
	}
}

// roundTrip sends one message and expects its echo as the next message.
func roundTrip(t testing.TB, c *ws.Client, typ ws.MessageType, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Send(ctx, typ, data); err != nil {
		t.Fatalf("Send(%d bytes): %v", len(data), err)
	}
	gotTyp, got, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive echo of %d bytes: %v", len(data), err)
	}
	if gotTyp != typ || string(got) != string(data) {
		t.Fatalf("echo mismatch: got %v %d bytes %.40q, want %v %d bytes %.40q", gotTyp, len(got), got, typ, len(data), data)
	}
}

// closeCode extracts the close code of a *CloseError in err, or 0.
func closeCode(err error) ws.CloseCode {
	var ce *ws.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// handshakeStatus extracts the status of a *HandshakeError in err, or 0.
func handshakeStatus(err error) int {
	var he *ws.HandshakeError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// durationEnv reads a duration from the environment, for shortening the
// long scenarios by hand (never needed in CI).
func durationEnv(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}
