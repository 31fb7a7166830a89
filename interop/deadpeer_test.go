package interop

import (
	"strconv"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// Heartbeat used by the dead-peer tests, and the bound within which a dead
// peer must be declared: at most one interval until the next ping, plus the
// pong timeout.
const (
	hbInterval = 200 * time.Millisecond
	hbTimeout  = 600 * time.Millisecond
	hbBound    = hbInterval + hbTimeout
)

// TestDeadPeerDetected covers peers that stop answering without closing
// anything: the client must declare the connection dead within the
// heartbeat bound (code 1006, Local) and reconnect.
func TestDeadPeerDetected(t *testing.T) {
	heartbeat := ws.WithHeartbeat(hbInterval, hbTimeout)

	// expectDeadWithin waits for the disconnect and checks its timing.
	expectDeadWithin := func(t *testing.T, rec *recorder, since time.Time) {
		t.Helper()
		e := rec.nextDisconnect(t, hbBound+5*time.Second)
		took := e.At.Sub(since)
		if e.D.Code != ws.CloseAbnormalClosure || e.A != ws.Reconnect {
			t.Errorf("dead peer: got %s, want code 1006 and Reconnect", describe(e))
		}
		if took > hbBound+schedulingSlack {
			t.Errorf("dead peer declared after %v, want within %v (+%v slack)", took, hbBound, schedulingSlack)
		} else {
			t.Logf("dead peer declared after %v (bound %v)", took.Round(time.Millisecond), hbBound)
		}
	}

	// Blackhole: a toxiproxy timeout toxic with timeout 0 swallows all data
	// both ways and never closes anything.
	t.Run("toxiproxy-blackhole", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		x := peer.StartToxiproxy(t, n.Addr())
		rec := newRecorder()
		c := dial(t, x.URL("/echo?id=blackhole"), rec, heartbeat, ws.WithHandshakeTimeout(500*time.Millisecond))
		roundTrip(t, c, ws.TextMessage, []byte("alive"))

		start := time.Now()
		x.Add(t, peer.Toxic{Name: "bh-up", Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}})
		x.Add(t, peer.Toxic{Name: "bh-down", Type: "timeout", Stream: "downstream", Attributes: map[string]any{"timeout": 0}})
		expectDeadWithin(t, rec, start)
		// While the blackhole stays, handshakes time out: still reconnecting.
		e := rec.nextDisconnect(t, 5*time.Second)
		if e.A != ws.Reconnect || e.D.StatusCode != 0 {
			t.Errorf("handshake into the blackhole: got %s, want a network error and Reconnect", describe(e))
		}
		x.Remove(t, "bh-up")
		x.Remove(t, "bh-down")
		waitConnected(t, c, 5*time.Second)
		roundTrip(t, c, ws.TextMessage, []byte("back"))
		peer.WaitStats(t, x, "blackhole", 5*time.Second, "a second WebSocket connection", func(s peer.Stats) bool {
			return s.Connections == 2
		})
	})

	// The Node peer accepts and echoes but never answers a ping.
	t.Run("node-never-pongs", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		rec := newRecorder()
		start := time.Now()
		c := dial(t, n.URL("/nopong?id=nopong"), rec, heartbeat)
		roundTrip(t, c, ws.TextMessage, []byte("echo works, pongs do not"))
		expectDeadWithin(t, rec, start)
		snap := peer.WaitStats(t, n, "nopong", 5*time.Second, "a second connection", func(s peer.Stats) bool {
			return s.Connections >= 2
		})
		if snap.Stats.Pings < 1 {
			t.Errorf("server saw %d pings, want at least 1", snap.Stats.Pings)
		}
		waitConnected(t, c, 5*time.Second)
	})

	// The Node peer accepts, then stops reading its socket.
	t.Run("node-stops-reading", func(t *testing.T) {
		leakCheck(t)
		n := peer.StartNode(t, peer.NodeOptions{})
		rec := newRecorder()
		start := time.Now()
		c := newClient(t, n.URL("/stopread?id=stopread"), rec, heartbeat)
		waitConnected(t, c, 10*time.Second)
		// Fill the pipe: sends may block once the socket buffers are full,
		// but each is bounded by its context.
		ctx := ctxFor(t, hbBound+5*time.Second)
		go func() {
			buf := make([]byte, 64*1024)
			for ctx.Err() == nil {
				if err := c.Send(ctx, ws.BinaryMessage, buf); err != nil {
					return
				}
			}
		}()
		expectDeadWithin(t, rec, start)
		peer.WaitStats(t, n, "stopread", 5*time.Second, "a second connection", func(s peer.Stats) bool {
			return s.Connections >= 2
		})
	})

	// The peer stops reading while the client writes the messages it queued
	// during an outage: the flush after the reconnect blocks on a full
	// socket. The heartbeat must still declare the peer dead (and Close must
	// still return, which the cleanup checks).
	t.Run("node-stops-reading-during-queue-flush", func(t *testing.T) {
		leakCheck(t)
		port := peer.FreePort(t)
		rec := newRecorder()
		// The queue's byte bound (8 MiB by default) is raised to hold it all.
		c := newClient(t, "ws://127.0.0.1:"+strconv.Itoa(port)+"/stopread?id=flush", rec, heartbeat, ws.WithSendBufferBytes(32<<20))
		rec.nextDisconnect(t, 5*time.Second) // connection refused: the client now queues
		ctx := ctxFor(t, 10*time.Second)
		big := make([]byte, 64<<10)
		// 24 MiB: more than loopback socket buffers on both sides take.
		for i := 0; i < 384; i++ {
			if err := c.Send(ctx, ws.BinaryMessage, big); err != nil {
				t.Fatalf("Send #%d while disconnected: %v", i, err)
			}
		}
		n := peer.StartNode(t, peer.NodeOptions{Port: port})
		snap := peer.WaitStats(t, n, "flush", 10*time.Second, "the client connected", func(s peer.Stats) bool {
			return s.Connections >= 1
		})
		connected := snap.ConnectedAt(0)
		timeout := time.NewTimer(hbBound + 5*time.Second)
		defer timeout.Stop()
		for {
			var e event
			select {
			case e = <-rec.discCh:
			case <-timeout.C:
				t.Fatalf("peer stopped reading during the queue flush: no disconnect within %v (state %v); client goroutines:\n%s",
					hbBound+5*time.Second, c.State(), clientStacks())
			}
			if e.At.Before(connected) {
				continue // a refused dial from before the peer started
			}
			took := e.At.Sub(connected)
			if e.D.Code != ws.CloseAbnormalClosure || e.A != ws.Reconnect {
				t.Errorf("peer stopped reading during the flush: got %s, want code 1006 and Reconnect", describe(e))
			}
			if took > hbBound+schedulingSlack {
				t.Errorf("dead peer declared %v after the connection, want within %v (+%v slack)", took, hbBound, schedulingSlack)
			}
			break
		}
	})

	// The Python peer's own keepalive: it pings every 300 ms and closes with
	// 1011 when a pong is 600 ms late. Our client (heartbeat off) answers
	// the pings, so an idle connection stays up; once toxiproxy swallows the
	// client-to-server direction, the pongs stop arriving and the server
	// closes with 1011, which the client takes as a reconnect.
	t.Run("python-keepalive", func(t *testing.T) {
		leakCheck(t)
		p := peer.StartPython(t, peer.PythonOptions{PingInterval: 300 * time.Millisecond, PingTimeout: 600 * time.Millisecond})
		x := peer.StartToxiproxy(t, p.Addr())
		rec := newRecorder()
		c := dial(t, x.URL("/echo?id=keepalive"), rec, ws.WithHeartbeat(0, 0), ws.WithHandshakeTimeout(500*time.Millisecond))
		rec.noDisconnect(t, 2*time.Second)
		roundTrip(t, c, ws.TextMessage, []byte("still here after 2s of server pings"))
		if s := peer.ReadStats(t, p, "keepalive").Stats; s.Connections != 1 || s.Open != 1 {
			t.Fatalf("server: %d connections, %d open; want the first one still open", s.Connections, s.Open)
		}

		x.Add(t, peer.Toxic{Name: "no-pongs", Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}})
		e := rec.nextDisconnect(t, 5*time.Second)
		if e.D.Code != ws.CloseInternalServerErr || e.A != ws.Reconnect {
			t.Errorf("server keepalive timeout: got %s, want code 1011 and Reconnect", describe(e))
		}
		x.Remove(t, "no-pongs")
		waitConnected(t, c, 5*time.Second)
		roundTrip(t, c, ws.TextMessage, []byte("reconnected"))
		// websockets records 1006 for the connection it failed itself: the
		// client's answering close frame was swallowed by the blackhole.
		peer.WaitStats(t, p, "keepalive", 5*time.Second, "first connection ended, second open", func(s peer.Stats) bool {
			return s.Connections == 2 && s.Open == 1 && s.CloseCodes["1006"] == 1
		})
	})
}
