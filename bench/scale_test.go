package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsreconnect/wsreconnect"
)

var (
	scaleClients = flag.Int("scale.clients", 19000, "clients in BenchmarkScale (200 with -test.short)")
	scaleIdle    = flag.Duration("scale.idle", 60*time.Second, "idle window over which BenchmarkScale measures CPU (1s with -test.short)")
	scaleStorms  = flag.Int("scale.storms", 3, "server restarts in BenchmarkScale; the figures are their medians (1 with -test.short)")
	scaleSVG     = flag.String("scale.svg", "", "write the chart of BenchmarkScale's restarts (SVG) to this file")
	scaleProfile = flag.String("scale.cpuprofile", "", "write a CPU profile of BenchmarkScale's idle window to this file")
	closeProfile = flag.String("scale.closeprofile", "", "write a CPU profile of BenchmarkScale's parallel Close to this file")
	stormProfile = flag.String("scale.stormprofile", "", "write a CPU profile of BenchmarkScale's first restart, from the kill until all are back, to this file")
)

// scaleDown is how long the server stays killed in BenchmarkScale.
const scaleDown = time.Second

// scalePoll is how often BenchmarkScale reads every client's state while it
// waits for connections. The times come from each client's Stats (Uptime),
// so the poll only decides when all are connected; rarely, so that the
// reading takes little CPU from the clients and the server.
const scalePoll = 50 * time.Millisecond

// clientsPerPort bounds the clients per listening port of the server: with
// the ephemeral port range of Linux (32768-60999), a restart's TIME_WAIT
// sockets and the new connections of one port then fit together.
const clientsPerPort = 5000

// newScalePeer starts an echo server with enough listening ports for n
// connections (clientsPerPort each).
func newScalePeer(n int) (*peer, error) {
	return newPeer(fmt.Sprintf("-listeners=%d", (n+clientsPerPort-1)/clientsPerPort))
}

// BenchmarkScale: many Clients (19,000 by default) at their default options
// in this process against one echo server process on loopback, with as
// many listening ports as clientsPerPort asks for. Reports
//
//   - connect-ms: from the first New to every client connected;
//   - heap-B/client, stack-B/client, B/client, goroutines/client and rss-MB
//     with the clients idle, nothing reading for the application;
//   - idle-cpu-%: the process's CPU over -scale.idle (60 s) as a percentage
//     of one core, default heartbeat (20 s / 10 s);
//   - recv-B/client and recv-goroutines/client: the same with one
//     application goroutine per client parked in Receive (stopped again
//     before the restarts);
//   - the server SIGKILLed, restarted after 1 s, -scale.storms times (3):
//     storm-back-ms, from the restart to the last client connected again,
//     and storm-peak-frac, the most reconnections in any 100 ms as a
//     fraction of the clients (medians of the runs); between runs the
//     clients stay connected for the default stable period, so that every
//     run starts from a reset backoff;
//   - close-ms: Close of every client, all in parallel.
//
// Run with -benchtime=1x and -scale.svg to chart the restarts.
func BenchmarkScale(b *testing.B) {
	n, idle, storms := *scaleClients, *scaleIdle, *scaleStorms
	if testing.Short() {
		n, idle, storms = min(n, 200), min(idle, time.Second), 1
	}
	needFiles(b, uint64(n)+200)
	b.Run(fmt.Sprintf("impl=wsreconnect/clients=%d", n), func(b *testing.B) {
		for range b.N {
			runScale(b, n, idle, storms)
		}
	})
}

