package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	"github.com/wsreconnect/wsreconnect"
)

const idleClients = 1000

var idleProfile = flag.String("idle.heapprofile", "", "write the live heap of the idle clients to PREFIX-IMPL.prof (use with -test.memprofilerate=1)")

// The heartbeat both implementations use while idle: the Client's defaults.
const (
	idlePing    = wsreconnect.DefaultPingInterval
	idleTimeout = wsreconnect.DefaultPongTimeout
)

// BenchmarkIdle opens 1000 connections that stay idle and reports what each
// one costs the client process: heap and stack bytes in use, memory taken
// from the OS, and goroutines. The raw gorilla side is the usual hand-rolled
// loop: a reader goroutine (whose pong handler extends the read deadline)
// and a pinger goroutine per connection. The Client runs with its default
// heartbeat (same interval and timeout). gws runs its ReadLoop goroutine
// (OnPong extends the read deadline) and a pinger goroutine; coder, which
// has no reader of its own, a goroutine in Read and a pinger goroutine
// calling Ping with the timeout. Nothing waits for messages on behalf of an
// application: BenchmarkIdleReceive adds that.
//
// pool=shared gives gorilla and the Client a write-buffer pool shared by all
// connections (websocket.Dialer.WriteBufferPool for gorilla,
// WithWriteBufferPool for the Client; gws and coder have no such option).
// Run with -benchtime=1x: each call measures once.
func BenchmarkIdle(b *testing.B) {
	needFiles(b, idleClients+200)
	for _, pool := range []string{"none", "shared"} {
		for _, impl := range idleImpls {
			if pool == "shared" && (impl == "gws" || impl == "coder") {
				continue
			}
			b.Run(fmt.Sprintf("impl=%s/pool=%s", impl, pool), func(b *testing.B) {
				p := sharedPeer(b)
				var bp websocket.BufferPool
				if pool == "shared" {
					bp = &sync.Pool{}
				}
				for range b.N {
					runIdle(b, impl, p.url("/"), bp, false)
				}
			})
		}
	}
}

// BenchmarkIdleReceive is BenchmarkIdle (no write-buffer pool) as an
// application runs it: besides what keeps the connection alive, one
// application goroutine per connection waits for the next message. The
// Client: a goroutine parked in Client.Receive. gorilla: the reader hands
// each message over a channel to the application goroutine parked on it.
// gws: OnMessage hands a copy over a channel in the same way. coder: the
// goroutine in Read is the application's (coder reads on the caller's
// goroutine), so it is the same as in BenchmarkIdle. Run with -benchtime=1x.
func BenchmarkIdleReceive(b *testing.B) {
	needFiles(b, idleClients+200)
	for _, impl := range idleImpls {
		b.Run(fmt.Sprintf("impl=%s/pool=none", impl), func(b *testing.B) {
			p := sharedPeer(b)
			for range b.N {
				runIdle(b, impl, p.url("/"), nil, true)
			}
		})
	}
}

var idleImpls = []string{"gorilla", "wsreconnect", "gws", "coder"}

// idleGoroutines is the number of goroutines each idle connection of impl
// runs, with or without an application goroutine waiting for messages.
func idleGoroutines(impl string, receive bool) int {
	n := map[string]int{"gorilla": 2, "wsreconnect": 1, "gws": 2, "coder": 2}[impl]
	if receive && impl != "coder" {
		n++
	}
	return n
}

type idleConn interface{ close() }

func runIdle(b *testing.B, impl, url string, pool websocket.BufferPool, receive bool) {
	ms0, g0 := gcStats()

	conns := make([]idleConn, idleClients)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dialer := *websocket.DefaultDialer
	if pool != nil {
		dialer.WriteBufferPool = pool
	}
	var wg sync.WaitGroup
	errs := make(chan error, idleClients)
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := openIdle(ctx, impl, url, &dialer, pool, receive)
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	defer closeAll(conns)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	// Every connection has finished its handshake; let the goroutines that
	// helped dial end, then measure.
	waitGoroutines(g0+idleGoroutines(impl, receive)*idleClients, 5*time.Second)
	ms1, g1 := gcStats()
	heap := float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse)) / idleClients
	sys := float64(int64(ms1.Sys)-int64(ms0.Sys)) / idleClients
	b.ReportMetric(heap, "B/client")
	b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/idleClients, "heap-B/client")
	b.ReportMetric(float64(int64(ms1.StackInuse)-int64(ms0.StackInuse))/idleClients, "stack-B/client")
	b.ReportMetric(sys, "sys-B/client")
	b.ReportMetric(float64(g1-g0)/idleClients, "goroutines/client")
	if *idleProfile != "" {
		suffix := impl
		if receive {
			suffix += "-receive"
		}
		writeHeapProfile(b, fmt.Sprintf("%s-%s.prof", *idleProfile, suffix))
	}
}

// writeHeapProfile writes the live heap while the idle clients are open.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

