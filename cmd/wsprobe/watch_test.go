package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// lines is an io.Writer that hands each write (one line or one report)
// to a channel as well as keeping it.
type lines struct {
	mu  sync.Mutex
	all bytes.Buffer
	ch  chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 256)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.all.Write(p)
	l.mu.Unlock()
	select {
	case l.ch <- string(p):
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// waitFor waits until n writes containing s have been seen.
func (l *lines) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for seen := 0; seen < n; {
		select {
		case w := <-l.ch:
			if strings.Contains(w, s) {
				seen++
			}
		case <-deadline.C:
			t.Fatalf("not %d lines with %q within 15s:\n%s", n, s, l.String())
		}
	}
}

func TestWatchUntilInterrupted(t *testing.T) {
	s := wstest.NewServer(t, wstest.Script(1, wstest.Close(1012, "restart")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newLines()
	var errOut bytes.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-watch", "-heartbeat", "1s", s.URL}, out, &errOut) }()
	out.waitFor(t, " connected\n", 2)
	cancel() // Ctrl-C
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit %d, want 0 after an interrupt without an abort", c)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not end within 15s of the interrupt")
	}
	text := out.String()
	for _, want := range []string{
		" handshake 101 Switching Protocols in ",
		" disconnect reconnect after ",
		`1012 (service restart) with reason "restart"`,
		"next attempt in ",
		"Watch         2 handshakes, 2 connections; disconnects: 1012 ×1",
		"Verdict       healthy (exit 0)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestWatchEndsOnAbort(t *testing.T) {
	s := wstest.NewServer(t, wstest.Default(wstest.Close(1008, "go away")))
	code, out, _ := probeRun(t, "-watch", "-json", s.URL)
	if code != exitFail {
		t.Errorf("exit %d, want 1 after an abort", code)
	}
	var events []string
	var last Report
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var head struct {
			SchemaVersion int    `json:"schema_version"`
			Type          string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &head); err != nil || head.SchemaVersion != 1 {
			t.Fatalf("line %q: %v (schema_version %d)", line, err, head.SchemaVersion)
		}
		if head.Type == "report" {
			if err := json.Unmarshal([]byte(line), &last); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e.Event)
		if e.Event == "disconnect" && (e.Disconnect == nil || e.Disconnect.Code != 1008 || e.Disconnect.Action != "abort") {
			t.Errorf("disconnect %+v, want 1008 and abort", e.Disconnect)
		}
	}
	if got := strings.Join(events, ","); got != "handshake,connected,disconnect" {
		t.Errorf("events %s, want handshake,connected,disconnect", got)
	}
	if last.Watch == nil || !last.Watch.Aborted || last.Verdict != verdictAborted || last.Mode != "watch" {
		t.Errorf("report %+v, want an aborted watch", last)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "wsprobe-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "wsprobe")
		var goBin string
		if goBin, buildErr = exec.LookPath("go"); buildErr != nil {
			return
		}
		var out []byte
		out, buildErr = exec.Command(goBin, "build", "-o", binPath, ".").CombinedOutput()
		if buildErr != nil {
			buildErr = &buildError{buildErr, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the command did not run: %v", err)
	}
	return ee.ExitCode()
}

func TestBinary(t *testing.T) {
	bin := binary(t)
	s := wstest.NewServer(t, wstest.Default(wstest.ReadLimit(300)), wstest.WithRecordLimit(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := exec.CommandContext(ctx, bin, "-json", "-pings", "2", "-max-size=1KiB", s.URL+"?token=abcdefgh12345").Output()
	if code := exitCode(t, err); code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.SizeLimit == nil || r.SizeLimit.LimitBytes != 300 || r.Ping == nil || r.Ping.Count != 2 {
		t.Errorf("report %+v", r)
	}
	if strings.Contains(string(out), "abcdefgh12345") {
		t.Errorf("the query is in the output:\n%s", out)
	}

	cmd := exec.CommandContext(ctx, bin, "-pings", "x", s.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if code := exitCode(t, cmd.Run()); code != exitUsage || !strings.Contains(stderr.String(), "-pings") {
		t.Errorf("bad usage: exit %d, stderr %q; want 2", code, stderr.String())
	}

	if code := exitCode(t, exec.CommandContext(ctx, bin, deadURL(t)).Run()); code != exitFail {
		t.Errorf("unreachable: exit %d, want 1", code)
	}
}

// TestBinaryWatchInterrupted: SIGINT (Ctrl-C) ends -watch with exit 0 and
// a summary.
func TestBinaryWatchInterrupted(t *testing.T) {
	bin := binary(t)
	s := wstest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-watch", s.URL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var text strings.Builder
	for sc.Scan() {
		text.WriteString(sc.Text() + "\n")
		if strings.HasSuffix(sc.Text(), " connected") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		text.WriteString(sc.Text() + "\n")
	}
	if code := exitCode(t, cmd.Wait()); code != exitOK {
		t.Errorf("exit %d after SIGINT, want 0:\n%s", code, text.String())
	}
	if !strings.Contains(text.String(), "Watch         1 handshakes, 1 connections") {
		t.Errorf("no summary:\n%s", text.String())
	}
}
