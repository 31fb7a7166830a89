package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/wsreconnect/wsreconnect"
)

// BenchmarkReconnect: one op is one reconnection. The echo server drops the
// connection (TCP close, no close frame) and stays up; the op ends when the
// client is connected again. The Client runs with a zero backoff so that the
// figure is its own overhead (read error, policy, hooks, dial, handshake);
// the raw gorilla side redials at once from its reader goroutine. Both sides
// end the op with one echo on the new connection.
func BenchmarkReconnect(b *testing.B) {
	for _, impl := range impls {
		b.Run("impl="+impl+"/cause=drop", func(b *testing.B) {
			p := startPeer(b)
			var reconnect func() error
			var stop func()
			switch impl {
			case "gorilla":
				reconnect, stop = rawRedialer(b, p)
			default:
				reconnect, stop = clientRedialer(b, p)
			}
			defer stop()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := reconnect(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawRedialer is the hand-rolled reconnect loop: a reader goroutine that
// redials as soon as a read fails.
func rawRedialer(b *testing.B, p *peer) (reconnect func() error, stop func()) {
	url := p.url("/")
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan error, 1)
	var cur atomic.Pointer[websocket.Conn]
	ws, err := rawDial(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	// One echo, so that the server has registered the connection before
	// the first drop.
	if err := ws.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		b.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		b.Fatal(err)
	}
	cur.Store(ws)
	done := make(chan struct{})
	report := func(err error) {
		select {
		case connected <- err:
		case <-ctx.Done():
		}
	}
	go func() {
		defer close(done)
		for {
			ws := cur.Load()
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					break
				}
			}
			ws.Close()
			if ctx.Err() != nil {
				return
			}
			ws, err := rawDial(ctx, url)
			if err != nil {
				report(err)
				return
			}
			// One echo before reporting, so that the server has registered
			// the connection when the next drop comes.
			if err := ws.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
				report(err)
				return
			}
			if _, _, err := ws.ReadMessage(); err != nil {
				report(err)
				return
			}
			cur.Store(ws)
			report(nil)
		}
	}()
	reconnect = func() error {
		if err := drop(b, p); err != nil {
			return err
		}
		return waitErr(connected, 10*time.Second)
	}
	stop = func() {
		cancel()
		cur.Load().Close()
		<-done
	}
	return reconnect, stop
}

func clientRedialer(b *testing.B, p *peer) (reconnect func() error, stop func()) {
	connects := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, p.url("/"),
		wsreconnect.WithBackoff(&backoff.ZeroBackOff{}),
		wsreconnect.WithOnConnect(func(context.Context, *wsreconnect.Conn) error {
			select {
			case connects <- nil:
			default:
			}
			return nil
		}),
	)
	if err != nil {
		b.Fatal(err)
	}
	<-connects // the first connection
	if err := c.Send(ctx, wsreconnect.TextMessage, []byte("x")); err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	reconnect = func() error {
		if err := drop(b, p); err != nil {
			return err
		}
		if err := waitErr(connects, 10*time.Second); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.WaitState(ctx, wsreconnect.StateConnected); err != nil {
			return err
		}
		// One echo, as on the gorilla side.
		if err := c.Send(ctx, wsreconnect.TextMessage, []byte("x")); err != nil {
			return err
		}
		_, _, err := c.Receive(ctx)
		return err
	}
	return reconnect, func() { c.Close() }
}

// waitCount asks the server for its number of connections until it is n or
// the deadline passes, and returns the last answer.
func waitCount(tb testing.TB, p *peer, n int, within time.Duration) string {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := p.do(tb, "count")
		if got == fmt.Sprint(n) || time.Now().After(deadline) {
			return got
		}
		<-tick.C
	}
}

// drop makes the server drop its one connection.
func drop(tb testing.TB, p *peer) error {
	if got := p.do(tb, "drop"); got != "1" {
		return fmt.Errorf("server dropped %s connections, want 1", got)
	}
	return nil
}

func waitErr(ch <-chan error, within time.Duration) error {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-t.C:
		return errors.New("timed out")
	}
}

// BenchmarkReconnectLeak forces 100 reconnections of one Client and reports
// how many goroutines and live heap bytes it holds afterwards compared with
// before them (both after GC; the baseline is taken after a few warm-up
// reconnections). Run with -benchtime=1x.
func BenchmarkReconnectLeak(b *testing.B) {
	b.Run("impl=wsreconnect/forced=100", func(b *testing.B) {
		p := startPeer(b)
		for range b.N {
			gd, hd, err := reconnectLeak(b, p, leakWarmup, 100)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(gd), "goroutines-delta")
			b.ReportMetric(float64(hd), "heap-live-delta-B")
		}
	})
}

