// Package peer starts and stops the third-party WebSocket peers that the
// interop suite runs the wsreconnect Client against: a Node `ws` scenario
// server, a Python `websockets` scenario server, nginx as a reverse proxy and
// an in-process toxiproxy. Every peer listens on a free 127.0.0.1 port, is
// waited for with a deadline, and is stopped in t.Cleanup.
//
// A peer whose software is missing fails the test when the CI environment
// variable is set (CI=true) and skips it, loudly, otherwise.
package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Host is the only address peers listen on.
const Host = "127.0.0.1"

// StartTimeout bounds how long a peer may take to become ready.
const StartTimeout = 15 * time.Second

// InCI reports whether the suite runs in CI (the CI environment variable is
// set to anything but "", "0" or "false").
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "0" && v != "false"
}

// Require stops the test when ok is false: in CI it fails (a peer that is
// missing there is a broken CI setup), elsewhere it skips with a message that
// says what is missing and how to get it.
func Require(t testing.TB, ok bool, what, howto string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("required interop peer missing in CI: %s (%s)", what, howto)
	}
	t.Skipf("SKIPPING: interop peer missing: %s; %s (with CI=true this fails instead)", what, howto)
}

// peersDir returns the absolute path of interop/peers.
func peersDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("peer: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "peers")
}

// FreePort returns a TCP port on Host that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Stats are the counters a scenario server keeps for one key (the `id` query
// parameter of a connection, or its path).
type Stats struct {
	Upgrades       int            `json:"upgrades"`       // upgrade requests seen
	Connections    int            `json:"connections"`    // WebSocket connections accepted
	Open           int            `json:"open"`           // connections open now
	Refused        int            `json:"refused"`        // upgrades refused with an HTTP status or a reset
	Hung           int            `json:"hung"`           // upgrades never answered
	Messages       int            `json:"messages"`       // messages received
	TextMessages   int            `json:"textMessages"`   // text messages received
	BinaryMessages int            `json:"binaryMessages"` // binary messages received
	Bytes          int64          `json:"bytes"`          // payload bytes received
	Pings          int            `json:"pings"`          // pings received (Node peer only)
	ServerCloses   int            `json:"serverCloses"`   // closes started by the scenario
	CloseCodes     map[string]int `json:"closeCodes"`     // code seen by the server when a connection ended
	ConnectTimes   []int64        `json:"connectTimes"`   // ms after process start of each accepted connection
	UpgradeTimes   []int64        `json:"upgradeTimes"`   // ms after process start of each upgrade request
	Record         []string       `json:"record"`         // text messages received, with record=1
}

// Snapshot is one answer of a peer's /stats endpoint.
type Snapshot struct {
	PID     int   `json:"pid"`
	Started int64 `json:"started"` // process start, Unix ms
	Stats   Stats `json:"stats"`
}

// ConnectedAt returns the wall-clock time of the i-th accepted connection.
func (s Snapshot) ConnectedAt(i int) time.Time {
	return time.UnixMilli(s.Started + s.Stats.ConnectTimes[i])
}

// UpgradedAt returns the wall-clock time of the i-th upgrade request.
func (s Snapshot) UpgradedAt(i int) time.Time {
	return time.UnixMilli(s.Started + s.Stats.UpgradeTimes[i])
}

// statsClient keeps no idle connections, so no HTTP goroutine outlives a
// request (tests check for goroutine leaks).
var statsClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// fetchStats reads GET http://addr/stats?id=key.
func fetchStats(ctx context.Context, addr, key string) (Snapshot, error) {
	var snap Snapshot
	u := "http://" + addr + "/stats?id=" + url.QueryEscape(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return snap, err
	}
	resp, err := statsClient.Do(req)
	if err != nil {
		return snap, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snap, fmt.Errorf("stats: HTTP %d", resp.StatusCode)
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	return snap, err
}

// statsSource is anything that serves /stats.
type statsSource interface {
	StatsAddr() string
}

// ReadStats returns the counters for key, failing the test if the peer does
// not answer within five seconds.
func ReadStats(t testing.TB, src statsSource, key string) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := fetchStats(ctx, src.StatsAddr(), key)
	if err != nil {
		t.Fatalf("read stats %q from %s: %v", key, src.StatsAddr(), err)
	}
	return snap
}

// WaitStats polls the counters for key until cond holds, and fails the test
// with the last counters seen if it does not within timeout.
func WaitStats(t testing.TB, src statsSource, key string, timeout time.Duration, what string, cond func(Stats) bool) Snapshot {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last Snapshot
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		snap, err := fetchStats(ctx, src.StatsAddr(), key)
		cancel()
		if err == nil {
			last, lastErr = snap, nil
			if cond(snap.Stats) {
				return snap
			}
		} else {
			lastErr = err
		}
		select {
		case <-deadline.C:
			t.Fatalf("server-side condition %q on key %q not met within %v; last stats %+v (last error %v)",
				what, key, timeout, brief(last.Stats), lastErr)
			return last
		case <-tick.C:
		}
	}
}

// brief drops the long lists from s for failure messages.
func brief(s Stats) Stats {
	s.Record = []string{fmt.Sprintf("(%d recorded)", len(s.Record))}
	if len(s.ConnectTimes) > 20 {
		s.ConnectTimes = s.ConnectTimes[:20]
	}
	if len(s.UpgradeTimes) > 20 {
		s.UpgradeTimes = s.UpgradeTimes[:20]
	}
	return s
}

// waitHTTP polls GET http://addr/path until it answers with any status for
// which ok returns true, or ctx ends.
func waitHTTP(ctx context.Context, addr, path string, ok func(status int) bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := statsClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
			lastErr = fmt.Errorf("HTTP %d", resp.StatusCode)
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s%s not ready: %v (last: %v)", addr, path, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}
