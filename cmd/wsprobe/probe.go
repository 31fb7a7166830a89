package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/wsreconnect/wsreconnect"
)

// prober runs the one-shot probes and fills the report.
type prober struct {
	cfg *config
	sc  *scrubber
	rep *Report
}

// event is a disconnect as a probe connection's OnDisconnect hook saw it.
type event struct {
	d  wsreconnect.Disconnect
	at time.Time
}

// probeConn is one client of the probe, for one connection: its policy
// aborts on every disconnect, so that the probe, not the SDK, decides what
// to try next.
type probeConn struct {
	c      *wsreconnect.Client
	hs     chan wsreconnect.Handshake
	disc   chan event
	echoes chan []byte
}

func (p *prober) dial(ctx context.Context, compress bool) (*probeConn, error) {
	s := &probeConn{
		hs:     make(chan wsreconnect.Handshake, 1),
		disc:   make(chan event, 1),
		echoes: make(chan []byte, 64),
	}
	readLimit := int64(max(p.cfg.maxSize, wsreconnect.DefaultReadLimit))
	opts := []wsreconnect.Option{
		wsreconnect.WithDialer(p.cfg.dialer(compress)),
		wsreconnect.WithHandshakeTimeout(p.cfg.timeout),
		wsreconnect.WithHeartbeat(0, 0), // the probe pings only when it means to
		wsreconnect.WithPolicy(func(wsreconnect.Disconnect) wsreconnect.Action { return wsreconnect.Abort }),
		wsreconnect.WithCloseTimeout(min(p.cfg.timeout, wsreconnect.DefaultCloseTimeout)),
		wsreconnect.WithReadLimit(min(readLimit, wsreconnect.MaxReadLimit)),
		wsreconnect.WithOnHandshake(func(h wsreconnect.Handshake) {
			select {
			case s.hs <- h:
			default:
			}
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, _ wsreconnect.Action) {
			select {
			case s.disc <- event{d: d, at: time.Now()}:
			default:
			}
		}),
		wsreconnect.WithOnMessage(func(_ wsreconnect.MessageType, data []byte) {
			if len(data) <= 256 { // echoes of the echo probe; the rest is dropped
				select {
				case s.echoes <- append([]byte(nil), data...):
				default:
				}
			}
		}),
	}
	if len(p.cfg.header) > 0 {
		opts = append(opts, wsreconnect.WithHeader(p.cfg.header))
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.timeout+time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(dctx, p.cfg.url, opts...)
	s.c = c
	return s, err
}

// handshake returns the probe connection's handshake, if its hook ran.
func (s *probeConn) handshake() (wsreconnect.Handshake, bool) {
	select {
	case h := <-s.hs:
		return h, true
	default:
		return wsreconnect.Handshake{}, false
	}
}

// waitDisconnect waits up to d for the probe connection's disconnect.
func (s *probeConn) waitDisconnect(ctx context.Context, d time.Duration) (event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case ev := <-s.disc:
		return ev, true
	case <-t.C:
		return event{}, false
	case <-ctx.Done():
		return event{}, false
	}
}

// pendingDisconnect returns a disconnect that already happened.
func (s *probeConn) pendingDisconnect() (event, bool) {
	select {
	case ev := <-s.disc:
		return ev, true
	default:
		return event{}, false
	}
}

func (s *probeConn) close() {
	if s.c != nil {
		s.c.Close()
	}
}