// leakWarmup is how many reconnections run before the baseline is taken.
const leakWarmup = 10

// reconnectLeak returns the differences in goroutines and in live heap bytes
// (HeapAlloc after GC) that n forced reconnections leave, measured from a
// baseline taken after warmup reconnections.
func reconnectLeak(tb testing.TB, p *peer, warmup, n int) (goroutines int, heap int64, err error) {
	connects := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, p.url("/"),
		wsreconnect.WithBackoff(&backoff.ZeroBackOff{}),
		wsreconnect.WithOnConnect(func(context.Context, *wsreconnect.Conn) error {
			select {
			case connects <- struct{}{}:
			default:
			}
			return nil
		}),
	)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	<-connects
	echo := func() error {
		if err := c.Send(ctx, wsreconnect.TextMessage, []byte("ping")); err != nil {
			return err
		}
		_, _, err := c.Receive(ctx)
		return err
	}
	if err := echo(); err != nil {
		return 0, 0, err
	}
	var ms0 runtime.MemStats
	var g0 int
	// The first reconnections warm up what any process keeps once it has
	// used it (size classes, timer and poller slots); the baseline is taken
	// after them.
	for i := range warmup + n {
		if i == warmup {
			ms0, g0 = gcStats()
		}
		if got := p.do(tb, "drop"); got != "1" {
			return 0, 0, fmt.Errorf("reconnect %d: server dropped %s connections, want 1", i, got)
		}
		select {
		case <-connects:
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("reconnect %d: %w", i, ctx.Err())
		}
		if err := c.WaitState(ctx, wsreconnect.StateConnected); err != nil {
			return 0, 0, err
		}
		// The echo proves the connection works and that the server has
		// registered it, so that the next drop finds it.
		if err := echo(); err != nil {
			return 0, 0, err
		}
	}
	waitGoroutines(g0, 5*time.Second)
	ms1, g1 := gcStats()
	return g1 - g0, int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc), nil
}

// BenchmarkDeadPeer: the connection turns into a black hole (a TCP proxy
// that stops forwarding, keeping the sockets open) right after a pong went
// through; the report is the time from the first swallowed ping to the
// disconnect the Client reports, against the configured heartbeat timeout.
// Run with -benchtime=1x (each call measures once).
func BenchmarkDeadPeer(b *testing.B) {
	const interval, timeout = 200 * time.Millisecond, 500 * time.Millisecond
	b.Run(fmt.Sprintf("impl=wsreconnect/timeout=%s", timeout), func(b *testing.B) {
		p := sharedPeer(b)
		for range b.N {
			detect, err := deadPeer(p, interval, timeout)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ms(detect), "detect-ms")
			b.ReportMetric(ms(detect-timeout), "over-timeout-ms")
		}
	})
}

func deadPeer(p *peer, interval, timeout time.Duration) (time.Duration, error) {
	px, err := newProxy(p.addr)
	if err != nil {
		return 0, err
	}
	defer px.close()
	type event struct {
		at  time.Time
		err error
	}
	disconnects := make(chan event, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, "ws://"+px.addr()+"/",
		wsreconnect.WithHeartbeat(interval, timeout),
		wsreconnect.WithBackoff(backoff.NewConstantBackOff(time.Hour)),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, _ wsreconnect.Action) {
			select {
			case disconnects <- event{time.Now(), d.Err}:
			default:
			}
		}),
	)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// One echo, so that the server's answer is what arms the black hole if
	// no pong comes first.
	px.armed.Store(true)
	if err := c.Send(ctx, wsreconnect.TextMessage, []byte("hello")); err != nil {
		return 0, err
	}
	select {
	case ev := <-disconnects:
		if !errors.Is(ev.err, wsreconnect.ErrHeartbeatTimeout) {
			return 0, fmt.Errorf("disconnect for another reason: %v", ev.err)
		}
		sw := px.swallowed.Load()
		if sw == 0 {
			return 0, errors.New("no ping was swallowed before the disconnect")
		}
		return ev.at.Sub(time.Unix(0, sw)), nil
	case <-ctx.Done():
		return 0, errors.New("dead peer not detected within 30 s")
	}
}

const stormClients = 1000

// stormDown is how long the server stays down in the storm.
const stormDown = 1500 * time.Millisecond

// stormBin is the width of one bin of the reconnection histogram.
const stormBin = 100 * time.Millisecond

// stormResult is one storm run, kept for the chart.
type stormResult struct {
	bins  []int // reconnections per stormBin since the server went down
	upBin float64
	peak  int
	p99   time.Duration
}

