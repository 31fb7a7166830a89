package interop

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

const (
	stormClients = 200
	stormWindow  = 100 * time.Millisecond
	stormOutage  = 2 * time.Second
)

// stormResult is what one restart storm looked like from the server.
type stormResult struct {
	peak    int           // most connections accepted in any 100 ms window
	spread  time.Duration // first to last reconnect
	p99     time.Duration // 99th percentile of reconnect time after the server was back
	buckets []int         // reconnects per 100 ms from the first one
}

// TestReconnectStorm: 200 clients on one Node peer that is killed and
// restarted 2 s later. Without jitter (RandomizationFactor 0) every client
// retries at the same offsets after the drop (0.1, 0.3, 0.7, 1.5, 3.1 s), so
// the restart falls between two attempts and all 200 arrive together; with
// jitter (0.5) the attempts drift apart. The peak per 100 ms, counted by the
// restarted server, must be clearly lower with jitter.
func TestReconnectStorm(t *testing.T) {
	var jitter, flat stormResult
	t.Run("jitter", func(t *testing.T) { jitter = runStorm(t, 0.5) })
	t.Run("no-jitter", func(t *testing.T) { flat = runStorm(t, 0) })
	if t.Failed() {
		return
	}
	t.Logf("peak reconnects per %v: %d with jitter, %d without (ratio %.2f)",
		stormWindow, jitter.peak, flat.peak, float64(jitter.peak)/float64(flat.peak))
	if jitter.peak*2 > flat.peak {
		t.Errorf("jittered peak %d is not clearly lower than the unjittered peak %d (want at most half)", jitter.peak, flat.peak)
	}
}

func runStorm(t *testing.T, randomization float64) stormResult {
	leakCheck(t)
	n := peer.StartNode(t, peer.NodeOptions{})
	clients := make([]*ws.Client, stormClients)
	for i := range clients {
		clients[i] = newClient(t, n.URL("/echo?id=storm"), nil,
			ws.WithBackoff(newBackoff(100*time.Millisecond, 1600*time.Millisecond, 2, randomization)))
	}
	for _, c := range clients {
		waitConnected(t, c, 20*time.Second)
	}
	peer.WaitStats(t, n, "storm", 10*time.Second, "every client connected", func(s peer.Stats) bool {
		return s.Open == stormClients
	})

	n.Kill(syscall.SIGKILL)
	wait(stormOutage)
	n.Restart(t)
	ready := time.Now()
	snap := peer.WaitStats(t, n, "storm", 30*time.Second, "every client reconnected", func(s peer.Stats) bool {
		return s.Connections >= stormClients
	})
	if snap.Stats.Connections != stormClients {
		t.Errorf("restarted server saw %d connections, want %d", snap.Stats.Connections, stormClients)
	}
	for _, c := range clients {
		waitConnected(t, c, 10*time.Second)
	}

	times := append([]int64(nil), snap.Stats.ConnectTimes...)
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r := stormResult{peak: peakIn(times, stormWindow.Milliseconds())}
	r.spread = time.Duration(times[len(times)-1]-times[0]) * time.Millisecond
	p99 := time.UnixMilli(snap.Started + times[(len(times)*99)/100-1]).Sub(ready)
	r.p99 = max(p99, 0)
	for _, ms := range times {
		b := int((ms - times[0]) / stormWindow.Milliseconds())
		for len(r.buckets) <= b {
			r.buckets = append(r.buckets, 0)
		}
		r.buckets[b]++
	}
	t.Logf("randomization %.1f: peak %d per %v, spread %v, p99 reconnect %v after the server was back; per %v: %s",
		randomization, r.peak, stormWindow, r.spread, r.p99.Round(time.Millisecond), stormWindow, histogram(r.buckets))
	return r
}

// peakIn returns the largest number of sorted times within any window of
// width w (a sliding window, not fixed buckets).
func peakIn(sorted []int64, w int64) int {
	peak, lo := 0, 0
	for hi := range sorted {
		for sorted[hi]-sorted[lo] >= w {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// histogram renders bucket counts compactly, e.g. "12 30 41 ...".
func histogram(b []int) string {
	parts := make([]string, len(b))
	for i, n := range b {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}
