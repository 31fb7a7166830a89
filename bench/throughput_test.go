package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsreconnect/wsreconnect"
)

// Both implementations are measured by the same benchmark body, under the
// same sub-benchmark names but for impl=, so that benchstat -col /impl puts
// them side by side. For each size the two run one right after the other,
// and run.sh repeats whole rounds rather than each benchmark in a row, so
// that drift on a busy machine hits both alike.

var sizes = []struct {
	name string
	n    int
}{
	{"16B", 16},
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// echoConn is one client connection to the echo server, in either
// implementation.
type echoConn interface {
	send(p []byte) error
	receive() ([]byte, error)
	close()
}

type rawConn struct{ ws *websocket.Conn }

func (c rawConn) send(p []byte) error { return c.ws.WriteMessage(websocket.BinaryMessage, p) }
func (c rawConn) receive() ([]byte, error) {
	_, p, err := c.ws.ReadMessage()
	return p, err
}
func (c rawConn) close() {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.ws.Close()
}

type clientConn struct{ c *wsreconnect.Client }

func (c clientConn) send(p []byte) error {
	return c.c.Send(context.Background(), wsreconnect.BinaryMessage, p)
}
func (c clientConn) receive() ([]byte, error) {
	_, p, err := c.c.Receive(context.Background())
	return p, err
}
func (c clientConn) close() { c.c.Close() }

var impls = []string{"gorilla", "wsreconnect"}

// echoImpls adds, for the echo benchmarks, the Client consuming with
// WithOnMessage: the messages are handled on the client's own goroutine,
// with no hand-off to the goroutine that waits.
var echoImpls = []string{"gorilla", "wsreconnect", "wsreconnect-onmessage"}

func dialEcho(b *testing.B, impl, url string) echoConn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch impl {
	case "gorilla":
		ws, err := rawDial(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		return rawConn{ws}
	default:
		c, err := wsreconnect.Dial(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		return clientConn{c}
	}
}

// BenchmarkPipelined: one goroutine sends b.N messages while the benchmark
// goroutine receives the b.N echoes. One op is one message sent and its echo
// received; MB/s counts the payload once.
func BenchmarkPipelined(b *testing.B) { benchEcho(b, true) }

// BenchmarkRoundTrip: send one message, wait for its echo, repeat.
func BenchmarkRoundTrip(b *testing.B) { benchEcho(b, false) }

func benchEcho(b *testing.B, pipelined bool) {
	for _, sz := range sizes {
		for _, impl := range echoImpls {
			b.Run(fmt.Sprintf("impl=%s/size=%s", impl, sz.name), func(b *testing.B) {
				if impl == "wsreconnect-onmessage" {
					runEchoOnMessage(b, sz.n, pipelined)
					return
				}
				runEcho(b, impl, sz.n, pipelined)
			})
		}
	}
}

// runEchoOnMessage is runEcho for a Client that consumes with
// WithOnMessage. Pipelined: one goroutine sends b.N messages and the hook
// counts the echoes. Round trip: the hook sends the next message when the
// echo of the previous one arrives, as a reactive client would.
func runEchoOnMessage(b *testing.B, size int, pipelined bool) {
	p := sharedPeer(b)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var (
		c        *wsreconnect.Client
		ready    = make(chan struct{})
		done     = make(chan error, 1)
		received int
		want     int // echoes to wait for; set before each phase
		chained  bool
	)
	onMessage := func(_ wsreconnect.MessageType, data []byte) {
		<-ready
		if len(data) != size {
			done <- fmt.Errorf("echo of %d bytes, want %d", len(data), size)
			return
		}
		received++
		if received == want {
			done <- nil
			return
		}
		if chained {
			if err := c.Send(context.Background(), wsreconnect.BinaryMessage, payload); err != nil {
				done <- err
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	c, err = wsreconnect.Dial(ctx, p.url("/"), wsreconnect.WithOnMessage(onMessage))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	close(ready)

	// Warm up buffers and the connection (the hook reads received and
	// want only between phases, when no echo is in flight).
	want, chained = 16, true
	if err := c.Send(ctx, wsreconnect.BinaryMessage, payload); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}

	received, want, chained = 0, b.N, !pipelined
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	if pipelined {
		go func() {
			for i := 0; i < b.N; i++ {
				if err := c.Send(context.Background(), wsreconnect.BinaryMessage, payload); err != nil {
					done <- err
					return
				}
			}
		}()
	} else if err := c.Send(context.Background(), wsreconnect.BinaryMessage, payload); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}

func runEcho(b *testing.B, impl string, size int, pipelined bool) {
	p := sharedPeer(b)
	c := dialEcho(b, impl, p.url("/"))
	defer c.close()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	// Warm up buffers and the connection.
	for range 16 {
		if err := c.send(payload); err != nil {
			b.Fatal(err)
		}
		if _, err := c.receive(); err != nil {
			b.Fatal(err)
		}
	}

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	if pipelined {
		sendErr := make(chan error, 1)
		go func() {
			for i := 0; i < b.N; i++ {
				if err := c.send(payload); err != nil {
					sendErr <- err
					return
				}
			}
			sendErr <- nil
		}()
		for i := 0; i < b.N; i++ {
			got, err := c.receive()
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != size {
				b.Fatalf("echo of %d bytes, want %d", len(got), size)
			}
		}
		if err := <-sendErr; err != nil {
			b.Fatal(err)
		}
	} else {
		for i := 0; i < b.N; i++ {
			if err := c.send(payload); err != nil {
				b.Fatal(err)
			}
			got, err := c.receive()
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != size {
				b.Fatalf("echo of %d bytes, want %d", len(got), size)
			}
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}
