package interop

import (
	"context"
	"syscall"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// TestConnReceiveLogin: an OnConnect hook that sends "login" and waits with
// Conn.Receive for the peer's answer (the echo peers answer "login") before
// the queue is written. After a SIGKILL, a message queued while the peer is
// down must reach the restarted peer after the new login, and its echo must
// come to Client.Receive while the login's echo went to Conn.Receive only.
func TestConnReceiveLogin(t *testing.T) {
	for _, name := range []string{"node", "python"} {
		t.Run(name, func(t *testing.T) {
			leakCheck(t)
			var p *peer.Process
			if name == "node" {
				p = peer.StartNode(t, peer.NodeOptions{})
			} else {
				p = peer.StartPython(t, peer.PythonOptions{})
			}
			replies := make(chan string, 8)
			login := func(ctx context.Context, conn *ws.Conn) error {
				if err := conn.Send(ctx, ws.TextMessage, []byte("login")); err != nil {
					return err
				}
				_, data, err := conn.Receive(ctx)
				if err != nil {
					return err
				}
				replies <- string(data)
				return nil
			}
			rec := newRecorder()
			c := dial(t, p.URL("/echo?id=login&record=1"), rec, ws.WithOnConnect(login))
			if got := nextReply(t, replies); got != "login" {
				t.Fatalf("first connection: Conn.Receive got %q, want the peer's answer %q", got, "login")
			}
			peer.WaitStats(t, p, "login", 5*time.Second, "the first login recorded", func(s peer.Stats) bool {
				return len(s.Record) >= 1
			})

			p.Kill(syscall.SIGKILL)
			rec.nextDisconnect(t, 5*time.Second)
			ctx := ctxFor(t, 20*time.Second)
			if err := c.Send(ctx, ws.TextMessage, []byte("queued while down")); err != nil {
				t.Fatalf("Send while the peer is down: %v", err)
			}
			if st := c.State(); st == ws.StateConnected {
				t.Fatalf("state %v while the peer is down", st)
			}
			p.Restart(t)

			if got := nextReply(t, replies); got != "login" {
				t.Fatalf("after the restart: Conn.Receive got %q, want %q", got, "login")
			}
			typ, data, err := c.Receive(ctx)
			if err != nil || typ != ws.TextMessage || string(data) != "queued while down" {
				t.Fatalf("Client.Receive got %v %q %v, want the echo of the queued message (the login's echo belongs to Conn.Receive)", typ, data, err)
			}
			snap := peer.WaitStats(t, p, "login", 5*time.Second, "login and the queued message recorded", func(s peer.Stats) bool {
				return len(s.Record) >= 2
			})
			want := []string{"login", "queued while down"}
			got := snap.Stats.Record
			if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("restarted peer recorded %q, want %q (the queue must be written after the login)", got, want)
			}
			roundTrip(t, c, ws.TextMessage, []byte("after the login"))
		})
	}
}

// nextReply waits for the next answer the login hook received.
func nextReply(t *testing.T, replies <-chan string) string {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case r := <-replies:
		return r
	case <-timer.C:
		t.Fatal("the login hook got no answer within 10s")
		return ""
	}
}
