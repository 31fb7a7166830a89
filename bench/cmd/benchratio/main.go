// Command benchratio reads `go test -bench` output and prints, from the
// medians of all runs, the ratio wsreconnect/gorilla of every metric of the
// benchmarks that measure both (sub-benchmark impl=), the figures of the
// benchmarks that measure the Client alone, and whether each target of the
// performance issue holds. It exits 1 when a target is missed and -strict is
// given.
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

func main() {
	strict := flag.Bool("strict", false, "exit 1 when a target is missed")
	flag.Parse()
	samples := map[key][]float64{}
	var benches []string
	seen := map[string]bool{}
	read := func(r io.Reader) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
				continue
			}
			name := gomaxprocs.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
			bench, impl := splitImpl(name)
			if !seen[bench] {
				seen[bench] = true
				benches = append(benches, bench)
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				k := key{bench, impl, f[i+1]}
				samples[k] = append(samples[k], v)
			}
		}
	}
	if flag.NArg() == 0 {
		read(os.Stdin)
	}
	for _, path := range flag.Args() {
		fh, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		read(fh)
		fh.Close()
	}
	med := func(bench, impl, unit string) (float64, int, bool) {
		s := samples[key{bench, impl, unit}]
		if len(s) == 0 {
			return 0, 0, false
		}
		return median(s), len(s), true
	}

	// Side by side.
	units := []string{"msg/s", "MB/s", "ns/op", "cpu-ns/msg", "allocs/op", "B/op", "B/client", "heap-B/client", "stack-B/client", "sys-B/client", "goroutines/client"}
	sideBySide := func(impl, title, column string) {
		fmt.Println("## " + title + " (medians)")
		fmt.Println()
		fmt.Printf("| benchmark | unit | gorilla | %s | ratio | n |\n", column)
		fmt.Println("|---|---|---:|---:|---:|---:|")
		for _, bench := range benches {
			for _, u := range units {
				g, n1, ok1 := med(bench, "gorilla", u)
				w, n2, ok2 := med(bench, impl, u)
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
	const onMessage = "wsreconnect-onmessage"
	sideBySide("wsreconnect", "wsreconnect / gorilla", "wsreconnect")
	fmt.Println()
	sideBySide(onMessage, "wsreconnect with WithOnMessage / gorilla", "wsreconnect (OnMessage)")

	// The Client alone.
	fmt.Println()
	fmt.Println("## wsreconnect alone (medians)")
	fmt.Println()
	fmt.Println("| benchmark | metric | median | n |")
	fmt.Println("|---|---|---:|---:|")
	for _, bench := range benches {
		if _, _, ok := med(bench, "gorilla", "ns/op"); ok {
			continue
		}
		var us []string
		for k := range samples {
			if k.bench == bench && k.impl == "wsreconnect" && k.unit != "ns/op" && k.unit != "B/op" && k.unit != "allocs/op" {
				us = append(us, k.unit)
			}
		}
		sort.Strings(us)
		for _, u := range us {
			v, n, _ := med(bench, "wsreconnect", u)
			fmt.Printf("| %s | %s | %s | %d |\n", bench, u, num(v), n)
		}
	}

	// Targets.
	fmt.Println()
	fmt.Println("## targets")
	fmt.Println()
	fmt.Println("| target | measured | verdict |")
	fmt.Println("|---|---|---|")
	missed := 0
	check := func(name string, measured string, ok, have bool) {
		verdict := "holds"
		switch {
		case !have:
			verdict = "not measured"
		case !ok:
			verdict = "MISSED"
			missed++
		}
		fmt.Printf("| %s | %s | %s |\n", name, measured, verdict)
	}
	ratioOf := func(impl, bench, unit string) (float64, bool) {
		g, _, ok1 := med(bench, "gorilla", unit)
		w, _, ok2 := med(bench, impl, unit)
		if !ok1 || !ok2 || g == 0 {
			return 0, false
		}
		return w / g, true
	}
	ratio := func(bench, unit string) (float64, bool) { return ratioOf("wsreconnect", bench, unit) }
	for _, t := range []struct {
		size string
		min  float64
	}{{"16B", 0.85}, {"1KiB", 0.90}, {"64KiB", 0.90}} {
		r, ok := ratio("Pipelined/size="+t.size, "msg/s")
		check(fmt.Sprintf("pipelined throughput %s >= %.2fx gorilla", t.size, t.min), fmt.Sprintf("%.2fx", r), r >= t.min, ok)
	}
	for _, mode := range []string{"Pipelined", "RoundTrip"} {
		for _, size := range []string{"16B", "1KiB", "64KiB"} {
			r, ok := ratio(mode+"/size="+size, "cpu-ns/msg")
			check(fmt.Sprintf("%s %s CPU per message <= 1.15x", mode, size), fmt.Sprintf("%.2fx", r), r <= 1.15, ok)
		}
	}
	for _, mode := range []string{"Pipelined", "RoundTrip"} {
		for _, size := range []string{"16B", "1KiB", "64KiB"} {
			b := mode + "/size=" + size
			if _, _, have := med(b, onMessage, "cpu-ns/msg"); !have {
				continue
			}
			r, ok := ratioOf(onMessage, b, "cpu-ns/msg")
			check(fmt.Sprintf("%s %s CPU per message with WithOnMessage <= 1.15x", mode, size), fmt.Sprintf("%.2fx", r), r <= 1.15, ok)
			t, ok := ratioOf(onMessage, b, "msg/s")
			check(fmt.Sprintf("%s %s throughput with WithOnMessage >= 0.90x", mode, size), fmt.Sprintf("%.2fx", t), t >= 0.90, ok)
		}
	}
	for _, mode := range []string{"Pipelined", "RoundTrip"} {
		for _, size := range []string{"16B", "1KiB", "64KiB"} {
			b := mode + "/size=" + size
			g, _, ok1 := med(b, "gorilla", "allocs/op")
			w, _, ok2 := med(b, "wsreconnect", "allocs/op")
			check(fmt.Sprintf("%s %s allocs/op <= gorilla + 1", mode, size), fmt.Sprintf("%s vs %s", num(w), num(g)), w <= g+1, ok1 && ok2)
		}
	}
	for _, pool := range []string{"none", "shared"} {
		b := "Idle/pool=" + pool
		w, _, ok := med(b, "wsreconnect", "goroutines/client")
		check(fmt.Sprintf("idle (write-buffer pool %s): <= 2 goroutines per client", pool), num(w), w <= 2, ok)
		r, ok := ratio(b, "B/client")
		check(fmt.Sprintf("idle (write-buffer pool %s): bytes per client <= 1.25x gorilla", pool), fmt.Sprintf("%.2fx", r), r <= 1.25, ok)
	}
	g, _, ok := med("ReconnectLeak/forced=100", "wsreconnect", "goroutines-delta")
	check("after 100 forced reconnects: goroutines back to baseline", fmt.Sprintf("%+.0f", g), g <= 0, ok)
	h, _, ok := med("ReconnectLeak/forced=100", "wsreconnect", "heap-live-delta-B")
	check("after 100 forced reconnects: live heap back to baseline (< 16 KiB)", fmt.Sprintf("%+.0f B", h), h < 16<<10, ok)
	on, _, ok1 := med("Storm/jitter=on", "wsreconnect", "peak-per-100ms")
	off, _, ok2 := med("Storm/jitter=off", "wsreconnect", "peak-per-100ms")
	check("storm: jittered peak <= 0.25x no-jitter peak", fmt.Sprintf("%s / %s = %.2fx", num(on), num(off), on/off), on <= 0.25*off, ok1 && ok2)
	p99, _, ok1 := med("Storm/jitter=on", "wsreconnect", "p99-ms")
	bound, _, ok2 := med("Storm/jitter=on", "wsreconnect", "bound-ms")
	check("storm: p99 reconnect within the backoff bound", fmt.Sprintf("%s ms <= %s ms", num(p99), num(bound)), p99 <= bound, ok1 && ok2)
	for k := range samples {
		if strings.HasPrefix(k.bench, "DeadPeer/") && k.unit == "over-timeout-ms" {
			over, _, _ := med(k.bench, k.impl, k.unit)
			worst := slicesMax(samples[k])
			check("dead peer detected within timeout + 50 ms ("+strings.TrimPrefix(k.bench, "DeadPeer/")+")",
				fmt.Sprintf("median +%.1f ms, worst +%.1f ms", over, worst), worst <= 50, true)
		}
	}
	fmt.Println()
	fmt.Printf("%d target(s) missed\n", missed)
	if *strict && missed > 0 {
		os.Exit(1)
	}
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
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
