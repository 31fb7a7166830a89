// Command benchratio reads `go test -bench` output and prints, from the
// medians of all runs:
//
//   - the headline table: wsreconnect, gorilla, gws and coder side by side
//     on the figures of the performance issue (ratios to gorilla);
//   - the ratio to gorilla of every metric of every implementation, for the
//     benchmarks that measure several (sub-benchmark impl=);
//   - the figures of the benchmarks that measure the Client alone;
//   - whether each target holds. Every threshold is in one table,
//     targets() below.
//
// It exits 1 when a target is missed and -strict is given.
//
//	go run ./cmd/benchratio [-strict] results.txt...
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type key struct{ bench, impl, unit string }

var gomaxprocs = regexp.MustCompile(`-\d+$`)

// results are the samples of every (benchmark, impl, unit), in the order
// the benchmarks first appear.
type results struct {
	samples map[key][]float64
	benches []string
}

func (r *results) read(in io.Reader) {
	seen := map[string]bool{}
	for _, b := range r.benches {
		seen[b] = true
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := gomaxprocs.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		bench, impl := splitImpl(name)
		if strings.HasPrefix(bench, "Scale/clients=") {
			bench = "Scale" // the number of clients is a metric of its own
		}
		if !seen[bench] {
			seen[bench] = true
			r.benches = append(r.benches, bench)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := key{bench, impl, f[i+1]}
			r.samples[k] = append(r.samples[k], v)
		}
	}
}

// med is the median of the samples, and how many there are.
func (r *results) med(bench, impl, unit string) (float64, int, bool) {
	s := r.samples[key{bench, impl, unit}]
	if len(s) == 0 {
		return 0, 0, false
	}
	return median(s), len(s), true
}

// value is one figure: the median of a metric (or its worst sample).
type value struct {
	bench, impl, unit string
	worst             bool // the largest sample instead of the median
}

func (r *results) get(v value) (float64, bool) {
	s := r.samples[key{v.bench, v.impl, v.unit}]
	if len(s) == 0 {
		return 0, false
	}
	if v.worst {
		return slicesMax(s), true
	}
	return median(s), true
}

// How a target compares its figure a with b and the limit.
const (
	ratioAtLeast = iota // a/b >= limit
	ratioAtMost         // a/b <= limit
	atMost              // a <= limit (b unused)
	atLeast             // a >= limit (b unused)
	plusAtMost          // a <= b + limit
)

type target struct {
	group string // "" for every run; "scale" for bench/scale.sh
	name  string
	a     value
	b     value
	cmp   int
	limit float64
}

// The implementations' names in the benchmarks (impl=).
const (
	ws        = "wsreconnect"           // the Client, consuming with Receive
	onMessage = "wsreconnect-onmessage" // the Client, consuming with WithOnMessage
	gorilla   = "gorilla"
	gws       = "gws"
	coder     = "coder"
)

// Allocations per message, send and receive sides of the client process
// together. gorilla's minimum is a message writer (NextWriter) and a message
// reader (NextReader); a pooled write buffer costs gorilla one more (the
// pool entry put back after each message); the caller's own copy of a
// received message is one. Issue 10: the Client adds at most the caller's
// copy to gorilla's minimum, pooled write buffer counted. Set
// allocsPooledWrite to 0 to hold the Client to the minimum without a pool.
const (
	allocsGorillaMin  = 2 // a writer and a reader object
	allocsPooledWrite = 1 // gorilla's pooled write buffer, when the Client pools it
	allocsCallerCopy  = 1 // the received message the caller owns
	allocsPerMessage  = allocsGorillaMin + allocsPooledWrite + allocsCallerCopy
)

