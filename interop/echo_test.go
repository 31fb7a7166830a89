package interop

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
	"time"
	"unicode/utf8"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// echoMessages is how many messages each echo run sends.
const echoMessages = 10000

// testMessage is one message of the echo corpus.
type testMessage struct {
	typ  ws.MessageType
	data []byte
}

// edgeSizes are payload lengths at the frame-header boundaries (7-bit,
// 16-bit and 64-bit lengths) and at common buffer sizes.
var edgeSizes = []int{0, 1, 2, 125, 126, 127, 4095, 4096, 4097, 65535, 65536, 65537, 131072}

// utf8Runes are the runes text messages are made of: one to four bytes in
// UTF-8, so text payloads cross multi-byte boundaries.
var utf8Runes = []rune("abcdefghijklmnopqrstuvwxyz ABC0123456789 éüßñ€Ωжщ中文字😀🚀")

// makeCorpus returns n messages of mixed sizes and types, deterministic for
// a seed: mostly small, some medium, a few large, plus every edge size.
func makeCorpus(seed int64, n int) ([]testMessage, int64) {
	rng := rand.New(rand.NewSource(seed))
	msgs := make([]testMessage, n)
	var total int64
	for i := range msgs {
		var size int
		switch p := rng.Intn(100); {
		case i < 2*len(edgeSizes):
			size = edgeSizes[i%len(edgeSizes)]
		case p < 70:
			size = rng.Intn(200)
		case p < 97:
			size = 200 + rng.Intn(8000)
		default:
			size = 8192 + rng.Intn(64*1024)
		}
		typ := ws.BinaryMessage
		if rng.Intn(2) == 0 || (i < 2*len(edgeSizes) && i >= len(edgeSizes)) {
			typ = ws.TextMessage
		}
		var data []byte
		if typ == ws.TextMessage {
			data = make([]byte, 0, size+4)
			for len(data) < size {
				data = utf8.AppendRune(data, utf8Runes[rng.Intn(len(utf8Runes))])
			}
		} else {
			data = make([]byte, size)
			rng.Read(data)
		}
		msgs[i] = testMessage{typ: typ, data: data}
		total += int64(len(data))
	}
	return msgs, total
}

// runEcho sends the corpus through url while another goroutine receives the
// echoes and checks them byte for byte, then checks the server's counters.
func runEcho(t *testing.T, url string, src interface{ StatsAddr() string }, key string) {
	msgs, total := makeCorpus(int64(len(key))*7919+1, echoMessages)
	rec := newRecorder()
	c := dial(t, url, rec)
	ctx := ctxFor(t, 90*time.Second)

	start := time.Now()
	recvErr := make(chan error, 1)
	go func() {
		for i, want := range msgs {
			typ, got, err := c.Receive(ctx)
			if err != nil {
				recvErr <- err
				return
			}
			if typ != want.typ || !bytes.Equal(got, want.data) {
				recvErr <- mismatch(i, want, typ, got)
				return
			}
		}
		recvErr <- nil
	}()
	for i, m := range msgs {
		if err := c.Send(ctx, m.typ, m.data); err != nil {
			t.Fatalf("Send #%d (%d bytes): %v", i, len(m.data), err)
		}
	}
	if err := <-recvErr; err != nil {
		t.Fatalf("echo: %v", err)
	}
	elapsed := time.Since(start)
	t.Logf("%d messages, %d bytes each way, in %v", len(msgs), total, elapsed.Round(time.Millisecond))

	snap := peer.WaitStats(t, src, key, 10*time.Second, "all messages received", func(s peer.Stats) bool {
		return s.Messages >= len(msgs)
	})
	s := snap.Stats
	if s.Messages != len(msgs) || s.Bytes != total || s.Connections != 1 {
		t.Errorf("server saw %d messages, %d bytes, %d connections; want %d, %d, 1",
			s.Messages, s.Bytes, s.Connections, len(msgs), total)
	}
	if d, _ := rec.count(); d != 0 {
		t.Errorf("client reported %d disconnects during the echo: %v", d, rec.all())
	}
}

