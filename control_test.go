package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// closeRecorder is an echo server that records the close frames the
// client sends.
type closeRecorder struct{ *testServer }

func newCloseRecorder(t *testing.T) *closeRecorder {
	return &closeRecorder{newTestServer(t, nil)}
}

func (r *closeRecorder) frame(t *testing.T, i int) wstest.CloseFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Wait(ctx, func() bool { return len(r.CloseFrames()) > i }); err != nil {
		t.Fatalf("no close frame %d: %v", i, err)
	}
	return r.CloseFrames()[i]
}

func TestReconnectClosesWithTheCodeAndComesBack(t *testing.T) {
	srv := newCloseRecorder(t)
	var asked atomic.Int32
	c, hook := hookedClient(t, srv.url(), WithPolicy(func(d Disconnect) Action {
		asked.Add(1)
		return DefaultPolicy(d)
	}))
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	require.NoError(t, c.Reconnect(4000, "rotate credentials"))
	got := hook.next(t)
	assert.Equal(t, Reconnect, got.a)
	assert.Equal(t, CloseCode(4000), got.d.Code)
	assert.Equal(t, "rotate credentials", got.d.Reason)
	assert.True(t, got.d.Local)
	assert.Equal(t, int32(0), asked.Load(), "the policy is not asked")
	f := srv.frame(t, 0)
	assert.Equal(t, 4000, f.Code)
	assert.Equal(t, "rotate credentials", f.Reason)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	assert.Equal(t, int64(1), c.Stats().Disconnects[4000])
}

func TestReconnectValidatesAndDoesNothingWhileConnecting(t *testing.T) {
	u, accepted := silentListener(t) // the handshake never completes
	c, err := New(u, testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	<-accepted
	assert.Error(t, c.Reconnect(1005, ""), "1005 is never sent")
	assert.Error(t, c.Reconnect(4000, strings.Repeat("x", MaxCloseReason+1)))
	assert.Error(t, c.Reconnect(4000, "\xff"))
	assert.NoError(t, c.Reconnect(4000, "connecting: nothing to do"))
	assert.Equal(t, StateConnecting, c.State())
	c.Close()
	assert.ErrorIs(t, c.Reconnect(4000, ""), ErrClosed)
}

// TestReconnectCutsTheWait: with a backoff of an hour, a Reconnect while
// waiting makes the next attempt at once.
func TestReconnectCutsTheWait(t *testing.T) {
	var open atomic.Bool
	srv := gatedServer(t, &open)
	c, err := New(srv.url(), WithBackoff(constantBackoff(time.Hour)))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitState(ctxTimeout(t), StateWaiting))
	open.Store(true)
	require.NoError(t, c.Reconnect(CloseNormalClosure, ""))
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
}

// TestReconnectCannotFloodTheServer: however often the application calls
// Reconnect, attempts it brings about are WithRestartDelay apart.
func TestReconnectCannotFloodTheServer(t *testing.T) {
	const gap = 100 * time.Millisecond
	srv := newCloseRecorder(t)
	c, err := New(srv.url(), testOptions(WithRestartDelay(gap))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	for {
		if _, conns, _ := srv.snapshot(); conns >= 5 {
			break
		}
		require.NoError(t, c.WaitState(ctx, StateConnected))
		for range 20 {
			require.NoError(t, c.Reconnect(4000, "again"))
		}
	}
	srv.mu.Lock()
	at := append([]time.Time(nil), srv.attemptAt...)
	srv.mu.Unlock()
	for i := 2; i < len(at); i++ { // the first Reconnect-initiated attempt may come at once
		assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), gap-5*time.Millisecond, "attempts %d and %d", i-1, i)
	}
}

func TestCloseWithSendsTheCode(t *testing.T) {
	srv := newCloseRecorder(t)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions()...)
	require.NoError(t, err)
	assert.Error(t, c.CloseWith(1006, ""), "1006 is never sent")
	assert.Error(t, c.CloseWith(4001, strings.Repeat("é", 62)), "124 bytes")
	assert.Error(t, c.CloseWith(4001, "bad \xc3"))
	assert.Equal(t, StateConnected, c.State(), "a refused CloseWith does nothing")
	require.NoError(t, c.CloseWith(4001, "bye"))
	assertDone(t, c)
	f := srv.frame(t, 0)
	assert.Equal(t, 4001, f.Code)
	assert.Equal(t, "bye", f.Reason)
}