// targets is every target and its threshold, in one place.
func targets() []target {
	sizes := []string{"16B", "1KiB", "64KiB"}
	modes := []string{"Pipelined", "RoundTrip"}
	v := func(bench, impl, unit string) value { return value{bench: bench, impl: impl, unit: unit} }
	var t []target
	add := func(tt target) { t = append(t, tt) }

	// Issue 10: faster than the library underneath.
	add(target{name: "64 KiB pipelined throughput >= 2.0x gorilla",
		a: v("Pipelined/size=64KiB", ws, "msg/s"), b: v("Pipelined/size=64KiB", gorilla, "msg/s"), cmp: ratioAtLeast, limit: 2.0})
	add(target{name: "64 KiB pipelined CPU per message <= 0.6x gorilla",
		a: v("Pipelined/size=64KiB", ws, "cpu-ns/msg"), b: v("Pipelined/size=64KiB", gorilla, "cpu-ns/msg"), cmp: ratioAtMost, limit: 0.6})
	for _, impl := range []string{ws, onMessage} {
		for _, mode := range modes {
			for _, size := range sizes {
				b := mode + "/size=" + size
				add(target{name: fmt.Sprintf("%s %s allocs per message (%s) <= %d (gorilla's minimum %d + pooled write %d + caller's copy %d)",
					mode, size, consumer(impl), allocsPerMessage, allocsGorillaMin, allocsPooledWrite, allocsCallerCopy),
					a: v(b, impl, "allocs/op"), cmp: atMost, limit: allocsPerMessage})
			}
		}
	}
	for _, size := range []string{"16B", "1KiB"} {
		b := "Pipelined/size=" + size
		add(target{name: fmt.Sprintf("pipelined throughput %s (Receive) >= 1.0x gorilla", size),
			a: v(b, ws, "msg/s"), b: v(b, gorilla, "msg/s"), cmp: ratioAtLeast, limit: 1.0})
		add(target{name: fmt.Sprintf("pipelined throughput %s (Receive) >= 1.0x coder", size),
			a: v(b, ws, "msg/s"), b: v(b, coder, "msg/s"), cmp: ratioAtLeast, limit: 1.0})
	}
	for _, size := range []string{"16B", "1KiB"} {
		b := "RoundTrip/size=" + size
		add(target{name: fmt.Sprintf("round-trip CPU per message %s (Receive) <= 1.2x gorilla", size),
			a: v(b, ws, "cpu-ns/msg"), b: v(b, gorilla, "cpu-ns/msg"), cmp: ratioAtMost, limit: 1.2})
	}
	add(target{name: "idle with an application goroutine in Receive: <= 12 KB (12000 B) per connection",
		a: v("IdleReceive/pool=none", ws, "B/client"), cmp: atMost, limit: 12000})
	// 2 per client: the Client's one and the application's; +0.01 for a
	// goroutine of the dial that has not ended yet.
	add(target{name: "idle with an application goroutine in Receive: 1 client goroutine (2 with the application's)",
		a: v("IdleReceive/pool=none", ws, "goroutines/client"), cmp: atMost, limit: 2.01})

	// Earlier targets, which must keep holding.
	for _, tt := range []struct {
		size string
		min  float64
	}{{"16B", 0.85}, {"1KiB", 0.90}, {"64KiB", 0.90}} {
		b := "Pipelined/size=" + tt.size
		add(target{name: fmt.Sprintf("pipelined throughput %s >= %.2fx gorilla", tt.size, tt.min),
			a: v(b, ws, "msg/s"), b: v(b, gorilla, "msg/s"), cmp: ratioAtLeast, limit: tt.min})
	}
	for _, mode := range modes {
		for _, size := range sizes {
			b := mode + "/size=" + size
			add(target{name: fmt.Sprintf("%s %s CPU per message <= 1.15x", mode, size),
				a: v(b, ws, "cpu-ns/msg"), b: v(b, gorilla, "cpu-ns/msg"), cmp: ratioAtMost, limit: 1.15})
		}
	}
	for _, mode := range modes {
		for _, size := range sizes {
			b := mode + "/size=" + size
			add(target{name: fmt.Sprintf("%s %s CPU per message with WithOnMessage <= 1.15x", mode, size),
				a: v(b, onMessage, "cpu-ns/msg"), b: v(b, gorilla, "cpu-ns/msg"), cmp: ratioAtMost, limit: 1.15})
			add(target{name: fmt.Sprintf("%s %s throughput with WithOnMessage >= 0.90x", mode, size),
				a: v(b, onMessage, "msg/s"), b: v(b, gorilla, "msg/s"), cmp: ratioAtLeast, limit: 0.90})
		}
	}
	for _, mode := range modes {
		for _, size := range sizes {
			b := mode + "/size=" + size
			add(target{name: fmt.Sprintf("%s %s allocs/op <= gorilla + 1", mode, size),
				a: v(b, ws, "allocs/op"), b: v(b, gorilla, "allocs/op"), cmp: plusAtMost, limit: 1})
		}
	}
	for _, pool := range []string{"none", "shared"} {
		b := "Idle/pool=" + pool
		add(target{name: fmt.Sprintf("idle (write-buffer pool %s): <= 2 goroutines per client", pool),
			a: v(b, ws, "goroutines/client"), cmp: atMost, limit: 2.01})
		add(target{name: fmt.Sprintf("idle (write-buffer pool %s): bytes per client <= 1.25x gorilla", pool),
			a: v(b, ws, "B/client"), b: v(b, gorilla, "B/client"), cmp: ratioAtMost, limit: 1.25})
	}
	add(target{name: "after 100 forced reconnects: goroutines back to baseline",
		a: v("ReconnectLeak/forced=100", ws, "goroutines-delta"), cmp: atMost, limit: 0})
	add(target{name: "after 100 forced reconnects: live heap back to baseline (< 16 KiB)",
		a: v("ReconnectLeak/forced=100", ws, "heap-live-delta-B"), cmp: atMost, limit: 16<<10 - 1})
	add(target{name: "storm: jittered peak <= 0.25x no-jitter peak",
		a: v("Storm/jitter=on", ws, "peak-per-100ms"), b: v("Storm/jitter=off", ws, "peak-per-100ms"), cmp: ratioAtMost, limit: 0.25})
	add(target{name: "storm: p99 reconnect within the backoff bound",
		a: v("Storm/jitter=on", ws, "p99-ms"), b: v("Storm/jitter=on", ws, "bound-ms"), cmp: plusAtMost, limit: 0})
	add(target{name: "dead peer detected within timeout + 50 ms (timeout=500ms, worst run)",
		a: value{bench: "DeadPeer/timeout=500ms", impl: ws, unit: "over-timeout-ms", worst: true}, cmp: atMost, limit: 50})

	// Issue 10, bench/scale.sh: 19,000 clients in one process.
	sc := "Scale"
	add(target{group: "scale", name: "scale: 19,000 clients connected in one process",
		a: v(sc, ws, "clients"), cmp: atLeast, limit: 19000})
	add(target{group: "scale", name: "scale: <= 12 KB (12000 B) per client with an application goroutine in Receive",
		a: v(sc, ws, "recv-B/client"), cmp: atMost, limit: 12000})
	add(target{group: "scale", name: "scale: idle CPU <= 0.5 % of one core, default heartbeat",
		a: v(sc, ws, "idle-cpu-%"), cmp: atMost, limit: 0.5})
	add(target{group: "scale", name: "scale: all back within 5 s of the server's restart (median of 3)",
		a: v(sc, ws, "storm-back-ms"), cmp: atMost, limit: 5000})
	add(target{group: "scale", name: "scale: peak reconnections per 100 ms <= 0.12x of the clients (median of 3)",
		a: v(sc, ws, "storm-peak-frac"), cmp: atMost, limit: 0.12})
	add(target{group: "scale", name: "scale: Close of all clients in parallel < 1 s",
		a: v(sc, ws, "close-ms"), cmp: atMost, limit: 999.999})
	return t
}

