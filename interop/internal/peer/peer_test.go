package peer

import (
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// These tests check the peers themselves with a plain gorilla client, so a
// failure here points at the harness or a peer, not at the SDK.

var dialer = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}

func echoOnce(t *testing.T, url string) {
	t.Helper()
	c, _, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := c.ReadMessage()
	if err != nil || typ != websocket.TextMessage || string(msg) != "hello" {
		t.Fatalf("echo: %v %q %v", typ, msg, err)
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
}

func closeCode(t *testing.T, url string) int {
	t.Helper()
	c, _, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_ = c.WriteMessage(websocket.TextMessage, []byte("x"))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		return -1
	}
}

func TestNodePeer(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	echoOnce(t, n.URL("/echo?id=self"))
	if got := closeCode(t, n.URL("/close?code=4001&after=1")); got != 4001 {
		t.Errorf("close code %d, want 4001", got)
	}
	if got := closeCode(t, n.URL("/close?code=1014&after=1")); got != 1014 && got != -1 {
		t.Errorf("close code %d, want 1014 (or gorilla's refusal)", got)
	}
	_, resp, err := dialer.Dial(n.URL("/refuse?status=429&retry=2"), nil)
	if err == nil || resp == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("refuse: err=%v resp=%v", err, resp)
	}
	WaitStats(t, n, "self", 5*time.Second, "one echo", func(s Stats) bool {
		return s.Connections == 1 && s.Messages == 1 && s.Open == 0
	})

	port, pid := n.Port, n.PID()
	n.Kill(syscall.SIGKILL)
	n.Restart(t)
	if n.Port != port || n.PID() == pid {
		t.Fatalf("restart: port %d pid %d, want port %d and a new pid", n.Port, n.PID(), port)
	}
	echoOnce(t, n.URL("/echo?id=self"))
	n.Kill(syscall.SIGTERM)
	n.Restart(t)
	echoOnce(t, n.URL("/echo"))
}

func TestPythonPeer(t *testing.T) {
	p := StartPython(t, PythonOptions{})
	echoOnce(t, p.URL("/echo?id=self"))
	if got := closeCode(t, p.URL("/close?code=4002&after=1")); got != 4002 {
		t.Errorf("close code %d, want 4002", got)
	}
	if got := closeCode(t, p.URL("/maxsize?max=0")); got != 1009 {
		t.Errorf("close code %d, want 1009", got)
	}
	WaitStats(t, p, "self", 5*time.Second, "one echo", func(s Stats) bool {
		return s.Connections == 1 && s.Messages == 1
	})
	p.Kill(syscall.SIGTERM)
	p.Restart(t)
	echoOnce(t, p.URL("/echo"))
}

func TestNginxPeer(t *testing.T) {
	upPort := FreePort(t)
	ng := StartNginx(t, "127.0.0.1:"+strconv.Itoa(upPort))
	_, resp, err := dialer.Dial(ng.URL("/echo"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("upstream down: err=%v resp=%v, want 502", err, resp)
	}
	n := StartNode(t, NodeOptions{Port: upPort})
	echoOnce(t, ng.URL("/echo?id=ng"))
	if got := closeCode(t, ng.URL("/close?code=4003&after=1")); got != 4003 {
		t.Errorf("close code through nginx %d, want 4003", got)
	}
	ng.Reload(t)
	echoOnce(t, ng.URL("/echo?id=ng"))
	WaitStats(t, n, "ng", 5*time.Second, "two echoes", func(s Stats) bool { return s.Connections == 2 })
}

func TestToxiproxyPeer(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	x := StartToxiproxy(t, n.Addr())
	echoOnce(t, x.URL("/echo?id=tx"))
	x.Add(t, Toxic{Name: "lat", Type: "latency", Stream: "downstream", Attributes: map[string]any{"latency": 50}})
	start := time.Now()
	echoOnce(t, x.URL("/echo?id=tx"))
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("latency toxic: echo took %v", d)
	}
	x.Remove(t, "lat")
	x.Disable()
	if _, _, err := dialer.Dial(x.URL("/echo"), nil); err == nil {
		t.Error("dial through a disabled proxy succeeded")
	}
	x.Enable(t)
	echoOnce(t, x.URL("/echo?id=tx"))
	WaitStats(t, x, "tx", 5*time.Second, "three echoes", func(s Stats) bool { return s.Connections == 3 })
}
