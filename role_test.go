package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// roleUses sums what Receive read itself on c's current connection.
func roleUses(c *Client) uint64 {
	if l := c.cur.Load(); l != nil {
		return l.roleUses.Load()
	}
	return 0
}

// A Receive with a context that cannot be canceled reads the connection
// itself, and every message arrives once, in order, also with Receive
// calls of both kinds racing for them.
func TestReceiveReadsItselfInOrder(t *testing.T) {
	const n = 3000
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			for i := range n {
				if err := ws.WriteMessage(websocket.BinaryMessage, fmt.Appendf(nil, "%d", i)); err != nil {
					return
				}
				if i%500 == 0 {
					// A pause now and then, so that the client's goroutine
					// takes the reading back and offers it again.
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}
			ws.ReadMessage() // until the client closes
		}
	})
	c, err := Dial(context.Background(), srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()

	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	next := 0
	receive := func(cancelable bool) {
		defer wg.Done()
		for {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if cancelable {
				ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
			}
			mu.Lock() // one Receive at a time, so that the order is the arrival order
			if next == n {
				mu.Unlock()
				cancel()
				return
			}
			_, data, err := c.Receive(ctx)
			cancel()
			if err != nil {
				mu.Unlock()
				t.Errorf("Receive: %v", err)
				return
			}
			var i int
			fmt.Sscanf(string(data), "%d", &i)
			got = append(got, i)
			next++
			if next%500 == 1 {
				require.NoError(t, c.Send(context.Background(), BinaryMessage, []byte("go on")))
			}
			mu.Unlock()
		}
	}
	wg.Add(3)
	go receive(false)
	go receive(false)
	go receive(true)
	wg.Wait()
	require.Len(t, got, n)
	for i, v := range got {
		require.Equal(t, i, v, "message %d", i)
	}
	require.NotZero(t, roleUses(c), "no Receive read the connection itself")
}

// takeReading makes a Receive take the reading of c's connection, whose
// peer echoes: a Receive waits, a message arrives, the client's goroutine
// hands it over and offers the reading; the next Receive, started here,
// takes it and waits in its read. It returns that Receive's result.
func takeReading(t *testing.T, c *Client) <-chan receiveResult {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		_, _, err := c.Receive(context.Background())
		got <- err
	}()
	waitUntilTrue(t, "a Receive waits", func() bool { return c.in.takers.Load() == 1 })
	require.NoError(t, c.Send(context.Background(), BinaryMessage, []byte("echo me")))
	require.NoError(t, <-got)
	done := make(chan receiveResult, 1)
	go func() {
		_, data, err := c.Receive(context.Background())
		done <- receiveResult{data, err}
	}()
	waitUntilTrue(t, "a Receive reads", func() bool {
		l := c.cur.Load()
		return l != nil && l.role.Load() == roleTaken
	})
	return done
}

// Close while a Receive waits in a read of its own: Close returns, the
// Receive reports ErrClosed, and the peer got the close frame.
func TestCloseWhileReceiveReads(t *testing.T) {
	closed := make(chan int, 1)
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			for {
				typ, data, err := ws.ReadMessage()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				}
				if err != nil {
					return
				}
				ws.WriteMessage(typ, data)
			}
		}
	})
	c, err := Dial(context.Background(), srv.url(), testOptions()...)
	require.NoError(t, err)
	done := takeReading(t, c)
	require.NoError(t, c.Close())
	select {
	case r := <-done:
		require.ErrorIs(t, r.err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Receive did not return after Close")
	}
	select {
	case code := <-closed:
		require.Equal(t, websocket.CloseNormalClosure, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the peer got no close frame")
	}
}

// The heartbeat declares a silent peer dead also while a Receive reads:
// the client reconnects, and the waiting Receive gets the next
// connection's message.
func TestHeartbeatWhileReceiveReads(t *testing.T) {
	silent := make(chan struct{})
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n == 1 {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				ws.WriteMessage(typ, data)
				<-silent // reads nothing more, answers no ping
				return
			}
			ws.WriteMessage(websocket.BinaryMessage, []byte("conn 2"))
			hold(ws)
		}
	})
	t.Cleanup(func() { close(silent) })
	c, err := Dial(context.Background(), srv.url(), testOptions(WithHeartbeat(20*time.Millisecond, 60*time.Millisecond))...)
	require.NoError(t, err)
	defer c.Close()
	r := <-takeReading(t, c)
	require.NoError(t, r.err)
	require.Equal(t, "conn 2", string(r.data))
	require.Equal(t, int64(1), c.Stats().Reconnects)
}