// mismatch describes an echo that differs from what was sent.
func mismatch(i int, want testMessage, typ ws.MessageType, got []byte) error {
	first := -1
	for k := 0; k < len(got) && k < len(want.data); k++ {
		if got[k] != want.data[k] {
			first = k
			break
		}
	}
	return fmt.Errorf("message #%d: got %v %d bytes, want %v %d bytes (first differing byte at %d)",
		i, typ, len(got), want.typ, len(want.data), first)
}

// TestEcho sends 10,000 messages of mixed sizes and types over each peer and
// checks every echo byte for byte, and the server's message and byte counts.
func TestEcho(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		runEcho(t, n.URL("/echo?id=echo-node"), n, "echo-node")
	})
	t.Run("python", func(t *testing.T) {
		leakCheck(t)
		p := peer.StartPython(t, peer.PythonOptions{})
		runEcho(t, p.URL("/echo?id=echo-python"), p, "echo-python")
	})
	t.Run("nginx-node", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		ng := peer.StartNginx(t, n.Addr())
		runEcho(t, ng.URL("/echo?id=echo-nginx"), ng, "echo-nginx")
	})
	t.Run("toxiproxy-node", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		x := peer.StartToxiproxy(t, n.Addr())
		// A slow, chopped-up, jittery network: every frame arrives in
		// pieces, late, and through a bandwidth limit.
		x.Add(t, peer.Toxic{Name: "latency", Type: "latency", Stream: "downstream",
			Attributes: map[string]any{"latency": 5, "jitter": 5}})
		x.Add(t, peer.Toxic{Name: "slicer-up", Type: "slicer", Stream: "upstream",
			Attributes: map[string]any{"average_size": 700, "size_variation": 600, "delay": 20}})
		x.Add(t, peer.Toxic{Name: "slicer-down", Type: "slicer", Stream: "downstream",
			Attributes: map[string]any{"average_size": 1500, "size_variation": 1400, "delay": 0}})
		x.Add(t, peer.Toxic{Name: "bandwidth", Type: "bandwidth", Stream: "downstream",
			Attributes: map[string]any{"rate": 40000}})
		runEcho(t, x.URL("/echo?id=echo-toxi"), x, "echo-toxi")
	})
}

// TestToxiproxyDisableEnable drops every connection by disabling the proxy,
// keeps it refused for a while, and checks the client comes back once the
// proxy is enabled, with traffic flowing again.
func TestToxiproxyDisableEnable(t *testing.T) {
	leakCheck(t)
	n := peer.StartNode(t, peer.NodeOptions{})
	x := peer.StartToxiproxy(t, n.Addr())
	rec := newRecorder()
	c := dial(t, x.URL("/echo?id=toggle"), rec)
	roundTrip(t, c, ws.TextMessage, []byte("before"))

	x.Disable()
	e := rec.nextDisconnect(t, 5*time.Second)
	if e.D.Code != ws.CloseAbnormalClosure || e.A != ws.Reconnect {
		t.Errorf("proxy disabled: got %s, want code 1006 and Reconnect", describe(e))
	}
	// While the proxy is off, dials are refused: each is one more disconnect
	// with Code 0 and a network error, and a reconnect decision.
	e = rec.nextDisconnect(t, 5*time.Second)
	if e.D.Code != 0 || e.D.StatusCode != 0 || e.A != ws.Reconnect || e.D.Err == nil {
		t.Errorf("dial while disabled: got %s, want a network error and Reconnect", describe(e))
	}
	ctx := ctxFor(t, 10*time.Second)
	if err := c.Send(ctx, ws.TextMessage, []byte("queued while the proxy is off")); err != nil {
		t.Fatalf("Send while disconnected: %v", err)
	}
	x.Enable(t)
	waitConnected(t, c, 5*time.Second)
	typ, got, err := c.Receive(ctx)
	if err != nil || typ != ws.TextMessage || string(got) != "queued while the proxy is off" {
		t.Fatalf("queued message echo: %v %q %v", typ, got, err)
	}
	roundTrip(t, c, ws.BinaryMessage, []byte{1, 2, 3})
	peer.WaitStats(t, x, "toggle", 5*time.Second, "two connections, three messages", func(s peer.Stats) bool {
		return s.Connections == 2 && s.Messages == 3
	})
}