// TestOnStateChangeMissesNone: against a server that accepts and closes N
// times and then refuses for good, at GOMAXPROCS=1, every transition is
// reported, in order, each starting where the last one ended.
func TestOnStateChangeMissesNone(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 20
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(i int, w http.ResponseWriter) bool {
			if i > n {
				http.Error(w, "gone", http.StatusNotFound)
				return true
			}
			return false
		}
		s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1001, "") }
	})
	type change struct{ from, to State }
	var changes []change
	c, err := New(srv.url(), testOptions(WithOnStateChange(func(from, to State) {
		changes = append(changes, change{from, to})
	}))...)
	require.NoError(t, err)
	waitClosed(t, c)
	require.NotEmpty(t, changes)
	prev := StateConnecting
	connected := 0
	for i, ch := range changes {
		assert.Equal(t, prev, ch.from, "change %d starts where the last ended", i)
		assert.NotEqual(t, ch.from, ch.to)
		if ch.to == StateConnected {
			connected++
		}
		prev = ch.to
	}
	assert.Equal(t, n, connected)
	assert.Equal(t, StateClosed, prev)
}

func TestPing(t *testing.T) {
	srv := newTestServer(t, nil)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions()...)
	require.NoError(t, err)
	rtt, err := c.Ping(ctxTimeout(t))
	require.NoError(t, err)
	assert.Greater(t, rtt, time.Duration(0))
	c.Close()
	_, err = c.Ping(ctxTimeout(t))
	assert.ErrorIs(t, err, ErrClosed)

	var open atomic.Bool
	down := gatedServer(t, &open)
	c2, err := New(down.url(), testOptions()...)
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Ping(ctxTimeout(t))
	assert.ErrorIs(t, err, ErrNotConnected)
}

// TestRTTSamples: only the heartbeat's own pongs are timed, and not one
// that may have waited behind the application's hold on the reader.
func TestRTTSamples(t *testing.T) {
	var samples []time.Duration
	var st0 counters
	l := &link{stats: &st0}
	pong := func(data string) {
		n := st0.rtt.Load()
		st0.rtt.Store(0)
		l.pong(data)
		if d := st0.rtt.Load(); d != 0 {
			samples = append(samples, time.Duration(d))
		} else {
			st0.rtt.Store(n)
		}
	}
	send := func() uint64 {
		l.pings.mu.Lock()
		defer l.pings.mu.Unlock()
		id := l.pingIDs.Add(1)
		l.pings.hbID, l.pings.hbSent, l.pings.hbHolds = id, monoNow()-int64(time.Millisecond), l.holds.Load()
		return id
	}
	id := send()
	pong("unsolicited")
	pong(string(pingPayload(id + 100)))
	assert.Empty(t, samples, "pongs of no ping of the heartbeat")
	pong(string(pingPayload(id)))
	require.Len(t, samples, 1)
	assert.GreaterOrEqual(t, samples[0], time.Millisecond)
	pong(string(pingPayload(id)))
	assert.Len(t, samples, 1, "a second pong for the same ping")

	id = send()
	l.hold(true)
	l.hold(false)
	pong(string(pingPayload(id)))
	assert.Len(t, samples, 1, "the application held the reader meanwhile")

	var st counters
	st.sampleRTT(80 * time.Millisecond)
	st.sampleRTT(160 * time.Millisecond)
	assert.Equal(t, 160*time.Millisecond, time.Duration(st.rtt.Load()))
	assert.Equal(t, 90*time.Millisecond, time.Duration(st.rttAvg.Load()))
}

