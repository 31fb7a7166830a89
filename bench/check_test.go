package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsreconnect/wsreconnect"
)

// These checks guard the cost targets without depending on timing: they
// count allocations and goroutines, so they are safe to run in CI
// (go test -short ./...). The echo server runs in its own process, so the
// counts are the client's alone.

// TestSendAllocs: a Send on a connected Client allocates at most one object
// more than gorilla's WriteMessage, for each message size. The server reads
// and drops (path /discard), so nothing is received meanwhile.
func TestSendAllocs(t *testing.T) {
	p := sharedPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ws, err := rawDial(ctx, p.url("/discard"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c, err := wsreconnect.Dial(ctx, p.url("/discard"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, sz := range sizes {
		payload := make([]byte, sz.n)
		raw := testing.AllocsPerRun(200, func() {
			if err := ws.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				t.Fatal(err)
			}
		})
		client := testing.AllocsPerRun(200, func() {
			if err := c.Send(ctx, wsreconnect.BinaryMessage, payload); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("size=%s: allocs per message: gorilla %.0f, wsreconnect %.0f", sz.name, raw, client)
		if client > raw+1 {
			t.Errorf("size=%s: Send allocates %.0f objects per message, gorilla %.0f: more than one extra", sz.name, client, raw)
		}
	}
}

// TestIdleGoroutines: an idle connected Client runs at most 2 goroutines
// (the target; a hand-rolled gorilla client needs a reader and a pinger).
func TestIdleGoroutines(t *testing.T) {
	const n = 50
	p := sharedPeer(t)
	_, g0 := gcStats()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*wsreconnect.Client, 0, n)
	defer func() { closeAll(toIdle(clients)) }()
	for range n {
		c, err := wsreconnect.Dial(ctx, p.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	// Goroutines that only helped to dial may still be ending: wait for the
	// count to come down, with a deadline.
	got := waitGoroutines(g0+2*n, 10*time.Second) - g0
	t.Logf("%d idle clients: %d goroutines (%.2f per client)", n, got, float64(got)/n)
	if got > 2*n {
		t.Errorf("%d idle clients run %d goroutines, want at most %d", n, got, 2*n)
	}
}

// TestReconnectNoLeak: after 20 forced reconnections the Client holds no
// more goroutines than after its first connection.
func TestReconnectNoLeak(t *testing.T) {
	p := startPeer(t)
	gd, hd, err := reconnectLeak(t, p, leakWarmup, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 20 reconnections: %+d goroutines, %+d heap bytes", gd, hd)
	if gd > 0 {
		t.Errorf("%d goroutines more than after the first connection", gd)
	}
}
