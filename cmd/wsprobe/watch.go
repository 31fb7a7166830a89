package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wsreconnect/wsreconnect"
)

// watcher prints one line per event of a reconnecting client.
type watcher struct {
	cfg *config
	sc  *scrubber
	out io.Writer

	mu         sync.Mutex // the hooks and the summary write in turn
	handshakes int
	aborted    bool
}

func (w *watcher) print(e Event, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.json {
		_ = writeJSON(w.out, w.sc, e)
		return
	}
	line := e.At.Format("15:04:05.000") + " " + text + "\n"
	_, _ = w.out.Write(w.sc.scrub([]byte(line)))
}

// watch runs the SDK's reconnecting client with its default policy until
// ctx ends (Ctrl-C) or the client aborts.
func watch(ctx context.Context, cfg *config, sc *scrubber, stdout, stderr io.Writer) int {
	start := time.Now()
	w := &watcher{cfg: cfg, sc: sc, out: stdout}
	hb, hbTimeout := cfg.heartbeat, cfg.heartbeat/2
	if hbTimeout == 0 {
		hb = 0
	}
	opts := []wsreconnect.Option{
		wsreconnect.WithDialer(cfg.dialer(cfg.compress)),
		wsreconnect.WithHandshakeTimeout(cfg.timeout),
		wsreconnect.WithHeartbeat(hb, hbTimeout),
		wsreconnect.WithOnHandshake(func(h wsreconnect.Handshake) {
			w.sc.addHeader(h.Header)
			w.mu.Lock()
			w.handshakes++
			w.mu.Unlock()
			hr := handshakeReport(h, cfg.compress)
			text := "handshake " + handshakeLine(hr)
			if hr.Error != "" {
				text += ": " + hr.Error
			}
			w.print(Event{SchemaVersion: schemaVersion, Type: "event", Event: "handshake", At: time.Now(), Handshake: hr}, text)
		}),
		wsreconnect.WithOnStateChange(func(_, to wsreconnect.State) {
			if to == wsreconnect.StateConnected {
				w.print(Event{SchemaVersion: schemaVersion, Type: "event", Event: "connected", At: time.Now()}, "connected")
			}
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			dr := disconnectReport("watch", d, time.Now(), a)
			if a == wsreconnect.Abort {
				w.mu.Lock()
				w.aborted = true
				w.mu.Unlock()
			}
			text := "disconnect " + a.String()
			if d.Uptime > 0 {
				text += " after " + fmtMs(ms(d.Uptime)) + " up"
			}
			w.print(Event{SchemaVersion: schemaVersion, Type: "event", Event: "disconnect", At: dr.At, Disconnect: &dr}, text+": "+d.Explain())
		}),
		wsreconnect.WithOnMessage(func(wsreconnect.MessageType, []byte) {}),
	}
	if len(cfg.header) > 0 {
		opts = append(opts, wsreconnect.WithHeader(cfg.header))
	}
	c, err := wsreconnect.New(cfg.url, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "wsprobe: %v\n", err)
		return exitUsage
	}
	select {
	case <-ctx.Done():
	case <-c.Done():
	}
	c.Close()
	st := c.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	wr := &WatchReport{Handshakes: w.handshakes, Connects: st.Connects, Disconnects: map[string]int64{}, Aborted: w.aborted}
	codes := make([]int, 0, len(st.Disconnects))
	for code := range st.Disconnects {
		codes = append(codes, int(code))
	}
	sort.Ints(codes)
	for _, code := range codes {
		name := "failed attempt"
		if code != 0 {
			name = strconv.Itoa(code)
		}
		wr.Disconnects[name] = st.Disconnects[wsreconnect.CloseCode(code)]
	}
	if reason := c.Err(); reason != nil {
		wr.Aborted, wr.Abort = true, reason.Error()
	}
	rep := &Report{
		SchemaVersion: schemaVersion,
		Type:          "report",
		Mode:          "watch",
		URL:           showURL(cfg.url),
		Started:       start.UTC(),
		DurationMs:    ms(time.Since(start)),
		Verdict:       verdictHealthy,
		ExitCode:      exitOK,
		RequestHeader: redactHeader(cfg.header),
		Watch:         wr,
		Disconnects:   []DisconnectReport{},
		Problems:      []string{},
	}
	if wr.Aborted {
		rep.Verdict, rep.ExitCode = verdictAborted, exitFail
	}
	var buf bytes.Buffer
	if cfg.json {
		err = writeJSON(&buf, sc, rep)
	} else {
		err = writeText(&buf, sc, rep)
	}
	if err == nil {
		_, err = stdout.Write(buf.Bytes())
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsprobe: %v\n", err)
		return exitFail
	}
	return rep.ExitCode
}
