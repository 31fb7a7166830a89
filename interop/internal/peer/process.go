package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PythonBin is the interpreter the Python peer runs with: the system one,
// where Debian's python3-websockets is installed.
const PythonBin = "/usr/bin/python3"

// Process is a scenario server running as a child process (the Node or the
// Python peer). It can be killed and started again on the same port.
type Process struct {
	// Name is "node" or "python".
	Name string
	// Port is the port the server listens on; it stays the same across
	// restarts.
	Port int

	t    testing.TB
	dir  string
	argv func(port int) []string
	env  []string
	logs logBuffer  // stdout and stderr of every run, for failure reports
	mu   sync.Mutex // guards cmd and exited
	cmd  *exec.Cmd
	// exited is closed when the current child has been waited for.
	exited <-chan struct{}
}

// NodeOptions tune a Node peer.
type NodeOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// RecordFile, when set, receives every recorded text message as
	// "key\ttext\n", written synchronously so it survives SIGKILL.
	RecordFile string
	// SinkFile is the log of the /sink scenario (SINK_FILE): one line per
	// text message, fsynced before the message is acknowledged.
	SinkFile string
}

// PythonOptions tune a Python peer.
type PythonOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// PingInterval and PingTimeout turn on the library's own keepalive
	// (zero leaves it off).
	PingInterval, PingTimeout time.Duration
	// SinkFile is the log of the /sink scenario (SINK_FILE): one line per
	// text message, fsynced before the message is acknowledged.
	SinkFile string
}

// NodeAvailable reports whether the Node peer can run: node on PATH and the
// peer's node_modules installed.
func NodeAvailable() (bool, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return false, "node is not on PATH"
	}
	ws := filepath.Join(peersDir(), "node", "node_modules", "ws", "package.json")
	if _, err := os.Stat(ws); err != nil {
		return false, "ws is not installed: run `npm ci` in interop/peers/node (or bash interop/run.sh)"
	}
	return true, ""
}

var pythonCheck struct {
	once sync.Once
	ok   bool
	why  string
}

// PythonAvailable reports whether /usr/bin/python3 can import websockets.
func PythonAvailable() (bool, string) {
	pythonCheck.once.Do(func() {
		if _, err := os.Stat(PythonBin); err != nil {
			pythonCheck.why = PythonBin + " does not exist"
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, PythonBin, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
		if err != nil {
			pythonCheck.why = fmt.Sprintf("%s cannot import websockets (%v: %s); apt-get install python3-websockets",
				PythonBin, err, strings.TrimSpace(string(out)))
			return
		}
		pythonCheck.ok = true
	})
	return pythonCheck.ok, pythonCheck.why
}

// StartNode starts the Node `ws` scenario server and waits until it serves.
func StartNode(t testing.TB, opts NodeOptions) *Process {
	t.Helper()
	ok, why := NodeAvailable()
	Require(t, ok, "Node ws peer", why)
	p := &Process{
		Name: "node",
		Port: opts.Port,
		t:    t,
		dir:  filepath.Join(peersDir(), "node"),
		argv: func(port int) []string { return []string{"node", "server.js", strconv.Itoa(port)} },
	}
	if opts.RecordFile != "" {
		p.env = append(p.env, "RECORD_FILE="+opts.RecordFile)
	}
	if opts.SinkFile != "" {
		p.env = append(p.env, "SINK_FILE="+opts.SinkFile)
	}
	p.start(t)
	return p
}

// StartPython starts the Python `websockets` scenario server and waits until
// it serves.
func StartPython(t testing.TB, opts PythonOptions) *Process {
	t.Helper()
	ok, why := PythonAvailable()
	Require(t, ok, "Python websockets peer", why)
	p := &Process{
		Name: "python",
		Port: opts.Port,
		t:    t,
		dir:  filepath.Join(peersDir(), "python"),
		argv: func(port int) []string {
			a := []string{PythonBin, "-u", "server.py", "--port", strconv.Itoa(port)}
			if opts.PingInterval > 0 {
				a = append(a, "--ping-interval", strconv.FormatFloat(opts.PingInterval.Seconds(), 'f', -1, 64))
			}
			if opts.PingTimeout > 0 {
				a = append(a, "--ping-timeout", strconv.FormatFloat(opts.PingTimeout.Seconds(), 'f', -1, 64))
			}
			return a
		},
		env: []string{"PYTHONDONTWRITEBYTECODE=1"},
	}
	if opts.SinkFile != "" {
		p.env = append(p.env, "SINK_FILE="+opts.SinkFile)
	}
	p.start(t)
	return p
}

// Addr is host:port of the server.
func (p *Process) Addr() string { return net.JoinHostPort(Host, strconv.Itoa(p.Port)) }

// StatsAddr is where /stats is served.
func (p *Process) StatsAddr() string { return p.Addr() }

// URL returns ws://host:port followed by pathAndQuery (which starts with /).
func (p *Process) URL(pathAndQuery string) string { return "ws://" + p.Addr() + pathAndQuery }

// firstLine is an io.Writer that hands the first line written to it to a
// channel and copies everything to the log.
type firstLine struct {
	mu   sync.Mutex
	log  *logBuffer
	line chan string
	sent bool
	acc  []byte
}

func (w *firstLine) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.log.Write(b)
	if !w.sent {
		w.acc = append(w.acc, b...)
		if i := bytes.IndexByte(w.acc, '\n'); i >= 0 {
			w.sent = true
			w.line <- strings.TrimSpace(string(w.acc[:i]))
		}
	}
	return len(b), nil
}