func openIdle(ctx context.Context, impl, url string, d *websocket.Dialer, pool websocket.BufferPool, receive bool) (idleConn, error) {
	switch impl {
	case "wsreconnect":
		opts := []wsreconnect.Option{wsreconnect.WithHeartbeat(idlePing, idleTimeout)}
		if pool != nil {
			opts = append(opts, wsreconnect.WithWriteBufferPool(pool))
		}
		c, err := wsreconnect.Dial(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		if receive {
			return startClientReceiver(c), nil
		}
		return clientConn{c}, nil
	case "gws":
		return startGWSIdle(ctx, url, receive)
	case "coder":
		return startCoderIdle(ctx, url)
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	return startRawIdle(ws, receive), nil
}

// clientReceiver is a Client with an application goroutine parked in
// Receive.
type clientReceiver struct {
	c    *wsreconnect.Client
	done chan struct{}
}

func startClientReceiver(c *wsreconnect.Client) *clientReceiver {
	r := &clientReceiver{c: c, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			if _, _, err := c.Receive(context.Background()); err != nil {
				return // ErrClosed once Close is called
			}
		}
	}()
	return r
}

func (r *clientReceiver) close() {
	r.c.Close()
	<-r.done
}

// appReceiver is the application goroutine of a raw connection: it waits
// for the messages the reader hands over.
type appReceiver struct {
	msgs chan []byte
	done chan struct{}
}

func startAppReceiver() *appReceiver {
	a := &appReceiver{msgs: make(chan []byte), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for range a.msgs {
		}
	}()
	return a
}

// gwsIdle is a gws connection kept alive as its users do: ReadLoop answers
// pings and calls OnPong, which extends the read deadline; a pinger
// goroutine pings.
type gwsIdle struct {
	c    *gwsClient
	app  *appReceiver // nil unless an application goroutine waits
	stop chan struct{}
	wg   sync.WaitGroup
}

func startGWSIdle(ctx context.Context, url string, receive bool) (*gwsIdle, error) {
	g := &gwsIdle{stop: make(chan struct{})}
	h := &gwsEvents{}
	if receive {
		g.app = startAppReceiver()
		h.onMessage = func(data []byte) {
			select {
			case g.app.msgs <- append([]byte(nil), data...):
			case <-g.stop:
			}
		}
	}
	h.onPong = func(ws *gws.Conn) { _ = ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout)) }
	h.onOpen = func(ws *gws.Conn) { _ = ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout)) }
	c, err := dialGWS(ctx, url, h)
	if err != nil {
		if g.app != nil {
			close(g.app.msgs)
		}
		return nil, err
	}
	g.c = c
	g.wg.Add(1)
	go func() { // pinger
		defer g.wg.Done()
		t := time.NewTicker(idlePing)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = c.ws.SetWriteDeadline(time.Now().Add(idleTimeout))
				if err := c.ws.WritePing(nil); err != nil {
					return
				}
			case <-g.stop:
				return
			}
		}
	}()
	return g, nil
}

func (g *gwsIdle) close() {
	close(g.stop)
	g.c.close()
	g.wg.Wait()
	if g.app != nil {
		close(g.app.msgs)
		<-g.app.done
	}
}

// coderIdle is a coder/websocket connection kept alive as its users do: a
// goroutine waits in Read (which also reads the pongs) and a pinger
// goroutine calls Ping with the heartbeat timeout.
type coderIdle struct {
	c    *coder.Conn
	stop chan struct{}
	wg   sync.WaitGroup
}

func startCoderIdle(ctx context.Context, url string) (*coderIdle, error) {
	c, err := dialCoder(ctx, url)
	if err != nil {
		return nil, err
	}
	r := &coderIdle{c: c, stop: make(chan struct{})}
	r.wg.Add(2)
	go func() { // the reader: the application's goroutine
		defer r.wg.Done()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	go func() { // pinger
		defer r.wg.Done()
		t := time.NewTicker(idlePing)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), idleTimeout)
				err := c.Ping(ctx)
				cancel()
				if err != nil {
					c.CloseNow()
					return
				}
			case <-r.stop:
				return
			}
		}
	}()
	return r, nil
}

func (r *coderIdle) close() {
	close(r.stop)
	r.c.Close(coder.StatusNormalClosure, "")
	r.wg.Wait()
}

// rawIdle is the hand-rolled gorilla client the Client is compared with: a
// reader goroutine and a pinger goroutine, and with receive an application
// goroutine to which the reader hands each message.
type rawIdle struct {
	ws   *websocket.Conn
	app  *appReceiver
	stop chan struct{}
	wg   sync.WaitGroup
}

func startRawIdle(ws *websocket.Conn, receive bool) *rawIdle {
	r := &rawIdle{ws: ws, stop: make(chan struct{})}
	if receive {
		r.app = startAppReceiver()
	}
	ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout))
	})
	r.wg.Add(2)
	go func() { // reader
		defer r.wg.Done()
		for {
			_, p, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if r.app != nil {
				select {
				case r.app.msgs <- p:
				case <-r.stop:
					return
				}
			}
		}
	}()
	go func() { // pinger
		defer r.wg.Done()
		t := time.NewTicker(idlePing)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(idleTimeout)); err != nil {
					return
				}
			case <-r.stop:
				return
			}
		}
	}()
	return r
}

func (r *rawIdle) close() {
	close(r.stop)
	r.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.ws.Close()
	r.wg.Wait()
	if r.app != nil {
		close(r.app.msgs)
		<-r.app.done
	}
}

func closeAll(conns []idleConn) {
	var wg sync.WaitGroup
	next := make(chan idleConn)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				c.close()
			}
		}()
	}
	for _, c := range conns {
		if c != nil {
			next <- c
		}
	}
	close(next)
	wg.Wait()
}
