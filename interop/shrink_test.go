package interop

import (
	"errors"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// peerLimit is the message size limit the peers are started with.
const peerLimit = 1024

// TestShrinkOnNatural1009 sends a message over the peer's own size limit
// (ws maxPayload, websockets max_size). The peer closes with 1009 by itself;
// the client shrinks its outbound limit below the refused size, reconnects,
// keeps sending smaller messages on the new connection, and fails larger
// ones at once with ErrMessageTooBig without touching the connection.
func TestShrinkOnNatural1009(t *testing.T) {
	cases := []struct {
		name string
		path string
		key  string
		src  func(t *testing.T) *peer.Process
	}{
		{"node-maxPayload", "/maxpayload?max=1024&id=shrink", "shrink", func(t *testing.T) *peer.Process {
			return peer.StartNode(t, peer.NodeOptions{})
		}},
		{"python-max_size", "/maxsize?max=1024&id=shrink", "shrink", func(t *testing.T) *peer.Process {
			return peer.StartPython(t, peer.PythonOptions{})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			p := tc.src(t)
			rec := newRecorder()
			c := dial(t, p.URL(tc.path), rec)
			small := make([]byte, peerLimit/2)
			roundTrip(t, c, ws.BinaryMessage, small)

			refused := make([]byte, 2*peerLimit)
			ctx := ctxFor(t, 20*time.Second)
			if err := c.Send(ctx, ws.BinaryMessage, refused); err != nil {
				t.Fatalf("Send of the message the peer will refuse: %v", err)
			}
			e := rec.nextDisconnect(t, 5*time.Second)
			if e.D.Code != ws.CloseMessageTooBig || e.D.Local || e.A != ws.Shrink {
				t.Fatalf("peer's 1009: got %s, want code 1009 from the peer and Shrink", describe(e))
			}
			waitConnected(t, c, 5*time.Second)

			// Smaller messages go through on the new connection.
			for i := 0; i < 50; i++ {
				size := 1 + (i*97)%peerLimit
				roundTrip(t, c, ws.BinaryMessage, make([]byte, size))
			}
			// Larger ones fail fast, and the connection stays.
			for _, size := range []int{2 * peerLimit, 4 * peerLimit, 1 << 20} {
				start := time.Now()
				err := c.Send(ctx, ws.BinaryMessage, make([]byte, size))
				took := time.Since(start)
				if !errors.Is(err, ws.ErrMessageTooBig) {
					t.Errorf("Send(%d bytes) after the shrink = %v, want ErrMessageTooBig", size, err)
				}
				if took > 50*time.Millisecond {
					t.Errorf("Send(%d bytes) took %v to fail, want fast", size, took)
				}
			}
			roundTrip(t, c, ws.TextMessage, []byte("connection still up"))
			if st := c.State(); st != ws.StateConnected {
				t.Errorf("state %v after the fast failures, want connected", st)
			}
			snap := peer.WaitStats(t, p, tc.key, 5*time.Second, "all small messages received", func(s peer.Stats) bool {
				return s.Messages == 1+50+1
			})
			if s := snap.Stats; s.Connections != 2 || s.Open != 1 {
				t.Errorf("server saw %d connections (%d open), want 2 (1 open): one 1009, no more", s.Connections, s.Open)
			}
			if d, _ := rec.count(); d != 1 {
				t.Errorf("%d disconnects, want 1: %v", d, rec.all())
			}
		})
	}
}
