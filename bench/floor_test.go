package bench

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var (
	floorClients = flag.Int("floor.clients", 19000, "connections in BenchmarkPingFloor (200 with -test.short)")
	floorWindow  = flag.Duration("floor.window", 30*time.Second, "window over which BenchmarkPingFloor measures CPU (1s with -test.short)")
	floorEvery   = flag.Duration("floor.interval", 20*time.Second, "ping interval per connection in BenchmarkPingFloor")
)

// BenchmarkPingFloor measures the least CPU a heartbeat can cost at scale:
// raw gorilla connections to the echo server, and one goroutine that does
// nothing but write each connection's ping at the heartbeat's rate, either
// one at a time evenly spread (mode=spread) or in batches every 100 ms
// (mode=batched). No pong is read and no timer runs per connection, so any
// heartbeat of that rate costs at least this. Reports idle-cpu-% of one
// core and cpu-ns/ping.
func BenchmarkPingFloor(b *testing.B) {
	n, window := *floorClients, *floorWindow
	if testing.Short() {
		n, window = min(n, 200), min(window, time.Second)
	}
	needFiles(b, uint64(n)+200)
	ports := (n + clientsPerPort - 1) / clientsPerPort
	p, err := newPeer(fmt.Sprintf("-listeners=%d", ports))
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
}