var (
	stormMu   sync.Mutex
	stormLast = map[string]stormResult{}
)

// BenchmarkStorm: 1000 Clients connected to one server; the server goes
// down (every socket dropped, listener closed) for 1.5 s and comes back.
// Reports the peak number of reconnections in any 100 ms, the p50/p99 time
// from the server's return to a client's reconnection, and the worst case
// the backoff allows for it. jitter=off is the same default backoff with
// RandomizationFactor 0. Run with -benchtime=1x.
func BenchmarkStorm(b *testing.B) {
	needFiles(b, stormClients+200)
	for _, jitter := range []string{"off", "on"} {
		b.Run("impl=wsreconnect/jitter="+jitter, func(b *testing.B) {
			for range b.N {
				runStorm(b, jitter == "on")
			}
		})
	}
}

func stormBackoff(jitter bool) *backoff.ExponentialBackOff {
	bo := wsreconnect.NewDefaultBackoff()
	if !jitter {
		bo.RandomizationFactor = 0
	}
	return bo
}

// backoffBound is the longest a client can wait after the server comes back
// at `up` after the disconnect: the longest randomized delay of the latest
// attempt that may still be pending at that time.
func backoffBound(bo *backoff.ExponentialBackOff, up time.Duration) time.Duration {
	rf := bo.RandomizationFactor
	interval := float64(bo.InitialInterval)
	earliest := 0.0 // earliest start of the current attempt's wait
	for {
		longest := min(interval, float64(bo.MaxInterval)) * (1 + rf)
		shortest := min(interval, float64(bo.MaxInterval)) * (1 - rf)
		if earliest+shortest >= float64(up) || interval >= float64(bo.MaxInterval) {
			return time.Duration(longest)
		}
		earliest += shortest
		interval *= bo.Multiplier
	}
}

func runStorm(b *testing.B, jitter bool) {
	p := startPeer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	reconnected := make([]time.Time, stormClients)
	var pending sync.WaitGroup
	clients := make([]*wsreconnect.Client, stormClients)
	defer func() {
		closeAll(toIdle(clients))
	}()
	for i := range clients {
		var connects atomic.Int32
		pending.Add(1)
		c, err := wsreconnect.New(p.url("/"),
			wsreconnect.WithBackoff(stormBackoff(jitter)),
			wsreconnect.WithOnConnect(func(context.Context, *wsreconnect.Conn) error {
				if connects.Add(1) == 2 {
					reconnected[i] = time.Now()
					pending.Done()
				}
				return nil
			}),
		)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	for _, c := range clients {
		if err := c.WaitState(ctx, wsreconnect.StateConnected); err != nil {
			b.Fatal(err)
		}
	}
	// A client may see its handshake done a moment before the server has
	// registered the connection: wait for the count, with a deadline.
	if n := waitCount(b, p, stormClients, 10*time.Second); n != fmt.Sprint(stormClients) {
		b.Fatalf("server holds %s connections, want %d", n, stormClients)
	}

	b.ResetTimer()
	downAt := time.Now()
	p.do(b, "down")
	outage := time.NewTimer(stormDown)
	<-outage.C // the outage itself, not a wait for an event
	p.do(b, "up")
	upAt := time.Now()

	all := make(chan struct{})
	go func() { pending.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatal("not every client reconnected within the deadline")
	}
	b.StopTimer()

	waits := make([]time.Duration, stormClients)
	var last time.Duration
	for i, t := range reconnected {
		waits[i] = t.Sub(upAt)
		last = max(last, t.Sub(downAt))
	}
	sortDurations(waits)
	bins := make([]int, int(last/stormBin)+1)
	peak := 0
	for _, t := range reconnected {
		k := int(t.Sub(downAt) / stormBin)
		bins[k]++
		peak = max(peak, bins[k])
	}
	bound := backoffBound(stormBackoff(jitter), upAt.Sub(downAt))
	p99 := percentile(waits, 0.99)
	b.ReportMetric(float64(peak), "peak-per-100ms")
	b.ReportMetric(ms(percentile(waits, 0.50)), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(bound), "bound-ms")
	b.ReportMetric(ms(waits[len(waits)-1]-waits[0]), "spread-ms")

	mode := "off"
	if jitter {
		mode = "on"
	}
	stormMu.Lock()
	stormLast[mode] = stormResult{bins: bins, upBin: float64(upAt.Sub(downAt)) / float64(stormBin), peak: peak, p99: p99}
	stormMu.Unlock()
}

func toIdle(cs []*wsreconnect.Client) []idleConn {
	out := make([]idleConn, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, clientConn{c})
		}
	}
	return out
}
