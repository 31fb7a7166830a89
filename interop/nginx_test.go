package interop

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// idleFor is how long the idle connection must survive behind nginx's 2 s
// proxy_read_timeout.
var idleFor = durationEnv("INTEROP_NGINX_IDLE", 10*time.Second)

// TestNginxIdleTimeout: nginx cuts an upgraded connection on which the
// upstream sent nothing for proxy_read_timeout (2 s). With a 500 ms
// heartbeat the server's pongs keep it alive for 10 s; without a heartbeat
// it is cut after about 2 s and the client reconnects.
func TestNginxIdleTimeout(t *testing.T) {
	leakCheck(t)
	t.Run("heartbeat-keeps-it-up", func(t *testing.T) {
		t.Parallel()
		n := peer.StartNode(t, peer.NodeOptions{})
		ng := peer.StartNginx(t, n.Addr())
		rec := newRecorder()
		c := dial(t, ng.URL("/echo?id=idle-hb"), rec, ws.WithHeartbeat(500*time.Millisecond, 1500*time.Millisecond))
		roundTrip(t, c, ws.TextMessage, []byte("then silence"))
		rec.noDisconnect(t, idleFor)
		roundTrip(t, c, ws.TextMessage, []byte("same connection, after the idle period"))
		s := peer.ReadStats(t, n, "idle-hb").Stats
		if s.Connections != 1 || s.Open != 1 {
			t.Errorf("server saw %d connections (%d open), want the first one still open", s.Connections, s.Open)
		}
		if wantPings := int(idleFor / time.Second); s.Pings < wantPings {
			t.Errorf("server saw %d pings in %v, want at least %d", s.Pings, idleFor, wantPings)
		} else {
			t.Logf("idle %v through nginx: 1 connection, %d pings seen by the server", idleFor, s.Pings)
		}
	})
	t.Run("no-heartbeat-cut-and-reconnect", func(t *testing.T) {
		t.Parallel()
		n := peer.StartNode(t, peer.NodeOptions{})
		ng := peer.StartNginx(t, n.Addr())
		rec := newRecorder()
		c := dial(t, ng.URL("/echo?id=idle-nohb"), rec, ws.WithHeartbeat(0, 0))
		start := time.Now()
		roundTrip(t, c, ws.TextMessage, []byte("then silence"))
		e := rec.nextDisconnect(t, peer.NginxReadTimeout+5*time.Second)
		took := e.At.Sub(start)
		if e.D.Code != ws.CloseAbnormalClosure || e.A != ws.Reconnect {
			t.Errorf("cut by nginx: got %s, want code 1006 and Reconnect", describe(e))
		}
		if took < peer.NginxReadTimeout-100*time.Millisecond || took > peer.NginxReadTimeout+schedulingSlack+time.Second {
			t.Errorf("cut after %v, want about the proxy_read_timeout %v", took, peer.NginxReadTimeout)
		} else {
			t.Logf("cut by nginx after %v of silence", took.Round(time.Millisecond))
		}
		waitConnected(t, c, 5*time.Second)
		roundTrip(t, c, ws.TextMessage, []byte("reconnected"))
		peer.WaitStats(t, n, "idle-nohb", 5*time.Second, "a second connection", func(s peer.Stats) bool {
			return s.Connections == 2 && s.Open == 1
		})
	})
}

// TestNginxReload: SIGHUP (what `nginx -s reload` sends) starts new workers;
// the old one cuts its connections after worker_shutdown_timeout (1 s). The
// client reconnects through the new worker and traffic goes on.
func TestNginxReload(t *testing.T) {
	leakCheck(t)
	n := peer.StartNode(t, peer.NodeOptions{})
	ng := peer.StartNginx(t, n.Addr())
	rec := newRecorder()
	c := dial(t, ng.URL("/echo?id=reload"), rec, ws.WithHeartbeat(500*time.Millisecond, 1500*time.Millisecond))
	roundTrip(t, c, ws.TextMessage, []byte("before reload"))
	ng.Reload(t)
	e := rec.nextDisconnect(t, 10*time.Second)
	if e.A != ws.Reconnect {
		t.Errorf("cut by the old worker: got %s, want Reconnect", describe(e))
	}
	waitConnected(t, c, 5*time.Second)
	roundTrip(t, c, ws.TextMessage, []byte("after reload"))
	peer.WaitStats(t, n, "reload", 5*time.Second, "a second connection", func(s peer.Stats) bool {
		return s.Connections == 2 && s.Open == 1 && s.Messages == 2
	})
}

// TestNginxBadGateway: with the upstream down nginx answers the upgrade with
// 502, a reconnect row; once the upstream starts on its port the client
// connects through nginx.
func TestNginxBadGateway(t *testing.T) {
	leakCheck(t)
	upPort := peer.FreePort(t)
	ng := peer.StartNginx(t, "127.0.0.1:"+strconv.Itoa(upPort))
	rec := newRecorder()
	c := newClient(t, ng.URL("/echo?id=502"), rec)
	for i := 1; i <= 2; i++ {
		e := rec.nextDisconnect(t, 5*time.Second)
		if e.D.StatusCode != http.StatusBadGateway || e.A != ws.Reconnect {
			t.Errorf("upstream down, attempt %d: got %s, want status 502 and Reconnect", i, describe(e))
		}
	}
	n := peer.StartNode(t, peer.NodeOptions{Port: upPort})
	waitConnected(t, c, 5*time.Second)
	roundTrip(t, c, ws.TextMessage, []byte("upstream is back"))
	peer.WaitStats(t, n, "502", 5*time.Second, "one connection", func(s peer.Stats) bool {
		return s.Connections == 1 && s.Messages == 1
	})
}

// TestNginxPassesCloseFrames: close frames from the upstream reach the
// client through nginx with code and reason intact, and the policy acts on
// them: 4001 reconnects, 1008 aborts with the code in Err().
func TestNginxPassesCloseFrames(t *testing.T) {
	leakCheck(t)
	n := peer.StartNode(t, peer.NodeOptions{})
	ng := peer.StartNginx(t, n.Addr())

	rec := newRecorder()
	c := dial(t, ng.URL("/close?code=4001&reason=see+you&after=1&id=nginx-4001"), rec)
	ctx := ctxFor(t, 10*time.Second)
	if err := c.Send(ctx, ws.TextMessage, []byte("trigger")); err != nil {
		t.Fatal(err)
	}
	e := rec.nextDisconnect(t, 5*time.Second)
	if e.D.Code != 4001 || e.D.Reason != "see you" || e.A != ws.Reconnect {
		t.Errorf("4001 through nginx: got %s, want code 4001, reason \"see you\", Reconnect", describe(e))
	}
	waitConnected(t, c, 5*time.Second)
	peer.WaitStats(t, n, "nginx-4001", 5*time.Second, "a second connection", func(s peer.Stats) bool {
		return s.Connections == 2
	})

	rec = newRecorder()
	c = newClient(t, ng.URL("/close?code=1008&reason=go+away&after=0&id=nginx-1008"), rec)
	waitDone(t, c, 10*time.Second)
	var ce *ws.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != ws.ClosePolicyViolation || ce.Reason != "go away" {
		t.Errorf("Err() = %v, want a *CloseError with code 1008 and reason \"go away\"", c.Err())
	}
	if s := peer.ReadStats(t, n, "nginx-1008").Stats; s.Connections != 1 {
		t.Errorf("server saw %d connections after an abort, want 1", s.Connections)
	}
}
