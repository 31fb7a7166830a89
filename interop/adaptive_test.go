package interop

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// chunks splits data into parts of at most limit bytes; the peers' record
// of received text messages, joined, gives the message back.
func chunks(data []byte, limit int) ([][]byte, error) {
	var parts [][]byte
	for len(data) > limit {
		parts, data = append(parts, data[:limit]), data[limit:]
	}
	return append(parts, data), nil
}

// TestSplitterOnNatural1009: a message over the peer's own limit is refused
// with the peer's natural 1009, then arrives in parts, whole and in order;
// the next large message is split at once. Neither peer names its limit in
// the close reason (ws says "Max payload size exceeded", websockets 10.4
// sends none), so the client finds a limit that fits by halving.
func TestSplitterOnNatural1009(t *testing.T) {
	cases := []struct {
		name      string
		path      string
		src       func(t *testing.T) *peer.Process
		wantLimit func(int) bool
	}{
		{"node-maxPayload", "/maxpayload?max=1024&id=split&record=1", func(t *testing.T) *peer.Process {
			return peer.StartNode(t, peer.NodeOptions{})
		}, func(n int) bool { return n > 0 && n <= peerLimit }},
		{"python-max_size", "/maxsize?max=1024&id=split&record=1", func(t *testing.T) *peer.Process {
			return peer.StartPython(t, peer.PythonOptions{})
		}, func(n int) bool { return n > 0 && n <= peerLimit }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			p := tc.src(t)
			rec := newRecorder()
			var dropped atomic.Int32
			c := dial(t, p.URL(tc.path), rec,
				ws.WithSplitter(chunks),
				ws.WithOnDropped(func(ws.MessageType, []byte, error) { dropped.Add(1) }))
			go func() { // drain the echoes
				for {
					if _, _, err := c.Receive(ctxFor(t, time.Minute)); err != nil {
						return
					}
				}
			}()
			first := []byte(strings.Repeat("0123456789", 500))  // 5000 bytes
			second := []byte(strings.Repeat("abcdefghij", 300)) // 3000 bytes
			ctx := ctxFor(t, 20*time.Second)
			if err := c.Send(ctx, ws.TextMessage, first); err != nil {
				t.Fatal(err)
			}
			e := rec.nextDisconnect(t, 5*time.Second)
			// Refused is nil when the peer closed while the message was
			// still being written; it stays queued then.
			if e.D.Code != ws.CloseMessageTooBig || e.A != ws.Shrink || (e.D.Refused != nil && len(e.D.Refused) != len(first)) {
				t.Fatalf("got %s with %d refused bytes, want the peer's 1009, Shrink and the 5000-byte message back", describe(e), len(e.D.Refused))
			}
			want := string(first)
			snap := peer.WaitStats(t, p, "split", 15*time.Second, "the first message, in parts", func(s peer.Stats) bool {
				return len(strings.Join(s.Record, "")) >= len(want)
			})
			waitConnected(t, c, 5*time.Second)
			if limit := c.Stats().OutboundLimit; !tc.wantLimit(limit) {
				t.Errorf("learned limit %d", limit)
			}
			if err := c.Send(ctx, ws.TextMessage, second); err != nil {
				t.Fatal(err)
			}
			want += string(second)
			snap = peer.WaitStats(t, p, "split", 15*time.Second, "both messages, in parts", func(s peer.Stats) bool {
				return len(strings.Join(s.Record, "")) >= len(want)
			})
			if got := strings.Join(snap.Stats.Record, ""); got != want {
				t.Errorf("the peer reassembles %d bytes that differ from the %d sent", len(got), len(want))
			}
			for _, part := range snap.Stats.Record {
				if len(part) > peerLimit {
					t.Errorf("a part of %d bytes passed the peer's limit", len(part))
				}
			}
			if n := dropped.Load(); n != 0 {
				t.Errorf("%d messages dropped, want none", n)
			}
			t.Logf("%s: %d parts, %d connections, learned limit %d",
				tc.name, len(snap.Stats.Record), snap.Stats.Connections, c.Stats().OutboundLimit)
		})
	}
}