// gone reports whether err, from Ping or Send, means that the connection
// ended (rather than that the wait timed out).
func gone(err error) bool {
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

func (s *probeConn) up() bool { return s.c != nil && s.c.State() == wsreconnect.StateConnected }

// addDisconnect records ev, seen during phase.
func (p *prober) addDisconnect(phase string, ev event) {
	p.rep.Disconnects = append(p.rep.Disconnects, disconnectReport(phase, ev.d, ev.at, wsreconnect.DefaultPolicy(ev.d)))
}

func (p *prober) problem(format string, args ...any) {
	p.rep.Problems = append(p.rep.Problems, fmt.Sprintf(format, args...))
}

// lost records the end of the main connection found during phase.
func (p *prober) lost(ctx context.Context, s *probeConn, phase string) {
	if ev, ok := s.waitDisconnect(ctx, p.cfg.timeout); ok {
		p.addDisconnect(phase, ev)
		p.problem("the connection ended during the %s probe: %s", phase, closeText(ev.d))
		return
	}
	p.problem("the %s probe could not finish", phase)
}

func closeText(d wsreconnect.Disconnect) string {
	if d.Code == 0 {
		if d.Err != nil {
			return d.Err.Error()
		}
		return "failed attempt"
	}
	s := d.Code.String()
	if d.Reason != "" {
		s += fmt.Sprintf(" %q", d.Reason)
	}
	return s
}

// probe runs every probe the configuration asks for.
func probe(ctx context.Context, cfg *config, sc *scrubber) *Report {
	start := time.Now()
	p := &prober{cfg: cfg, sc: sc, rep: &Report{
		SchemaVersion: schemaVersion,
		Type:          "report",
		Mode:          "probe",
		URL:           showURL(cfg.url),
		Started:       start.UTC(),
		RequestHeader: redactHeader(cfg.header),
		Disconnects:   []DisconnectReport{},
		Problems:      []string{},
	}}
	defer func() {
		p.rep.DurationMs = ms(time.Since(start))
		p.finish()
	}()

	s, err := p.dial(ctx, cfg.compress)
	h, hsSeen := s.handshake()
	if hsSeen {
		p.rep.Handshake = handshakeReport(h, cfg.compress)
		sc.addHeader(h.Header)
	}
	if err != nil {
		s.close()
		if p.rep.Handshake == nil {
			p.rep.Handshake = &HandshakeReport{Error: err.Error()}
		}
		if hsSeen && h.Err == nil {
			// The upgrade succeeded, and the connection ended at once.
			if ev, ok := s.pendingDisconnect(); ok {
				p.addDisconnect("connect", ev)
				p.problem("the connection ended right after the handshake: %s", closeText(ev.d))
			} else {
				p.problem("the connection ended right after the handshake: %v", err)
			}
			return p.rep
		}
		if ev, ok := s.pendingDisconnect(); ok {
			p.addDisconnect("handshake", ev)
			p.rep.Handshake.Explain = ev.d.Explain()
		}
		if p.rep.Handshake.Status == 0 {
			p.rep.Verdict = verdictUnreachable
		} else {
			p.rep.Verdict = verdictRefused
		}
		if ctx.Err() != nil {
			p.problem("interrupted during the handshake")
		}
		return p.rep
	}
	keep := pingTracker{start: time.Now()}
	if cfg.pings > 0 {
		p.rep.Ping = p.pingProbe(ctx, s)
	}
	if cfg.echo && cfg.pings > 0 && s.up() {
		p.rep.Echo = p.echoProbe(ctx, s)
	}
	keep.observe(s.c.Stats())
	if cfg.idle {
		p.rep.Idle = p.idleProbe(ctx, s, &keep)
	}
	keep.observe(s.c.Stats())
	p.rep.Keepalive = keep.report()
	if ev, ok := s.pendingDisconnect(); ok {
		p.addDisconnect("close", ev)
		p.problem("the connection ended before the probe closed it: %s", closeText(ev.d))
	}
	s.close()
	if cfg.maxSize > 0 && ctx.Err() == nil {
		p.rep.SizeLimit = p.sizeProbe(ctx)
	}
	if ctx.Err() != nil {
		p.problem("interrupted")
	}
	return p.rep
}

// finish sets the verdict and the exit code.
func (p *prober) finish() {
	r := p.rep
	if r.Verdict == "" {
		r.Verdict = verdictHealthy
		for _, d := range r.Disconnects {
			if d.Action == wsreconnect.Abort.String() {
				r.Verdict = verdictAborted
			}
		}
		if r.Verdict == verdictHealthy && len(r.Problems) > 0 {
			r.Verdict = verdictIncomplete
		}
	}
	r.ExitCode = exitFail
	if r.Verdict == verdictHealthy {
		r.ExitCode = exitOK
	}
}

// rttReport sums up round trips.
func rttReport(samples []time.Duration, failed int) *RTTReport {
	r := &RTTReport{Count: len(samples), Failed: failed}
	if len(samples) == 0 {
		return r
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(samples))+0.999999) - 1 // nearest rank
		return samples[min(max(i, 0), len(samples)-1)]
	}
	r.MinMs = ms(samples[0])
	r.MedianMs = ms(at(0.5))
	r.P99Ms = ms(at(0.99))
	r.MaxMs = ms(samples[len(samples)-1])
	return r
}