func consumer(impl string) string {
	if impl == onMessage {
		return "WithOnMessage"
	}
	return "Receive"
}

// evaluate returns the figure shown, whether the target holds, and whether
// it was measured.
func (r *results) evaluate(t target) (string, bool, bool) {
	a, okA := r.get(t.a)
	if !okA {
		return "-", false, false
	}
	switch t.cmp {
	case atMost:
		return num(a), a <= t.limit, okA
	case atLeast:
		return num(a), a >= t.limit, okA
	}
	b, okB := r.get(t.b)
	if !okB {
		return "-", false, false
	}
	switch t.cmp {
	case plusAtMost:
		return fmt.Sprintf("%s vs %s", num(a), num(b)), a <= b+t.limit, true
	}
	if b == 0 {
		return "-", false, false
	}
	q := a / b
	shown := fmt.Sprintf("%.2fx", q)
	if t.a.unit != t.b.unit || t.a.bench != t.b.bench {
		shown = fmt.Sprintf("%s / %s = %.2fx", num(a), num(b), q)
	}
	if t.cmp == ratioAtLeast {
		return shown, q >= t.limit, true
	}
	return shown, q <= t.limit, true
}

func main() {
	strict := flag.Bool("strict", false, "exit 1 when a target is missed")
	scale := flag.Bool("scale", false, "print only the figures and targets of BenchmarkScale (bench/scale.sh)")
	flag.Parse()
	r := &results{samples: map[key][]float64{}}
	if flag.NArg() == 0 {
		r.read(os.Stdin)
	}
	for _, path := range flag.Args() {
		fh, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		r.read(fh)
		fh.Close()
	}

	if *scale {
		r.scaleFigures()
		fmt.Println()
		missed := r.verdicts("scale")
		fmt.Println()
		fmt.Printf("%d target(s) missed\n", missed)
		if *strict && missed > 0 {
			os.Exit(1)
		}
		return
	}
	if r.headline() {
		fmt.Println()
	}
	r.sideBySide(ws, "wsreconnect / gorilla", "wsreconnect")
	fmt.Println()
	r.sideBySide(onMessage, "wsreconnect with WithOnMessage / gorilla", "wsreconnect (OnMessage)")
	fmt.Println()
	r.peers()
	fmt.Println()
	r.alone()
	fmt.Println()
	missed := r.verdicts("")
	fmt.Println()
	fmt.Printf("%d target(s) missed\n", missed)
	if *strict && missed > 0 {
		os.Exit(1)
	}
}