func runScale(b *testing.B, n int, idle time.Duration, storms int) {
	p, err := newScalePeer(n)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { p.stop() }()
	ms0, g0 := gcStats()

	// Connect.
	clients := make([]*wsreconnect.Client, n)
	start := time.Now()
	for i := range clients {
		c, err := wsreconnect.New("ws://" + p.addrs[i%len(p.addrs)] + "/")
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	closed := false
	defer func() {
		if !closed {
			closeAll(toIdle(clients))
		}
	}()
	if err := waitAllConnected(clients, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	var connect time.Duration
	now := time.Now()
	for _, c := range clients {
		connect = max(connect, now.Add(-c.Stats().Uptime).Sub(start))
	}
	b.Logf("%d clients on %d ports connected in %.0f ms", n, len(p.addrs), ms(connect))
	b.ReportMetric(float64(n), "clients")
	b.ReportMetric(ms(connect), "connect-ms")

	// Idle: the figures once the goroutines that helped to connect are
	// gone, CPU over the window, the figures again after it.
	g := waitGoroutines(g0+n, 10*time.Second)
	b.Logf("right after connecting: %.3f goroutines per client", float64(g-g0)/float64(n))
	stopProfile := startCPUProfile(b, *scaleProfile)
	cpu0 := cpuTime()
	window := time.NewTimer(idle)
	<-window.C // the measurement window itself, not a wait for an event
	cpu := cpuTime() - cpu0
	stopProfile()
	b.ReportMetric(100*cpu.Seconds()/idle.Seconds(), "idle-cpu-%")
	ms1, g1 := gcStats()
	perClient := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
	b.ReportMetric(perClient(ms1.HeapInuse, ms0.HeapInuse), "heap-B/client")
	b.ReportMetric(perClient(ms1.StackInuse, ms0.StackInuse), "stack-B/client")
	b.ReportMetric(perClient(ms1.HeapInuse+ms1.StackInuse, ms0.HeapInuse+ms0.StackInuse), "B/client")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/client")
	b.ReportMetric(rssMB(), "rss-MB")
	b.Logf("idle %.0f s: CPU %.2f %% of one core, %.0f B heap + %.0f B stack per client, %.3f goroutines per client, RSS %.0f MB",
		idle.Seconds(), 100*cpu.Seconds()/idle.Seconds(), perClient(ms1.HeapInuse, ms0.HeapInuse), perClient(ms1.StackInuse, ms0.StackInuse),
		float64(g1-g0)/float64(n), rssMB())

	// An application goroutine per client in Receive.
	recvCtx, stopReceivers := context.WithCancel(context.Background())
	var receivers sync.WaitGroup
	for _, c := range clients {
		receivers.Add(1)
		go func() {
			defer receivers.Done()
			for {
				if _, _, err := c.Receive(recvCtx); err != nil {
					return
				}
			}
		}()
	}
	waitGoroutines(g1+n, 10*time.Second)
	ms2, g2 := gcStats()
	b.ReportMetric(perClient(ms2.HeapInuse+ms2.StackInuse, ms0.HeapInuse+ms0.StackInuse), "recv-B/client")
	b.ReportMetric(float64(g2-g0)/float64(n), "recv-goroutines/client")
	b.Logf("with a goroutine in Receive: %.0f B per client (heap %.0f + stack %.0f), %.3f goroutines per client",
		perClient(ms2.HeapInuse+ms2.StackInuse, ms0.HeapInuse+ms0.StackInuse), perClient(ms2.HeapInuse, ms0.HeapInuse),
		perClient(ms2.StackInuse, ms0.StackInuse), float64(g2-g0)/float64(n))
	stopReceivers() // a cancelled Receive leaves the connection alone
	receivers.Wait()

	// Restarts.
	var back, peaks []float64
	var runs []stormResult
	for run := range storms {
		if run > 0 {
			// Let every connection prove stable, so that each run starts
			// from a reset backoff, as the first did.
			stable := time.NewTimer(wsreconnect.DefaultStableAfter + time.Second)
			<-stable.C
		}
		stopProfile := func() {}
		if run == 0 {
			stopProfile = startCPUProfile(b, *stormProfile)
		}
		r, np, err := scaleStorm(p, clients)
		stopProfile()
		p = np
		if err != nil {
			b.Fatal(err)
		}
		back = append(back, ms(r.p99))
		peaks = append(peaks, float64(r.peak)/float64(n))
		runs = append(runs, r)
		b.Logf("restart %d: all %d back %.0f ms after the server, peak %d per 100 ms (%.3fx of the clients); per 100 ms since the kill: %v",
			run+1, n, ms(r.p99), r.peak, float64(r.peak)/float64(n), r.bins)
	}
	b.ReportMetric(medianOf(back), "storm-back-ms")
	b.ReportMetric(medianOf(peaks), "storm-peak-frac")
	if *scaleSVG != "" {
		if err := os.WriteFile(*scaleSVG, []byte(scaleChart(n, runs)), 0o644); err != nil {
			b.Fatal(err)
		}
	}

	// Close every client, all at once.
	stopProfile = startCPUProfile(b, *closeProfile)
	start = time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
	stopProfile()
	closed = true
	b.ReportMetric(ms(time.Since(start)), "close-ms")
	b.Logf("Close of all %d clients in parallel: %.0f ms", n, ms(time.Since(start)))
}

// scaleStorm SIGKILLs the server, starts it again on the same ports after
// scaleDown and waits for every client to be connected again. A client is
// back when it is connected and its Stats count one more reconnection; it
// came back when its Stats' Uptime says, so the times do not depend on how
// long a pass over the clients takes. The result's p99 field holds the time
// from the restart to the last reconnection.
func scaleStorm(p *peer, clients []*wsreconnect.Client) (stormResult, *peer, error) {
	addrs := p.addrs
	before := make([]int64, len(clients))
	for i, c := range clients {
		before[i] = c.Stats().Reconnects
	}
	reconnected := make([]time.Time, len(clients))
	downAt := time.Now()
	p.kill()
	upTimer := time.NewTimer(scaleDown)
	<-upTimer.C // the outage itself, not a wait for an event
	np, err := newPeer("-addr=" + strings.Join(addrs, ","))
	if err != nil {
		return stormResult{}, p, fmt.Errorf("restarting the server: %w", err)
	}
	upAt := time.Now()
	tick := time.NewTicker(scalePoll)
	defer tick.Stop()
	left := len(clients)
	deadline := time.Now().Add(2 * time.Minute)
	for left > 0 {
		if time.Now().After(deadline) {
			return stormResult{}, np, fmt.Errorf("%d of %d clients not connected again within 2 minutes", left, len(clients))
		}
		<-tick.C
		for i, c := range clients {
			if !reconnected[i].IsZero() || c.State() != wsreconnect.StateConnected {
				continue
			}
			if st := c.Stats(); st.Reconnects > before[i] {
				reconnected[i] = time.Now().Add(-st.Uptime)
				left--
			}
		}
	}
	var last time.Duration
	for _, t := range reconnected {
		last = max(last, t.Sub(downAt))
	}
	bins := make([]int, int(last/stormBin)+1)
	peak := 0
	for _, t := range reconnected {
		k := int(max(t.Sub(downAt), 0) / stormBin)
		bins[k]++
		peak = max(peak, bins[k])
	}
	return stormResult{bins: bins, upBin: float64(upAt.Sub(downAt)) / float64(stormBin), peak: peak, p99: last - upAt.Sub(downAt)}, np, nil
}

// waitAllConnected reads every client's state until all are connected.
func waitAllConnected(clients []*wsreconnect.Client, within time.Duration) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(scalePoll)
	defer tick.Stop()
	for {
		left := 0
		for _, c := range clients {
			if c.State() != wsreconnect.StateConnected {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients not connected within %s", left, len(clients), within)
		}
		<-tick.C
	}
}

// kill ends the server process with SIGKILL, as a crash would.
func (p *peer) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.stdin.Close()
}

// rssMB is this process's resident set size in MB (VmRSS).
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024 / 1e6
		}
	}
	return 0
}

func medianOf(s []float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	if len(c) == 0 {
		return 0
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// scaleChart draws every restart of BenchmarkScale.
func scaleChart(n int, runs []stormResult) string {
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"}
	var series []chartSeries
	up := 0.0
	for i, r := range runs {
		up = max(up, r.upBin)
		series = append(series, chartSeries{r.bins, colors[i%len(colors)],
			fmt.Sprintf("restart %d: peak %d per 100 ms (%.3fx), all back %.1f s after", i+1, r.peak, float64(r.peak)/float64(n), r.p99.Seconds())})
	}
	return reconnectChart(fmt.Sprintf("Server SIGKILLed, back after %.0f s: %d clients, default backoff — reconnections per 100 ms", scaleDown.Seconds(), n), up, series)
}

// startCPUProfile writes a CPU profile to path until the returned func is
// called; with no path it does nothing.
func startCPUProfile(b *testing.B, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