func (p *prober) pingProbe(ctx context.Context, s *probeConn) *RTTReport {
	return p.roundTrips(ctx, s, "ping", "ping %d: no pong within %s", func(ctx context.Context, _ int) (time.Duration, error) {
		return s.c.Ping(ctx)
	})
}

func (p *prober) echoProbe(ctx context.Context, s *probeConn) *RTTReport {
	tag := rand.Uint64()
	return p.roundTrips(ctx, s, "echo", "echo %d: no echo within %s (is the endpoint an echo server? drop -echo)", func(ctx context.Context, i int) (time.Duration, error) {
		msg := fmt.Sprintf("wsprobe echo %d %016x", i, tag)
		sent := time.Now()
		if err := s.c.Send(ctx, wsreconnect.TextMessage, []byte(msg)); err != nil {
			return 0, err
		}
		for {
			select {
			case m := <-s.echoes:
				if string(m) == msg { // anything else is not our echo
					return time.Since(sent), nil
				}
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	})
}

// roundTrips times p.cfg.pings round trips, the i-th (from 1) made by try
// within the timeout. A try that fails because the connection ended ends
// the phase; one that times out is reported with missing (a format taking
// i and the timeout) and counted as failed.
func (p *prober) roundTrips(ctx context.Context, s *probeConn, phase, missing string, try func(ctx context.Context, i int) (time.Duration, error)) *RTTReport {
	var samples []time.Duration
	failed := 0
	for i := 1; i <= p.cfg.pings && ctx.Err() == nil; i++ {
		tctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
		d, err := try(tctx, i)
		cancel()
		if err != nil {
			failed++
			if gone(err) {
				p.lost(ctx, s, phase)
				break
			}
			if ctx.Err() == nil {
				p.problem(missing, i, p.cfg.timeout)
			}
			continue
		}
		samples = append(samples, d)
	}
	return rttReport(samples, failed)
}

// pingTracker follows Stats.PingsIn and LastPingIn.
type pingTracker struct {
	start           time.Time
	firstN, lastN   int64
	firstAt, lastAt time.Time
	end             time.Time
}

func (k *pingTracker) observe(st wsreconnect.Stats) {
	k.end = time.Now()
	if st.PingsIn == 0 {
		return
	}
	if k.firstN == 0 {
		k.firstN, k.firstAt = st.PingsIn, st.LastPingIn
	}
	if st.PingsIn > k.lastN {
		k.lastN, k.lastAt = st.PingsIn, st.LastPingIn
	}
}

func (k *pingTracker) report() *KeepaliveReport {
	r := &KeepaliveReport{ServerPings: k.lastN, WatchedMs: ms(k.end.Sub(k.start))}
	if k.lastN > k.firstN {
		r.IntervalMs = ms(k.lastAt.Sub(k.firstAt) / time.Duration(k.lastN-k.firstN))
	}
	return r
}

// suggestHeartbeat is an interval comfortably below an idle timeout.
func suggestHeartbeat(idle time.Duration) time.Duration {
	h := idle / 2
	switch {
	case h >= 2*time.Second:
		return h.Truncate(time.Second)
	case h >= 200*time.Millisecond:
		return h.Truncate(100 * time.Millisecond)
	default:
		return max(h, time.Millisecond)
	}
}

func (p *prober) idleProbe(ctx context.Context, s *probeConn, keep *pingTracker) *IdleReport {
	r := &IdleReport{MaxMs: ms(p.cfg.idleMax)}
	if !s.up() {
		p.lost(ctx, s, "idle")
		r.Finding = "not measured: the connection had ended"
		return r
	}
	start := time.Now()
	before := s.c.Stats().PingsIn
	deadline := time.NewTimer(p.cfg.idleMax)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev := <-s.disc:
			keep.observe(s.c.Stats())
			p.addDisconnect("idle", ev)
			after := ev.at.Sub(start)
			r.Cut, r.AfterMs = true, ms(after)
			r.Code, r.Reason = int(ev.d.Code), ev.d.Reason
			if ev.d.Code != 0 {
				r.CodeName = ev.d.Code.String()
			}
			hb := suggestHeartbeat(after)
			r.HeartbeatIntervalMs = ms(hb)
			r.Finding = fmt.Sprintf("cut after %s idle with %s: an idle timeout (of a proxy, a load balancer or the server); choose a heartbeat interval below it, e.g. WithHeartbeat(%s, %s)",
				fmtMs(ms(after)), closeText(ev.d), hb, hb/2)
			return r
		case <-deadline.C:
			keep.observe(s.c.Stats())
			r.AfterMs = ms(time.Since(start))
			if n := s.c.Stats().PingsIn - before; n > 0 {
				r.KeptAliveByServer = true
				r.Finding = fmt.Sprintf("stayed up for %s (-idle-max): the server's keepalive keeps it alive (%d pings meanwhile); a heartbeat of your own still detects a dead peer", fmtMs(r.AfterMs), n)
			} else {
				r.Finding = fmt.Sprintf("no idle timeout within %s (-idle-max)", fmtMs(r.AfterMs))
			}
			return r
		case <-ctx.Done():
			r.AfterMs = ms(time.Since(start))
			r.Finding = fmt.Sprintf("interrupted after %s idle", fmtMs(r.AfterMs))
			return r
		case <-tick.C:
			keep.observe(s.c.Stats())
		}
	}
}

