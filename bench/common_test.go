package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsreconnect/wsreconnect"
)

var (
	stormSVG   = flag.String("storm.svg", "", "write the restart-storm chart (SVG) of the last storm run to this file")
	echoBinary = flag.String("echoserver", "", "path of a built echoserver; built from ./echoserver when empty")
	peerImpl   = flag.String("peer", "gws", "implementation of the echo server process: gws or gorilla")
	clientRead = flag.Int("client.readbuffer", 0, "the Client's dialer ReadBufferSize in the echo benchmarks (0: the Client's default, 128 B with pooled read-ahead)")
)

// echoPath is the echo server binary used by every benchmark.
var echoPath string

func TestMain(m *testing.M) {
	flag.Parse()
	raiseFileLimit()
	code := func() int {
		if *echoBinary != "" {
			echoPath = *echoBinary
		} else {
			dir, err := os.MkdirTemp("", "wsbench")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			echoPath = filepath.Join(dir, "echoserver")
			build := exec.Command("go", "build", "-o", echoPath, "./echoserver")
			build.Stdout, build.Stderr = os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building the echo server:", err)
				return 1
			}
		}
		defer stopSharedPeer()
		code := m.Run()
		if *stormSVG != "" && code == 0 {
			if err := writeStormChart(*stormSVG); err != nil {
				fmt.Fprintln(os.Stderr, "storm chart:", err)
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// raiseFileLimit lifts the soft limit on open files to the hard limit: the
// idle and storm benchmarks hold a thousand connections.
func raiseFileLimit() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// needFiles skips the benchmark when the process may not open n files.
func needFiles(tb testing.TB, n uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < n {
		tb.Skipf("needs %d open files, limit is %d (raise ulimit -n)", n, rl.Cur)
	}
}

// peer is an echo server process, driven through its standard input.
type peer struct {
	cmd   *exec.Cmd
	addr  string   // the first listening address
	addrs []string // every listening address
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex // one command at a time
}

func startPeer(tb testing.TB) *peer {
	tb.Helper()
	p, err := newPeer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.stop)
	return p
}

func newPeer(args ...string) (*peer, error) {
	cmd := exec.Command(echoPath, append([]string{"-impl=" + *peerImpl}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peer{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	line, err := p.readLine(10 * time.Second)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("echo server did not start: %w", err)
	}
	p.addrs = strings.Fields(line)
	if len(p.addrs) == 0 {
		p.stop()
		return nil, fmt.Errorf("echo server printed no address: %q", line)
	}
	p.addr = p.addrs[0]
	return p, nil
}

func (p *peer) readLine(timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("echo server exited")
		}
		return line, nil
	case <-t.C:
		return "", errors.New("echo server did not answer in time")
	}
}

// do sends one command and returns the rest of its "ok" answer.
func (p *peer) do(tb testing.TB, command string) string {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.stdin, command+"\n"); err != nil {
		tb.Fatalf("echo server %q: %v", command, err)
	}
	line, err := p.readLine(30 * time.Second)
	if err != nil {
		tb.Fatalf("echo server %q: %v", command, err)
	}
	rest, ok := strings.CutPrefix(line, "ok")
	if !ok {
		tb.Fatalf("echo server %q: %s", command, line)
	}
	return strings.TrimSpace(rest)
}

// url is the echo URL; path "/discard" reads without answering.
func (p *peer) url(path string) string { return "ws://" + p.addr + path }

func (p *peer) stop() {
	p.stdin.Close() // the server exits when its input ends
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.cmd.Process.Kill()
		<-done
	}
}

var (
	sharedOnce sync.Once
	shared     *peer
	sharedErr  error
)

// sharedPeer is the echo server the throughput benchmarks share; it is
// stopped when the test binary ends.
func sharedPeer(tb testing.TB) *peer {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newPeer() })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

func stopSharedPeer() {
	if shared != nil {
		shared.stop()
	}
}

// cpuTime is the user+system CPU time this process used so far. The echo
// server is another process, so this counts the client side only.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcStats runs the garbage collector until the heap is settled and returns
// the memory figures and the goroutine count.
func gcStats() (runtime.MemStats, int) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms, runtime.NumGoroutine()
}

// waitGoroutines waits until at most n goroutines run, or the deadline
// passes, and returns the last count.
func waitGoroutines(n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := runtime.NumGoroutine()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		<-tick.C
	}
}

// rawDial opens a plain gorilla connection with the same dialer settings
// the Client uses by default.
func rawDial(ctx context.Context, url string) (*websocket.Conn, error) {
	d := *websocket.DefaultDialer
	ws, _, err := d.DialContext(ctx, url, nil)
	return ws, err
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// clientOptions are the options the echo benchmarks give the Client.
func clientOptions(opts ...wsreconnect.Option) []wsreconnect.Option {
	if *clientRead > 0 {
		d := *websocket.DefaultDialer
		d.ReadBufferSize = *clientRead
		opts = append(opts, wsreconnect.WithDialer(&d))
	}
	return opts
}