// headline prints issue 10's table, when the results have its figures.
func (r *results) headline() bool {
	type row struct {
		name, bench, unit string
		ratio             bool // x gorilla
		scale             float64
		format            string
	}
	rows := []row{
		{"64 KiB pipelined throughput (x gorilla)", "Pipelined/size=64KiB", "msg/s", true, 1, "%.2f"},
		{"64 KiB CPU per message (x gorilla)", "Pipelined/size=64KiB", "cpu-ns/msg", true, 1, "%.2f"},
		{"64 KiB allocations per message", "Pipelined/size=64KiB", "allocs/op", false, 1, "%.0f"},
		{"round-trip CPU per message, 1 KiB, `Receive` (x gorilla)", "RoundTrip/size=1KiB", "cpu-ns/msg", true, 1, "%.2f"},
		{"idle bytes per connection, with a goroutine in `Receive`", "IdleReceive/pool=none", "B/client", false, 1e-3, "%.1f KB"},
	}
	cols := []string{ws, gorilla, gws, coder}
	have := false
	for _, rw := range rows {
		if _, _, ok := r.med(rw.bench, gorilla, rw.unit); ok {
			have = true
		}
	}
	if !have {
		return false
	}
	fmt.Println("## Side by side: wsreconnect, gorilla, gws, coder (medians)")
	fmt.Println()
	fmt.Println("| | wsreconnect | gorilla | gws | coder |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, rw := range rows {
		g, _, okG := r.med(rw.bench, gorilla, rw.unit)
		cells := []string{}
		for _, impl := range cols {
			x, _, ok := r.med(rw.bench, impl, rw.unit)
			switch {
			case !ok:
				cells = append(cells, "-")
			case rw.ratio && (!okG || g == 0):
				cells = append(cells, "-")
			case rw.ratio:
				cells = append(cells, fmt.Sprintf(rw.format, x/g))
			default:
				cells = append(cells, fmt.Sprintf(rw.format, x*rw.scale))
			}
		}
		fmt.Printf("| %s | %s |\n", rw.name, strings.Join(cells, " | "))
	}
	fmt.Println()
	fmt.Println("wsreconnect consumes with Receive; gorilla at its defaults (4 KiB buffers, ReadMessage);")
	fmt.Println("gws through OnMessage on its ReadLoop goroutine; coder with Read. KB = 1000 bytes.")
	return true
}

