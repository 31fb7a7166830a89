package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wsreconnect/wsreconnect/wstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// probeRun runs the command with args, bounded by 30 s.
func probeRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// probeJSON runs the command with -json and decodes the report.
func probeJSON(t *testing.T, args ...string) (int, Report, string) {
	t.Helper()
	code, out, errOut := probeRun(t, append([]string{"-json"}, args...)...)
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is no JSON report: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if r.ExitCode != code {
		t.Errorf("exit_code %d, but the command exited %d", r.ExitCode, code)
	}
	return code, r, out
}

func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr + "/"
}

func TestHealthyEchoServer(t *testing.T) {
	s := wstest.NewServer(t)
	code, out, errOut := probeRun(t, "-echo", "-pings", "3", s.URL+"/feed")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"wsprobe " + s.URL + "/feed\n",
		"Handshake     101 Switching Protocols in ",
		"Ping          3 round trips: min ",
		"Echo          3 round trips: min ",
		"Keepalive     the server sent no ping in ",
		"Verdict       healthy (exit 0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestHandshakeDetails(t *testing.T) {
	s := wstest.NewServer(t, wstest.WithUpgrader(websocket.Upgrader{Subprotocols: []string{"v2"}, EnableCompression: true}))
	code, r, _ := probeJSON(t, "-subprotocol", "v1,v2", "-compress", "-pings", "2", s.URL)
	if code != exitOK {
		t.Fatalf("exit %d: %+v", code, r)
	}
	h := r.Handshake
	if h == nil || !h.OK || h.Status != 101 {
		t.Fatalf("handshake %+v, want ok and 101", h)
	}
	if h.Subprotocol != "v2" || h.Compression != "permessage-deflate" || !h.CompressionOffered {
		t.Errorf("negotiated %q, %q (offered %v), want v2 and permessage-deflate", h.Subprotocol, h.Compression, h.CompressionOffered)
	}
	if h.ConnectMs <= 0 || h.UpgradeMs <= 0 || h.TotalMs < h.ConnectMs {
		t.Errorf("timings %+v", h)
	}
	if r.Ping == nil || r.Ping.Count != 2 || r.Ping.MinMs <= 0 || r.Ping.MinMs > r.Ping.MedianMs || r.Ping.MedianMs > r.Ping.P99Ms {
		t.Errorf("ping %+v, want 2 ordered samples", r.Ping)
	}
}