// Ping works while a Receive reads: the Receive's goroutine reads the pong.
func TestPingWhileReceiveReads(t *testing.T) {
	srv := newTestServer(t, nil)
	c, err := Dial(context.Background(), srv.url(), testOptions()...)
	require.NoError(t, err)
	done := takeReading(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Ping(ctx)
	require.NoError(t, err)
	c.Close()
	require.ErrorIs(t, (<-done).err, ErrClosed)
}

type receiveResult struct {
	data []byte
	err  error
}

// waitUntilTrue polls cond until it holds or 10 s pass.
func waitUntilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// With the default shape of heartbeat (timeout shorter than the interval),
// an answered ping moves the next tick to the next ping time: an idle
// connection wakes once per interval, not also at each ping's deadline. The
// ping times the ticks set are on the heartbeat's grid.
func TestHeartbeatTicksOncePerInterval(t *testing.T) {
	srv := newTestServer(t, nil) // reads, so gorilla answers the pings
	c, err := Dial(context.Background(), srv.url(), testOptions(WithHeartbeat(30*time.Millisecond, 20*time.Millisecond))...)
	require.NoError(t, err)
	defer c.Close()
	l := c.cur.Load()
	require.NotNil(t, l)
	waitUntilTrue(t, "ten pings answered", func() bool { return c.Stats().RTT > 0 && l.pingIDs.Load() >= 10 })
	l.hb.mu.Lock()
	ticks, pings, next := l.hb.ticks, l.pingIDs.Load(), l.hb.nextPing
	l.hb.mu.Unlock()
	step := int64(30 * time.Millisecond / 200)
	require.Zero(t, next%step, "the next ping at %d is off the %d ns grid", next, step)
	// Each tick pings; one more tick may be at a deadline, if a pong was
	// slower than the timeout's start.
	require.LessOrEqual(t, uint64(ticks), pings+2, "ticks %d for %d pings", ticks, pings)
	require.Equal(t, int64(0), c.Stats().Reconnects)
}

// Ping times fall on a grid of the process's clock, never later than the
// interval after the last ping and at most one grid step earlier; so the
// pings of many clients fall on few instants.
func TestPingTime(t *testing.T) {
	cases := []struct {
		interval time.Duration
		step     int64
	}{
		{DefaultPingInterval, int64(pingGrid)},
		{time.Hour, int64(pingGrid)},
		{time.Second, int64(5 * time.Millisecond)},
		{30 * time.Millisecond, int64(150 * time.Microsecond)},
		{100 * time.Nanosecond, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		for range 1000 {
			now := rng.Int64N(int64(time.Hour)) + 1
			next := pingTime(now, tc.interval)
			require.LessOrEqual(t, next, now+int64(tc.interval), "interval %v", tc.interval)
			require.Greater(t, next, now+int64(tc.interval)-tc.step, "interval %v", tc.interval)
			require.Zero(t, next%tc.step, "interval %v: %d is off the grid", tc.interval, next)
			// A ping on the grid is followed by one exactly an interval
			// later when the interval is a multiple of the step.
			if int64(tc.interval)%tc.step == 0 {
				require.Equal(t, next+int64(tc.interval), pingTime(next, tc.interval))
			}
		}
	}
}

// Dial returns a connected client: Ping and State need no wait after it,
// with or without an OnConnect hook (that is, with or without a setup
// reader).
func TestDialReturnsConnected(t *testing.T) {
	srv := newTestServer(t, nil)
	for i := range 40 {
		opts := testOptions()
		if i%2 == 1 {
			opts = append(opts, WithOnConnect(func(context.Context, *Conn) error { return nil }))
		}
		c, err := Dial(context.Background(), srv.url(), opts...)
		require.NoError(t, err)
		require.Equal(t, StateConnected, c.State(), "round %d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.Ping(ctx)
		cancel()
		require.NoError(t, err, "round %d", i)
		c.Close()
	}
}

// When Dial fails on an abort, the abort's OnDisconnect has run by the time
// Dial returns: Dial closes the client, and Close waits for Done.
func TestDialAbortRunsOnDisconnectFirst(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			http.Error(w, "no", http.StatusForbidden)
			return true
		}
	})
	for range 20 {
		var mu sync.Mutex
		var got []Action
		_, err := Dial(context.Background(), srv.url(), testOptions(WithOnDisconnect(func(_ Disconnect, a Action) {
			mu.Lock()
			got = append(got, a)
			mu.Unlock()
		}))...)
		require.Error(t, err)
		mu.Lock()
		require.Equal(t, []Action{Abort}, got)
		mu.Unlock()
	}
}

// Reconnect while a Receive reads: the read ends, the client reconnects,
// and the waiting Receive gets the next connection's message.
func TestReconnectWhileReceiveReads(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n > 1 {
				ws.WriteMessage(websocket.BinaryMessage, fmt.Appendf(nil, "conn %d", n))
			}
			for {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				ws.WriteMessage(typ, data)
			}
		}
	})
	c, err := Dial(context.Background(), srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	done := takeReading(t, c)
	require.NoError(t, c.Reconnect(CloseNormalClosure, "again"))
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "conn 2", string(r.data))
	require.Equal(t, int64(1), c.Stats().Reconnects)
}

// A Receive whose context cannot be canceled, called from a hook with
// nothing buffered, returns ErrWouldBlock at once, like any other: it
// never takes the reading on the client's own goroutine.
func TestReceiveBackgroundFromHooks(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, int(CloseGoingAway), "bye") }
	})
	errs := make(chan string, 16)
	ref := newClientRef()
	var stopped atomic.Bool // after the first OnDisconnect: the next attempts' hooks try nothing
	try := func(hook string) {
		if stopped.Load() {
			return
		}
		_, _, err := ref.get().Receive(context.Background())
		what := "nil"
		if errors.Is(err, ErrWouldBlock) {
			what = "ErrWouldBlock"
		} else if err != nil {
			what = err.Error()
		}
		errs <- hook + ": " + what
	}
	var once sync.Once
	c, err := New(srv.url(), testOptions(
		WithOnConnect(func(context.Context, *Conn) error { try("OnConnect"); return nil }),
		WithOnStateChange(func(_, to State) {
			if to == StateConnected {
				try("OnStateChange")
			}
		}),
		WithPolicy(func(d Disconnect) Action { try("Policy"); return DefaultPolicy(d) }),
		WithOnDisconnect(func(Disconnect, Action) {
			once.Do(func() {
				try("OnDisconnect")
				stopped.Store(true)
				close(errs)
			})
		}),
	)...)
	require.NoError(t, err)
	ref.set(c)
	defer c.Close()
	var got []string
	for e := range errs {
		got = append(got, e)
	}
	require.Equal(t, []string{"OnConnect: ErrWouldBlock", "OnStateChange: ErrWouldBlock", "Policy: ErrWouldBlock", "OnDisconnect: ErrWouldBlock"}, got)
}
