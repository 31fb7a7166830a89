package bench

import (
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var (
	floorClients = flag.Int("floor.clients", 19000, "connections in BenchmarkFloor (200 with -test.short)")
	floorWindow  = flag.Duration("floor.window", 30*time.Second, "window over which BenchmarkFloor measures the pings' CPU, each way (1s with -test.short)")
	floorEvery   = flag.Duration("floor.interval", 20*time.Second, "ping interval per connection in BenchmarkFloor")
)

// BenchmarkFloor measures the least a heartbeat and a Close of every
// connection can cost at scale, with raw gorilla connections to the echo
// server and nothing else running:
//
//   - mode=spread, mode=batched: one goroutine does nothing but write each
//     connection's ping at the heartbeat's rate, either one at a time evenly
//     spread or in batches every 100 ms. No pong is read and no timer runs
//     per connection, so any heartbeat of that rate costs at least this.
//     Reports idle-cpu-% of one core and cpu-ns/ping.
//   - mode=close: every connection closed at once, each on its own
//     goroutine as a Client's Close does it: a 1000 close frame, the
//     server's answer read, the socket closed. Reports close-ms.
//
// Run with -benchtime=1x.
func BenchmarkFloor(b *testing.B) {
	n, window := *floorClients, *floorWindow
	if testing.Short() {
		n, window = min(n, 200), min(window, time.Second)
	}
	needFiles(b, uint64(n)+200)
	p, err := newScalePeer(n)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { p.stop() }()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addrs[i%len(p.addrs)]+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		conns[i] = ws
	}
	perSecond := float64(n) / floorEvery.Seconds()
	for _, mode := range []string{"spread", "batched"} {
		b.Run("impl=gorilla/mode="+mode, func(b *testing.B) {
			for range b.N {
				step := time.Duration(float64(time.Second) / perSecond)
				per := 1
				if mode == "batched" {
					step = 100 * time.Millisecond
					per = max(1, int(perSecond/10))
				}
				t := time.NewTicker(step)
				cpu0 := cpuTime()
				start := time.Now()
				next, pings := 0, 0
				for time.Since(start) < window {
					<-t.C // the pace of the pings, not a wait for an event
					for range per {
						_ = conns[next].WriteControl(websocket.PingMessage, []byte("12345678"), time.Now().Add(10*time.Second))
						next = (next + 1) % n
						pings++
					}
				}
				t.Stop()
				cpu := cpuTime() - cpu0
				b.ReportMetric(100*cpu.Seconds()/time.Since(start).Seconds(), "idle-cpu-%")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(pings), "cpu-ns/ping")
				b.Logf("%s: %d pings in %.0f s (%.0f/s), %.2f %% of one core, %.1f µs per ping", mode, pings,
					time.Since(start).Seconds(), float64(pings)/time.Since(start).Seconds(), 100*cpu.Seconds()/time.Since(start).Seconds(),
					float64(cpu.Microseconds())/float64(pings))
			}
		})
	}
	b.Run("impl=gorilla/mode=close", func(b *testing.B) {
		if b.N != 1 {
			b.Fatal("the connections close once: run with -test.benchtime=1x")
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, ws := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(5 * time.Second)
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
				_ = ws.SetReadDeadline(deadline)
				for {
					if _, _, err := ws.NextReader(); err != nil {
						break // the server's close answer, or the deadline
					}
				}
				ws.Close()
			}()
		}
		wg.Wait()
		b.ReportMetric(ms(time.Since(start)), "close-ms")
		b.Logf("close: %d connections closed in parallel in %.0f ms", n, ms(time.Since(start)))
	})
}