func TestExitCodes(t *testing.T) {
	echo := wstest.NewServer(t)
	refuse401 := wstest.NewServer(t, wstest.RefuseHandshake(1, 401, ""))
	refuse503 := wstest.NewServer(t, wstest.RefuseHandshake(1, 503, "7"))
	policy := wstest.NewServer(t, wstest.Default(wstest.Close(1008, "not allowed")))
	silent := wstest.NewServer(t, wstest.WithoutEcho())
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		verdict string // "" for bad usage
		want    string // in stdout (report) or stderr (usage)
	}{
		{"no URL", nil, exitUsage, "", "want exactly one URL"},
		{"two URLs", []string{echo.URL, echo.URL}, exitUsage, "", "want exactly one URL"},
		{"unknown flag", []string{"-nope", echo.URL}, exitUsage, "", "flag provided but not defined"},
		{"http URL", []string{"http://127.0.0.1/"}, exitUsage, "", "scheme must be ws or wss"},
		{"bad size", []string{"-max-size=lots", echo.URL}, exitUsage, "", "is not a size"},
		{"negative pings", []string{"-pings", "-1", echo.URL}, exitUsage, "", "-pings"},
		{"watch with idle", []string{"-watch", "-idle", echo.URL}, exitUsage, "", "-watch runs alone"},
		{"reserved header", []string{"-H", "Upgrade: x", echo.URL}, exitUsage, "", "set by the handshake"},
		{"healthy", []string{"-pings", "1", echo.URL}, exitOK, verdictHealthy, "Verdict       healthy (exit 0)"},
		{"unreachable", []string{"-timeout", "2s", deadURL(t)}, exitFail, verdictUnreachable, "connection refused"},
		{"refused 401", []string{refuse401.URL}, exitFail, verdictRefused, "401 Unauthorized"},
		{"refused 503", []string{refuse503.URL}, exitFail, verdictRefused, "retry after 7s"},
		{"abort-class close", []string{"-pings", "3", policy.URL}, exitFail, verdictAborted, "1008 (policy violation)"},
		{"probe cannot finish", []string{"-echo", "-pings", "1", "-timeout", "300ms", silent.URL}, exitFail, verdictIncomplete, "no echo within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := probeRun(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.verdict == "" {
				if out != "" || !strings.Contains(errOut, tc.want) {
					t.Errorf("want nothing on stdout and %q on stderr; stdout: %s\nstderr: %s", tc.want, out, errOut)
				}
				return
			}
			if !strings.Contains(out, "Verdict       "+tc.verdict+" (exit ") || !strings.Contains(out, tc.want) {
				t.Errorf("want verdict %s and %q in:\n%s", tc.verdict, tc.want, out)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	code, out, errOut := probeRun(t, "-h")
	if code != exitOK || out != "" || !strings.Contains(errOut, "usage: wsprobe") || !strings.Contains(errOut, "-max-size") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestSizeLimitExactToTheByte(t *testing.T) {
	for _, limit := range []int{1000, 4096, 1} {
		s := wstest.NewServer(t, wstest.Default(wstest.ReadLimit(int64(limit))), wstest.WithCloseTimeout(200*time.Millisecond), wstest.WithRecordLimit(0))
		const maxSize = 4096
		code, r, _ := probeJSON(t, "-pings", "0", "-max-size="+itoa(maxSize), s.URL)
		if code != exitOK {
			t.Fatalf("limit %d: exit %d: %+v", limit, code, r.Problems)
		}
		z := r.SizeLimit
		if z == nil {
			t.Fatal("no size_limit in the report")
		}
		if limit < maxSize && (!z.Found || z.LimitBytes != limit || z.RefusedAt != limit+1 || z.Code != 1009) {
			t.Errorf("limit %d: found %v, limit %d, refused at %d, code %d", limit, z.Found, z.LimitBytes, z.RefusedAt, z.Code)
		}
		if limit == maxSize && (z.Found || z.LimitBytes != maxSize) {
			t.Errorf("limit %d = max: %+v, want none found up to the max", limit, z)
		}
		if bound := 12 + 2; z.Connections > bound || s.Connections() != z.Connections+1 {
			t.Errorf("limit %d: %d connections (server saw %d, the first probe's too), want at most ceil(log2(4096)) + 2 = %d", limit, z.Connections, s.Connections(), bound)
		}
		for _, d := range r.Disconnects {
			if d.Phase != "size" || d.Code != 1009 || d.Action != "shrink" {
				t.Errorf("limit %d: disconnect %+v, want only the size probe's 1009s", limit, d)
			}
		}
	}
}

func TestSizeLimitNoneUpToTheMax(t *testing.T) {
	s := wstest.NewServer(t, wstest.WithRecordLimit(0))
	code, out, errOut := probeRun(t, "-pings", "0", "-max-size=64KiB", s.URL)
	if code != exitOK || !strings.Contains(out, "none up to 65536 bytes") || s.Connections() != 2 {
		t.Errorf("exit %d, %d connections, want 0 and 2 (probe and size probe):\n%s", code, s.Connections(), out)
	}
	if !strings.Contains(errOut, "warning: -max-size sends binary messages of up to 65536 bytes") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
}

func TestIdleTimeout(t *testing.T) {
	const cut = 600 * time.Millisecond
	s := wstest.NewServer(t, wstest.Default(wstest.Delay(cut), wstest.Drop()))
	code, r, _ := probeJSON(t, "-pings", "0", "-idle", "-idle-max", "5s", s.URL)
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (an idle timeout is a finding): %+v", code, r.Problems)
	}
	i := r.Idle
	if i == nil || !i.Cut || i.Code != 1006 {
		t.Fatalf("idle %+v, want cut with 1006", i)
	}
	if after := fromMs(i.AfterMs); after > cut+200*time.Millisecond || after < cut-300*time.Millisecond {
		t.Errorf("cut after %v, want about the server's %v", after, cut)
	}
	if hb := fromMs(i.HeartbeatIntervalMs); hb <= 0 || hb >= fromMs(i.AfterMs) {
		t.Errorf("suggested heartbeat %v, want below the idle timeout", hb)
	}
	if len(r.Disconnects) != 1 || r.Disconnects[0].Phase != "idle" || r.Disconnects[0].Action != "reconnect" {
		t.Errorf("disconnects %+v, want the idle cut", r.Disconnects)
	}
}

func TestIdleNotCut(t *testing.T) {
	s := wstest.NewServer(t)
	code, r, _ := probeJSON(t, "-pings", "1", "-idle", "-idle-max", "300ms", s.URL)
	if code != exitOK || r.Idle == nil || r.Idle.Cut || r.Idle.KeptAliveByServer || !strings.HasPrefix(r.Idle.Finding, "no idle timeout within") {
		t.Errorf("exit %d, idle %+v", code, r.Idle)
	}
	if fromMs(r.Idle.AfterMs) < 300*time.Millisecond {
		t.Errorf("idle for %v, want -idle-max", fromMs(r.Idle.AfterMs))
	}
}

// pinger pings the client every interval and reads what it sends.
func pinger(interval time.Duration) wstest.Action {
	return wstest.Handle(func(c *wstest.Conn) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := c.WS.ReadMessage(); err != nil {
					return
				}
			}
		}()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if c.WS.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
					<-done
					return
				}
			case <-done:
				return
			case <-c.Done():
				c.WS.Close()
				<-done
				return
			}
		}
	})
}

func TestServerKeepalive(t *testing.T) {
	const every = 100 * time.Millisecond
	s := wstest.NewServer(t, wstest.Default(pinger(every)))
	code, r, _ := probeJSON(t, "-pings", "1", "-idle", "-idle-max", "1s", s.URL)
	if code != exitOK {
		t.Fatalf("exit %d: %+v", code, r.Problems)
	}
	if r.Idle == nil || r.Idle.Cut || !r.Idle.KeptAliveByServer || !strings.Contains(r.Idle.Finding, "the server's keepalive keeps it alive") {
		t.Errorf("idle %+v, want kept alive by the server", r.Idle)
	}
	k := r.Keepalive
	if k == nil || k.ServerPings < 5 {
		t.Fatalf("keepalive %+v, want about 10 pings", k)
	}
	if iv := fromMs(k.IntervalMs); iv < every*8/10 || iv > every*3/2 {
		t.Errorf("interval %v, want about %v", iv, every)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