func TestUptimeAndDownSince(t *testing.T) {
	var open atomic.Bool
	srv := gatedServer(t, &open)
	before := time.Now()
	c, err := New(srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	st := c.Stats()
	assert.Zero(t, st.Uptime)
	assert.False(t, st.DownSince.Before(before.Add(-time.Second)))
	assert.False(t, st.DownSince.IsZero())
	open.Store(true)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	st = c.Stats()
	assert.Greater(t, st.Uptime, time.Duration(0))
	assert.True(t, st.DownSince.IsZero())
}

func TestShuffleSpreadsTheFleet(t *testing.T) {
	servers := make([]*testServer, 4)
	urls := make([]string, 4)
	for i := range servers {
		servers[i] = newTestServer(t, nil)
		urls[i] = servers[i].url()
	}
	for range 24 {
		c, err := Dial(ctxTimeout(t), urls[0], testOptions(WithURLs(urls[1:]...), WithShuffle())...)
		require.NoError(t, err)
		c.Close()
	}
	used := 0
	for _, s := range servers {
		if _, conns, _ := s.snapshot(); conns > 0 {
			used++
		}
	}
	assert.GreaterOrEqual(t, used, 2, "24 shuffled clients all started at one endpoint")
}

func TestURLFunc(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(n int, w http.ResponseWriter) bool {
			if n <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return true
			}
			return false
		}
	})
	never := newTestServer(t, nil)
	var mu sync.Mutex
	var attempts []int
	c, err := Dial(ctxTimeout(t), never.url(), testOptions(WithURLFunc(func(ctx context.Context, attempt int) (string, error) {
		mu.Lock()
		attempts = append(attempts, attempt)
		mu.Unlock()
		return srv.url() + "?token=SECRET", nil
	}))...)
	require.NoError(t, err)
	defer c.Close()
	mu.Lock()
	assert.Equal(t, []int{1, 2, 3}, attempts)
	mu.Unlock()
	_, conns, _ := never.snapshot()
	assert.Zero(t, conns, "New's URL is never dialed")
	assert.NotContains(t, c.Stats().URL, "SECRET")
	assert.True(t, strings.HasPrefix(c.Stats().URL, "ws://"), c.Stats().URL)

	_, err = New(never.url(), WithURLFunc(func(context.Context, int) (string, error) { return "", nil }), WithURLs(never.url()))
	assert.Error(t, err)
	_, err = New(never.url(), WithURLs(never.url()), WithURLFunc(func(context.Context, int) (string, error) { return "", nil }))
	assert.Error(t, err)
}

// TestURLFuncNeverLeaksTheQuery: a malformed URL or a refused one, with a
// token in its query, leaves no trace of the token in errors, Disconnect,
// Stats or the log.
func TestURLFuncNeverLeaksTheQuery(t *testing.T) {
	for name, u := range map[string]string{
		"malformed": "ws://127.0.0.1:bad/x?token=SECRET",
		"bad char":  "ws://127.0.0.1/x?token=SECRET\x7f",
		"refused":   "ws://127.0.0.1:1/x?token=SECRET",
		"no scheme": "127.0.0.1/x?token=SECRET",
	} {
		t.Run(name, func(t *testing.T) {
			var log bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))
			c, hook := hookedClient(t, "ws://127.0.0.1:1/", WithLogger(logger),
				WithBackoff(&backoff.StopBackOff{}),
				WithURLFunc(func(context.Context, int) (string, error) { return u, nil }))
			d := hook.next(t).d
			waitClosed(t, c)
			for _, s := range []string{d.Err.Error(), d.URL, c.Err().Error(), c.Stats().URL} {
				assert.NotContains(t, s, "SECRET")
			}
			mu.Lock()
			assert.NotContains(t, log.String(), "SECRET")
			mu.Unlock()
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func TestURLFuncPermanentErrorAborts(t *testing.T) {
	boom := errors.New("no endpoint")
	c, err := New("ws://127.0.0.1:1/", testOptions(WithURLFunc(func(context.Context, int) (string, error) {
		return "", backoff.Permanent(boom)
	}))...)
	require.NoError(t, err)
	waitClosed(t, c)
	assert.ErrorIs(t, c.Err(), boom)
}

func TestURLFuncWorksWithHeaderFunc(t *testing.T) {
	srv := newTestServer(t, nil)
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	c, err := Dial(ctxTimeout(t), "ws://127.0.0.1:1/", testOptions(
		WithURLFunc(func(context.Context, int) (string, error) { note("url"); return srv.url(), nil }),
		WithHeaderFunc(func(context.Context) (http.Header, error) {
			note("header")
			return http.Header{"X-Token": {"t1"}}, nil
		}))...)
	require.NoError(t, err)
	defer c.Close()
	mu.Lock()
	assert.Equal(t, []string{"url", "header"}, order, "the URL func, then the header func, per attempt")
	mu.Unlock()
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 1, conns)
}

// TestCloseWithDuringOnConnect: a connection abandoned during its setup
// (CloseWith while OnConnect waits) closes with the code CloseWith chose.
func TestCloseWithDuringOnConnect(t *testing.T) {
	srv := newCloseRecorder(t)
	waiting := make(chan struct{})
	c, err := New(srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		close(waiting)
		_, _, err := conn.Receive(context.Background()) // the server never says anything
		return err
	}))...)
	require.NoError(t, err)
	<-waiting
	require.NoError(t, c.CloseWith(4002, "rotating"))
	assertDone(t, c)
	f := srv.frame(t, 0)
	assert.Equal(t, 4002, f.Code)
	assert.Equal(t, "rotating", f.Reason)
}
