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

	"github.com/gorilla/websocket"
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
// heartbeat (same interval and timeout).
//
// pool=shared gives both sides a write-buffer pool shared by all
// connections (websocket.Dialer.WriteBufferPool for gorilla,
// WithWriteBufferPool for the Client). Run with -benchtime=1x: each call
// measures once.
func BenchmarkIdle(b *testing.B) {
	needFiles(b, idleClients+200)
	for _, pool := range []string{"none", "shared"} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("impl=%s/pool=%s", impl, pool), func(b *testing.B) {
				p := sharedPeer(b)
				var bp websocket.BufferPool
				if pool == "shared" {
					bp = &sync.Pool{}
				}
				for range b.N {
					runIdle(b, impl, p.url("/"), bp)
				}
			})
		}
	}
}

type idleConn interface{ close() }

func runIdle(b *testing.B, impl, url string, pool websocket.BufferPool) {
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
				c, err := openIdle(ctx, impl, url, &dialer, pool)
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
	waitGoroutines(g0+2*idleClients, 5*time.Second)
	ms1, g1 := gcStats()
	heap := float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse)) / idleClients
	sys := float64(int64(ms1.Sys)-int64(ms0.Sys)) / idleClients
	b.ReportMetric(heap, "B/client")
	b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/idleClients, "heap-B/client")
	b.ReportMetric(float64(int64(ms1.StackInuse)-int64(ms0.StackInuse))/idleClients, "stack-B/client")
	b.ReportMetric(sys, "sys-B/client")
	b.ReportMetric(float64(g1-g0)/idleClients, "goroutines/client")
	if *idleProfile != "" {
		writeHeapProfile(b, fmt.Sprintf("%s-%s.prof", *idleProfile, impl))
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

func openIdle(ctx context.Context, impl, url string, d *websocket.Dialer, pool websocket.BufferPool) (idleConn, error) {
	if impl == "wsreconnect" {
		opts := []wsreconnect.Option{wsreconnect.WithHeartbeat(idlePing, idleTimeout)}
		if pool != nil {
			opts = append(opts, wsreconnect.WithWriteBufferPool(pool))
		}
		return dialClient(ctx, url, opts...)
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	return startRawIdle(ws), nil
}

func dialClient(ctx context.Context, url string, opts ...wsreconnect.Option) (idleConn, error) {
	c, err := wsreconnect.Dial(ctx, url, opts...)
	if err != nil {
		return nil, err
	}
	return clientConn{c}, nil
}

// rawIdle is the hand-rolled gorilla client the Client is compared with: a
// reader goroutine and a pinger goroutine.
type rawIdle struct {
	ws   *websocket.Conn
	stop chan struct{}
	wg   sync.WaitGroup
}

func startRawIdle(ws *websocket.Conn) *rawIdle {
	r := &rawIdle{ws: ws, stop: make(chan struct{})}
	ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(idlePing + idleTimeout))
	})
	r.wg.Add(2)
	go func() { // reader
		defer r.wg.Done()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
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