// logBuffer is a bytes.Buffer safe for the concurrent writers exec uses.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends b.
func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// tail returns the last n bytes written.
func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// start launches the child, reads the port from its first stdout line and
// waits until GET /healthz answers. The first start registers the cleanup.
func (p *Process) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	first := p.cmd == nil
	p.mu.Unlock()
	var lastErr error
	// A restart on a fixed port may race with the old socket being released:
	// retry a few times within the start deadline.
	deadline := time.Now().Add(StartTimeout)
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		lastErr = p.startOnce(deadline)
		if lastErr == nil {
			break
		}
		if p.Port == 0 || attempt >= 5 {
			break
		}
	}
	if first {
		t.Cleanup(func() {
			p.stop(syscall.SIGKILL)
			if t.Failed() {
				t.Logf("%s peer output (last 4 KiB):\n%s", p.Name, p.tail(4096))
			}
		})
	}
	if lastErr != nil {
		t.Fatalf("start %s peer: %v\noutput:\n%s", p.Name, lastErr, p.tail(4096))
	}
}

// startWatched starts cmd and waits for it in the background: exited is
// closed once it has been waited for, and waitErr then gives Wait's result.
func startWatched(cmd *exec.Cmd) (exited <-chan struct{}, waitErr func() error, err error) {
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	var werr error
	go func() {
		werr = cmd.Wait()
		close(done)
	}()
	return done, func() error { <-done; return werr }, nil
}

func (p *Process) startOnce(deadline time.Time) error {
	argv := p.argv(p.Port)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), p.env...)
	lines := make(chan string, 1)
	cmd.Stdout = &firstLine{log: &p.logs, line: lines}
	cmd.Stderr = &p.logs
	cmd.WaitDelay = 2 * time.Second
	exited, waitErr, err := startWatched(cmd)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case line := <-lines:
		port, err := strconv.Atoi(line)
		if err != nil || port <= 0 {
			p.stop(syscall.SIGKILL)
			return fmt.Errorf("first line %q is not a port", line)
		}
		if p.Port != 0 && port != p.Port {
			p.stop(syscall.SIGKILL)
			return fmt.Errorf("listening on %d, want %d", port, p.Port)
		}
		p.Port = port
	case <-exited:
		return fmt.Errorf("exited before listening: %v", waitErr())
	case <-timer.C:
		p.stop(syscall.SIGKILL)
		return errors.New("no port printed before the start deadline")
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := waitHTTP(ctx, p.Addr(), "/healthz", func(s int) bool { return s == 200 }); err != nil {
		p.stop(syscall.SIGKILL)
		return err
	}
	return nil
}

// Kill sends sig to the server and waits (up to 5 s, then SIGKILL) until it
// has exited.
func (p *Process) Kill(sig syscall.Signal) {
	p.t.Helper()
	if !p.stop(sig) {
		p.t.Errorf("%s peer did not exit within 5s of %v; killed", p.Name, sig)
	}
}

// Restart starts the server again on the same port. The previous process
// must have been killed.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	running := p.exited != nil
	if running {
		select {
		case <-p.exited:
			running = false
		default:
		}
	}
	p.mu.Unlock()
	if running {
		t.Fatalf("%s peer restarted while still running", p.Name)
	}
	p.start(t)
}

// PID returns the process id of the current child, or 0.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop signals the current child and waits for it; it reports false when
// the child had to be killed after a 5 s grace.
func (p *Process) stop(sig syscall.Signal) bool {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-exited:
		return true
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		return false
	}
}

// tail returns the last n bytes of the peer's output.
func (p *Process) tail(n int) string { return p.logs.tail(n) }
