package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	"github.com/wsreconnect/wsreconnect"
)

// Every implementation is measured by the same benchmark body, under the
// same sub-benchmark names but for impl=, so that benchstat -col /impl puts
// them side by side. For each size they run one right after the other, and
// run.sh repeats whole rounds rather than each benchmark in a row, so that
// drift on a busy machine hits all alike.
//
// The implementations, each as its users run it at its defaults:
//
//   - gorilla: raw gorilla/websocket, 4 KiB buffers, WriteMessage and
//     ReadMessage (the reader is the goroutine that waits for the echo);
//   - wsreconnect: the Client, Send and Receive;
//   - wsreconnect-onmessage: the Client consuming with WithOnMessage;
//   - gws: lxzan/gws, WriteMessage, and its ReadLoop goroutine calling
//     OnMessage (its only way to read), which releases the message to gws's
//     pool after checking its length;
//   - coder: coder/websocket, Write and Read (the read limit raised from its
//     32 KiB default to 64 MiB, as on the server, so that 64 KiB is read).

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

type coderConn struct{ c *coder.Conn }

func (c coderConn) send(p []byte) error {
	return c.c.Write(context.Background(), coder.MessageBinary, p)
}
func (c coderConn) receive() ([]byte, error) {
	_, p, err := c.c.Read(context.Background())
	return p, err
}
func (c coderConn) close() { c.c.Close(coder.StatusNormalClosure, "") }

// coderReadLimit replaces coder/websocket's default read limit (32 KiB).
const coderReadLimit = 64 << 20

func dialCoder(ctx context.Context, url string) (*coder.Conn, error) {
	c, _, err := coder.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(coderReadLimit)
	return c, nil
}

// gwsClient is a gws client connection and its read loop.
type gwsClient struct {
	ws   *gws.Conn
	done chan struct{} // closed when ReadLoop has returned
}

// gwsEvents adapts a function to gws's event handler: onMessage gets each
// message's payload, valid until it returns (the message then goes back to
// gws's pool).
type gwsEvents struct {
	gws.BuiltinEventHandler
	onMessage func(data []byte)
	onOpen    func(ws *gws.Conn)
	onPong    func(ws *gws.Conn)
}

func (h *gwsEvents) OnMessage(_ *gws.Conn, m *gws.Message) {
	if h.onMessage != nil {
		h.onMessage(m.Bytes())
	}
	m.Close()
}

func (h *gwsEvents) OnOpen(ws *gws.Conn) {
	if h.onOpen != nil {
		h.onOpen(ws)
	}
}

func (h *gwsEvents) OnPong(ws *gws.Conn, _ []byte) {
	if h.onPong != nil {
		h.onPong(ws)
	}
}

// dialGWS connects with gws at its defaults and starts its read loop.
func dialGWS(ctx context.Context, url string, h *gwsEvents) (*gwsClient, error) {
	opt := &gws.ClientOption{Addr: url}
	if d, ok := ctx.Deadline(); ok {
		opt.HandshakeTimeout = time.Until(d)
	}
	ws, _, err := gws.NewClient(h, opt)
	if err != nil {
		return nil, err
	}
	c := &gwsClient{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ws.ReadLoop()
	}()
	return c, nil
}

func (c *gwsClient) send(p []byte) error { return c.ws.WriteMessage(gws.OpcodeBinary, p) }

func (c *gwsClient) close() {
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteClose(1000, nil)
	c.ws.NetConn().Close()
	<-c.done
}

var impls = []string{"gorilla", "wsreconnect"}

// echoImpls adds, for the echo benchmarks, the Client consuming with
// WithOnMessage: the messages are handled on the client's own goroutine,
// with no hand-off to the goroutine that waits.
var echoImpls = []string{"gorilla", "wsreconnect", "wsreconnect-onmessage", "gws", "coder"}

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
	case "coder":
		c, err := dialCoder(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		return coderConn{c}
	default:
		c, err := wsreconnect.Dial(ctx, url, clientOptions()...)
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
				switch impl {
				case "wsreconnect-onmessage":
					runEchoCallback(b, sz.n, pipelined, dialOnMessage)
					return
				case "gws":
					runEchoCallback(b, sz.n, pipelined, dialGWSEcho)
					return
				}
				runEcho(b, impl, sz.n, pipelined)
			})
		}
	}
}

// callbackDial connects a client that hands every echo to onMessage on its
// own goroutine, and returns its send function and how to close it.
type callbackDial func(ctx context.Context, url string, onMessage func(data []byte)) (send func([]byte) error, close func(), err error)

func dialOnMessage(ctx context.Context, url string, onMessage func([]byte)) (func([]byte) error, func(), error) {
	c, err := wsreconnect.Dial(ctx, url, clientOptions(wsreconnect.WithOnMessage(func(_ wsreconnect.MessageType, data []byte) { onMessage(data) }))...)
	if err != nil {
		return nil, nil, err
	}
	send := func(p []byte) error { return c.Send(context.Background(), wsreconnect.BinaryMessage, p) }
	return send, func() { c.Close() }, nil
}

func dialGWSEcho(ctx context.Context, url string, onMessage func([]byte)) (func([]byte) error, func(), error) {
	c, err := dialGWS(ctx, url, &gwsEvents{onMessage: onMessage})
	if err != nil {
		return nil, nil, err
	}
	return c.send, c.close, nil
}

// runEchoCallback is runEcho for a client that consumes with a callback
// (the Client with WithOnMessage, gws). Pipelined: one goroutine sends b.N
// messages and the callback counts the echoes. Round trip: the callback
// sends the next message when the echo of the previous one arrives, as a
// reactive client would.
func runEchoCallback(b *testing.B, size int, pipelined bool, dial callbackDial) {
	p := sharedPeer(b)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var (
		send     func([]byte) error
		ready    = make(chan struct{})
		done     = make(chan error, 1)
		received int
		want     int // echoes to wait for; set before each phase
		chained  bool
	)
	onMessage := func(data []byte) {
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
			if err := send(payload); err != nil {
				done <- err
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send, closeConn, err := dial(ctx, p.url("/"), onMessage)
	if err != nil {
		b.Fatal(err)
	}
	defer closeConn()
	close(ready)

	// Warm up buffers and the connection (the callback reads received and
	// want only between phases, when no echo is in flight).
	want, chained = 16, true
	if err := send(payload); err != nil {
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
				if err := send(payload); err != nil {
					done <- err
					return
				}
			}
		}()
	} else if err := send(payload); err != nil {
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
