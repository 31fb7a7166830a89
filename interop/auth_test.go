package interop

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// TestHeaderFuncRetriesOnceAgainstARealPeer: a Node peer refuses every
// upgrade with 401; with a header func the client asks for fresh headers
// once more, tries exactly once again, and aborts with the 401.
func TestHeaderFuncRetriesOnceAgainstARealPeer(t *testing.T) {
	leakCheck(t)
	p := peer.StartNode(t, peer.NodeOptions{})
	var calls atomic.Int32
	c := newClient(t, p.URL("/refuse?status=401&id=auth"), nil,
		ws.WithHeaderFunc(func(context.Context) (http.Header, error) {
			calls.Add(1)
			return http.Header{"Authorization": {"Bearer fresh"}}, nil
		}))
	waitDone(t, c, 10*time.Second)
	if got := handshakeStatus(c.Err()); got != http.StatusUnauthorized {
		t.Fatalf("Err() = %v, want the peer's 401", c.Err())
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("header func called %d times, want 2 (the attempt and one retry)", n)
	}
	snap := peer.ReadStats(t, p, "auth")
	if snap.Stats.Refused != 2 || snap.Stats.Connections != 0 {
		t.Errorf("peer refused %d upgrades and accepted %d, want 2 and 0", snap.Stats.Refused, snap.Stats.Connections)
	}
}

// TestEndpointFailoverToARealPeer: nothing listens at the first endpoint;
// the client moves on to the Python peer and works there.
func TestEndpointFailoverToARealPeer(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + ln.Addr().String() + "/"
	ln.Close()
	p := peer.StartPython(t, peer.PythonOptions{})
	rec := newRecorder()
	c := newClient(t, dead, rec, ws.WithURLs(p.URL("/echo?id=failover")))
	waitConnected(t, c, 10*time.Second)
	first := rec.nextDisconnect(t, 5*time.Second)
	if first.D.URL != dead || first.D.Code != 0 {
		t.Fatalf("first disconnect %s on %q, want a refused attempt on the dead endpoint", describe(first), first.D.URL)
	}
	roundTrip(t, c, ws.TextMessage, []byte("via the second endpoint"))
	if got := c.Stats().URL; got != p.URL("/echo") {
		t.Errorf("Stats().URL = %q, want the Python peer", got)
	}
}