var units = []string{"msg/s", "MB/s", "ns/op", "cpu-ns/msg", "allocs/op", "B/op", "B/client", "heap-B/client", "stack-B/client", "sys-B/client", "goroutines/client"}

func (r *results) sideBySide(impl, title, column string) {
	fmt.Println("## " + title + " (medians)")
	fmt.Println()
	fmt.Printf("| benchmark | unit | gorilla | %s | ratio | n |\n", column)
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, bench := range r.benches {
		for _, u := range units {
			g, n1, ok1 := r.med(bench, gorilla, u)
			w, n2, ok2 := r.med(bench, impl, u)
			if !ok1 || !ok2 {
				continue
			}
			ratio := "-"
			if g != 0 {
				ratio = fmt.Sprintf("%.2f", w/g)
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", bench, u, num(g), num(w), ratio, min(n1, n2))
		}
	}
}

// peers prints every implementation's figures as ratios to gorilla's.
func (r *results) peers() {
	cols := []string{ws, onMessage, gws, coder}
	fmt.Println("## Every implementation / gorilla (medians; absolute figure, then x gorilla)")
	fmt.Println()
	fmt.Println("| benchmark | unit | gorilla | wsreconnect | wsreconnect (OnMessage) | gws | coder |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, bench := range r.benches {
		for _, u := range []string{"msg/s", "cpu-ns/msg", "allocs/op", "B/op", "B/client", "goroutines/client"} {
			g, _, ok := r.med(bench, gorilla, u)
			if !ok {
				continue
			}
			cells := []string{}
			for _, impl := range cols {
				x, _, ok := r.med(bench, impl, u)
				switch {
				case !ok:
					cells = append(cells, "-")
				case g == 0:
					cells = append(cells, num(x))
				default:
					cells = append(cells, fmt.Sprintf("%s (%.2fx)", num(x), x/g))
				}
			}
			fmt.Printf("| %s | %s | %s | %s |\n", bench, u, num(g), strings.Join(cells, " | "))
		}
	}
}

// alone prints the benchmarks that measure the Client only.
func (r *results) alone() {
	fmt.Println("## wsreconnect alone (medians)")
	fmt.Println()
	fmt.Println("| benchmark | metric | median | n |")
	fmt.Println("|---|---|---:|---:|")
	for _, bench := range r.benches {
		if _, _, ok := r.med(bench, gorilla, "ns/op"); ok {
			continue
		}
		var us []string
		for k := range r.samples {
			if k.bench == bench && k.impl == ws && k.unit != "ns/op" && k.unit != "B/op" && k.unit != "allocs/op" {
				us = append(us, k.unit)
			}
		}
		sort.Strings(us)
		for _, u := range us {
			v, n, _ := r.med(bench, ws, u)
			fmt.Printf("| %s | %s | %s | %d |\n", bench, u, num(v), n)
		}
	}
}

// scaleFigures prints BenchmarkScale's figures.
func (r *results) scaleFigures() {
	rows := []struct{ name, unit, format string }{
		{"clients in one process", "clients", "%.0f"},
		{"connect all", "connect-ms", "%.0f ms"},
		{"heap per client, idle", "heap-B/client", "%.0f B"},
		{"stack per client, idle", "stack-B/client", "%.0f B"},
		{"heap + stack per client, idle", "B/client", "%.0f B"},
		{"goroutines per client, idle", "goroutines/client", "%.3f"},
		{"RSS", "rss-MB", "%.0f MB"},
		{"idle CPU, default heartbeat (20 s / 10 s)", "idle-cpu-%", "%.2f %% of one core"},
		{"heap + stack per client, a goroutine in Receive", "recv-B/client", "%.0f B"},
		{"goroutines per client, a goroutine in Receive", "recv-goroutines/client", "%.3f"},
		{"server SIGKILLed, back after 1 s: all clients back after (median)", "storm-back-ms", "%.0f ms"},
		{"peak reconnections per 100 ms / clients (median)", "storm-peak-frac", "%.3fx"},
		{"Close of all clients in parallel", "close-ms", "%.0f ms"},
	}
	fmt.Println("## Scale: one process of Clients at their default options (BenchmarkScale)")
	fmt.Println()
	fmt.Println("| figure | wsreconnect |")
	fmt.Println("|---|---:|")
	for _, rw := range rows {
		v, _, ok := r.med("Scale", ws, rw.unit)
		cell := "-"
		if ok {
			cell = fmt.Sprintf(rw.format, v)
		}
		fmt.Printf("| %s | %s |\n", rw.name, cell)
	}
	// BenchmarkFloor: what the heartbeat's write calls cost alone, and a
	// raw gorilla Close of every connection.
	for _, f := range []struct{ mode, how string }{
		{"spread", "one at a time, evenly spread"},
		{"batched", "in batches every 100 ms"},
	} {
		pct, _, ok := r.med("Floor/mode="+f.mode, gorilla, "idle-cpu-%")
		if !ok {
			continue
		}
		per, _, _ := r.med("Floor/mode="+f.mode, gorilla, "cpu-ns/ping")
		fmt.Printf("| floor: gorilla writing the pings alone, %s (no pong read, no timer) | %.2f %% of one core (%.1f µs per ping) |\n",
			f.how, pct, per/1000)
	}
	if v, _, ok := r.med("Floor/mode=close", gorilla, "close-ms"); ok {
		fmt.Printf("| floor: gorilla closing every connection in parallel (close frame, answer, socket) | %.0f ms |\n", v)
	}
}

// verdicts prints every target with data (only those of group when
// group is "scale") and returns how many are missed. A group of targets
// none of whose figures are in the results (the scale targets in run.sh's
// results) is left out with a note.
func (r *results) verdicts(group string) int {
	fmt.Println("## targets")
	fmt.Println()
	fmt.Println("| target | measured | verdict |")
	fmt.Println("|---|---|---|")
	all := targets()
	if group != "" {
		var only []target
		for _, t := range all {
			if t.group == group {
				only = append(only, t)
			}
		}
		all = only
	}
	measuredGroup := map[string]bool{}
	for _, t := range all {
		if _, _, ok := r.evaluate(t); ok {
			measuredGroup[t.group] = true
		}
	}
	missed := 0
	var skipped []string
	for _, t := range all {
		if !measuredGroup[t.group] {
			if len(skipped) == 0 || skipped[len(skipped)-1] != t.group {
				skipped = append(skipped, t.group)
			}
			continue
		}
		shown, ok, have := r.evaluate(t)
		verdict := "holds"
		switch {
		case !have:
			verdict = "not measured"
		case !ok:
			verdict = "MISSED"
			missed++
		}
		fmt.Printf("| %s | %s | %s |\n", t.name, shown, verdict)
	}
	for _, g := range skipped {
		name := g
		if g == "" {
			name = "benchmark (bench/run.sh)"
		} else if g == "scale" {
			name = "scale (bench/scale.sh)"
		}
		fmt.Printf("\n(%s targets: not in these results)\n", name)
	}
	return missed
}

// splitImpl removes the impl=X element from a benchmark name.
func splitImpl(name string) (bench, impl string) {
	parts := strings.Split(name, "/")
	out := parts[:0]
	for _, p := range parts {
		if v, ok := strings.CutPrefix(p, "impl="); ok {
			impl = v
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, "/"), impl
}

func median(s []float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

func slicesMax(s []float64) float64 {
	m := s[0]
	for _, v := range s[1:] {
		m = max(m, v)
	}
	return m
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v <= -1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10 || v <= -10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 1 && v > -1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