// sizeProbe finds the largest message the endpoint accepts, up to
// cfg.maxSize, by binary search: a message is accepted when a ping written
// after it is answered, refused when the peer closes with 1009. Only a
// refusal costs a connection, so it uses at most ceil(log2(max)) + 1.
func (p *prober) sizeProbe(ctx context.Context) *SizeReport {
	maxSize := p.cfg.maxSize
	r := &SizeReport{MaxTried: maxSize}
	buf := make([]byte, maxSize)
	var seed [32]byte
	rand.NewChaCha8(seed).Read(buf) // incompressible, the same every run

	var s *probeConn
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	// try reports whether n bytes were accepted; ok is false when the probe
	// cannot go on.
	try := func(n int) (accepted, ok bool) {
		if s == nil {
			var err error
			r.Connections++
			if s, err = p.dial(ctx, false); err != nil {
				if ev, got := s.pendingDisconnect(); got {
					p.addDisconnect("size", ev)
				}
				s.close()
				s = nil
				p.problem("size probe: could not connect: %v", err)
				return false, false
			}
		}
		r.Tries++
		tctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
		err := s.c.Send(tctx, wsreconnect.BinaryMessage, buf[:n])
		if err == nil {
			_, err = s.c.Ping(tctx)
		}
		cancel()
		if err == nil {
			return true, true
		}
		ev, got := s.waitDisconnect(ctx, p.cfg.timeout)
		s.close()
		s = nil
		if !got {
			p.problem("size probe: no answer to a message of %d bytes within %s", n, p.cfg.timeout)
			return false, false
		}
		p.addDisconnect("size", ev)
		if ev.d.Code == wsreconnect.CloseMessageTooBig && !ev.d.Local {
			r.Code, r.Reason = int(ev.d.Code), ev.d.Reason
			return false, true
		}
		p.problem("size probe: a message of %d bytes ended the connection with %s, not 1009", n, closeText(ev.d))
		return false, false
	}
	lo, hi := 0, maxSize+1 // lo accepted (0: nothing yet), hi refused (max+1: nothing yet)
	for n := maxSize; hi-lo > 1; n = lo + (hi-lo)/2 {
		accepted, ok := try(n)
		if !ok {
			r.LimitBytes = lo
			r.Finding = fmt.Sprintf("not found: the probe stopped (accepted up to %d bytes, %d connections)", lo, r.Connections)
			return r
		}
		if accepted {
			lo = n
		} else {
			hi = n
		}
	}
	r.LimitBytes = lo
	if hi > maxSize {
		r.Finding = fmt.Sprintf("none up to %d bytes, the most tried (-max-size) (%d connections, %d messages)", maxSize, r.Connections, r.Tries)
		return r
	}
	r.Found, r.RefusedAt = true, hi
	reason := ""
	if r.Reason != "" {
		reason = fmt.Sprintf(" %q", r.Reason)
	}
	r.Finding = fmt.Sprintf("%d bytes: %d refused with %s%s; set WithMaxMessageSize(%d) or split larger messages (%d connections, %d messages)",
		lo, hi, wsreconnect.CloseMessageTooBig, reason, lo, r.Connections, r.Tries)
	return r
}
