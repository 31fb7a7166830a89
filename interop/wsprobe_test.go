package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// probeReport is the part of wsprobe's -json report (schema_version 1)
// these tests read.
type probeReport struct {
	SchemaVersion int    `json:"schema_version"`
	Verdict       string `json:"verdict"`
	ExitCode      int    `json:"exit_code"`
	Handshake     *struct {
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		Server string `json:"server"`
	} `json:"handshake"`
	Ping *struct {
		Count int `json:"count"`
	} `json:"ping"`
	Echo *struct {
		Count int `json:"count"`
	} `json:"echo"`
	Idle *struct {
		Cut                 bool    `json:"cut"`
		AfterMs             float64 `json:"after_ms"`
		Code                int     `json:"code"`
		HeartbeatIntervalMs float64 `json:"suggested_heartbeat_interval_ms"`
	} `json:"idle"`
	SizeLimit *struct {
		Found       bool `json:"found"`
		LimitBytes  int  `json:"limit_bytes"`
		RefusedAt   int  `json:"refused_at_bytes"`
		Code        int  `json:"code"`
		Connections int  `json:"connections"`
	} `json:"size_limit"`
	Problems []string `json:"problems"`
}

// wsprobe builds the command into the test's temporary directory (the Go
// build cache makes every build after the first quick).
func wsprobe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsprobe")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build wsprobe with: %v", err)
	}
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/wsreconnect/wsreconnect/cmd/wsprobe").CombinedOutput(); err != nil {
		t.Fatalf("build wsprobe: %v\n%s", err, out)
	}
	return bin
}

// runProbe runs the built wsprobe with -json and args.
func runProbe(t *testing.T, timeout time.Duration, args ...string) (int, probeReport, string) {
	t.Helper()
	bin := wsprobe(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("wsprobe did not run: %v", err)
	}
	var r probeReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("wsprobe output is no JSON report: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if r.SchemaVersion != 1 || r.ExitCode != code {
		t.Errorf("schema_version %d, exit_code %d, exit %d", r.SchemaVersion, r.ExitCode, code)
	}
	return code, r, stdout.String()
}

// TestWsprobeNodeMaxPayload: against ws's maxPayload the probe finds the
// limit to the byte, in at most ceil(log2(max)) + 2 connections, and the
// peer counts exactly those connections.
func TestWsprobeNodeMaxPayload(t *testing.T) {
	leakCheck(t)
	const limit, maxSize = 100003, 1 << 20
	n := peer.StartNode(t, peer.NodeOptions{})
	code, r, out := runProbe(t, 2*time.Minute, "-echo", "-pings", "3", "-max-size="+strconv.Itoa(maxSize),
		n.URL("/maxpayload?max="+strconv.Itoa(limit)+"&id=probe-size"))
	if code != 0 || r.Verdict != "healthy" {
		t.Fatalf("exit %d, verdict %s, want 0 and healthy (a size limit is a finding):\n%s", code, r.Verdict, out)
	}
	z := r.SizeLimit
	if z == nil || !z.Found || z.LimitBytes != limit || z.RefusedAt != limit+1 || z.Code != 1009 {
		t.Fatalf("size limit %+v, want %d bytes exactly, %d refused with 1009:\n%s", z, limit, limit+1, out)
	}
	bound := int(math.Ceil(math.Log2(maxSize))) + 2
	if z.Connections > bound {
		t.Errorf("%d connections, want at most %d", z.Connections, bound)
	}
	if r.Echo == nil || r.Echo.Count != 3 || r.Ping == nil || r.Ping.Count != 3 {
		t.Errorf("ping %+v, echo %+v, want 3 each", r.Ping, r.Echo)
	}
	s := peer.ReadStats(t, n, "probe-size").Stats
	if s.Connections != z.Connections+1 {
		t.Errorf("the peer saw %d connections, want the size probe's %d and the first one", s.Connections, z.Connections)
	}
	t.Logf("ws maxPayload %d: found %d bytes in %d connections", limit, z.LimitBytes, z.Connections)
}

// TestWsprobeNginxIdleTimeout: behind nginx's proxy_read_timeout the probe
// reports the idle timeout within 1 s or 10 %, as a 1006, and a heartbeat
// interval below it.
func TestWsprobeNginxIdleTimeout(t *testing.T) {
	leakCheck(t)
	n := peer.StartNode(t, peer.NodeOptions{})
	ng := peer.StartNginx(t, n.Addr())
	code, r, out := runProbe(t, time.Minute, "-pings", "2", "-idle", "-idle-max", "15s", ng.URL("/echo?id=probe-idle"))
	if code != 0 || r.Verdict != "healthy" {
		t.Fatalf("exit %d, verdict %s, want 0 and healthy (an idle timeout is a finding):\n%s", code, r.Verdict, out)
	}
	if r.Handshake == nil || !r.Handshake.OK || r.Handshake.Server == "" {
		t.Errorf("handshake %+v, want ok with nginx's Server header", r.Handshake)
	}
	i := r.Idle
	if i == nil || !i.Cut || i.Code != 1006 {
		t.Fatalf("idle %+v, want cut with 1006:\n%s", i, out)
	}
	after := time.Duration(i.AfterMs * float64(time.Millisecond))
	tolerance := max(time.Second, peer.NginxReadTimeout/10)
	if d := after - peer.NginxReadTimeout; d < -tolerance || d > tolerance {
		t.Errorf("idle timeout %v, want nginx's %v within %v", after, peer.NginxReadTimeout, tolerance)
	}
	if hb := time.Duration(i.HeartbeatIntervalMs * float64(time.Millisecond)); hb <= 0 || hb >= after {
		t.Errorf("suggested heartbeat %v, want below %v", hb, after)
	}
	t.Logf("nginx proxy_read_timeout %v: measured %v", peer.NginxReadTimeout, after.Round(time.Millisecond))
}
