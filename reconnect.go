package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
)

// supervisor is the state that only the client's goroutine touches.
type supervisor struct {
	attempt     int       // consecutive failed attempts
	endpoint    int       // index into Client.urls
	downSince   time.Time // when the client last lost (or started without) a connection
	authRetried bool      // an auth failure was retried with fresh headers
	compress    bool      // write compressed (after a 1009, WithCompressionOnShrink)
	refusals    int       // consecutive handshakes refused with an abort-class status
	restart     *backoff.ExponentialBackOff
	lastForced  time.Time  // when the last attempt that Reconnect brought about started
	d           Disconnect // how the last attempt or connection ended, for after
}

// run is the client's goroutine: it connects, reads until the connection
// ends, asks the policy what to do, and waits out the backoff delay, until
// Close or an abort. See lifecycle.go.
//
// Its frame and serve's are on the stack for as long as the client reads,
// which for an idle client is always: they hold only pointers (the state is
// in sv, the work around a connection in connect, end and after), so that
// the goroutine, blocked deep in gorilla's read, keeps about 2 KiB of stack
// in use: a 4 KiB stack holds it.
func (c *Client) run() {
	c.gid.Store(goid())
	defer c.finish()
	sv := c.newSupervisor()
	for c.ctx.Err() == nil {
		if l := c.connect(sv); l != nil {
			c.serve(l, sv)
		}
		if !c.after(sv) {
			return
		}
	}
}

// newSupervisor makes the supervisor's state, on the heap: not in run's
// frame (see run).
//
//go:noinline
func (c *Client) newSupervisor() *supervisor {
	sv := &supervisor{downSince: time.Unix(0, c.stats.downSince.Load())}
	if c.opts.shuffle && len(c.urls) > 1 {
		sv.endpoint = rand.IntN(len(c.urls))
	}
	return sv
}

// after handles the end of an attempt or a connection (sv.d): it asks the
// policy or, after Reconnect, goes on at once, and waits out the delay. It
// reports false when the client stops.
//
//go:noinline
func (c *Client) after(sv *supervisor) bool {
	d := sv.d
	sv.d = Disconnect{}
	c.reportDrops()
	if c.ctx.Err() != nil {
		return false
	}
	if d.Uptime > 0 && d.Uptime >= c.opts.stableAfter {
		// A stable connection resets the backoff, and proves the
		// credentials: a later auth failure gets its own retry.
		sv.attempt = 0
		sv.authRetried = false
		c.opts.backoff.Reset()
	}
	var wait time.Duration
	if d.forced {
		wait = c.forcedDisconnect(sv, d)
	} else {
		sv.attempt++
		d.Attempt = sv.attempt
		var stop bool
		if wait, stop = c.decide(sv, d); stop {
			return false
		}
	}
	return c.sleep(sv, wait)
}

// finish runs when the client's goroutine ends: it reports the discarded
// messages, and closes done last.
func (c *Client) finish() {
	c.cancel()
	c.setState(StateClosed)
	c.wlock <- struct{}{}
	c.setClosedLocked(closedError(c.Err()))
	c.unlockWrite()
	c.reportDrops()
	close(c.done)
}

// abort stops the client for reason, before the OnDisconnect hook of the
// abort runs: Err, State, Send and Receive tell it from then on.
func (c *Client) abort(reason error) {
	c.mu.Lock()
	c.err = reason
	c.mu.Unlock()
	c.cancel()
	c.wlock <- struct{}{}
	c.setClosedLocked(closedError(reason))
	c.unlockWrite()
	c.setState(StateClosed)
}

// dropped counts messages the client will not write and hands them to the
// OnDropped hook.
func (c *Client) dropped(ms []message, err error) {
	if len(ms) == 0 {
		return
	}
	c.stats.dropped.Add(int64(len(ms)))
	if c.opts.onDropped == nil {
		return
	}
	c.hook(func() {
		for _, m := range ms {
			c.opts.onDropped(m.typ, m.data, err)
		}
	})
}

// reportDrops hands the messages other goroutines dropped (Send making
// room, Close discarding the queue) to the OnDropped hook, in the order
// they were dropped.
func (c *Client) reportDrops() {
	c.wlock <- struct{}{}
	pending := c.w.pending
	c.w.pending = nil
	if len(pending) > 0 {
		c.wakeSendersLocked() // OverflowDropOldest may wait for this
	}
	c.unlockWrite()
	if len(pending) == 0 {
		return
	}
	c.stats.dropped.Add(int64(len(pending)))
	if c.opts.onDropped == nil {
		return
	}
	c.hook(func() {
		for _, r := range pending {
			c.opts.onDropped(r.m.typ, r.m.data, r.err)
		}
	})
}

// connect dials and sets the new connection up: while an aside reader
// reads it, the client's goroutine runs the OnConnect hook, writes the
// unacknowledged messages again and then the queue, and reports the client
// connected. It returns the new link, or nil with the failed attempt in
// sv.d.
//
//go:noinline
func (c *Client) connect(sv *supervisor) *link {
	c.setState(StateConnecting)
	c.reconnectAsked.Store(false) // a Reconnect from before: this attempt answers it
	c.stats.endpoint.Store(int64(sv.endpoint))
	ws, resp, url, err := c.dialAside(sv)
	if err != nil {
		sv.d = dialFailure(resp, err)
		sv.d.URL = redactRaw(url)
		return nil
	}
	l := newLink(ws, resp, c.opts.readLimit)
	c.countPings(ws)
	l.url = url
	l.keepCopy = c.opts.splitter != nil || c.opts.onDropped != nil || c.opts.onDisconnect != nil
	l.stats = &c.stats
	c.cur.Store(l)
	if c.opts.compressOnShrink {
		ws.EnableWriteCompression(sv.compress)
	}
	l.startHeartbeat(c.opts.pingInterval, c.opts.pongTimeout)
	var a *aside
	if c.opts.onConnect != nil || c.win != nil {
		// Someone may wait for the peer during the setup: OnConnect for
		// what it reads, the replay window for acks.
		a = c.startAside(l)
	}
	if c.opts.onConnect != nil {
		cn := &Conn{c: c, l: l, a: a, resp: resp}
		var hookErr error
		c.hook(func() { hookErr = c.opts.onConnect(c.ctx, cn) })
		cn.expire()
		if hookErr != nil || c.ctx.Err() != nil {
			a.abandon()
			c.cur.Store(nil)
			// A failed hook is a failed attempt: the connection never was
			// up (Uptime 0).
			sv.d = Disconnect{Err: fmt.Errorf("wsreconnect: OnConnect: %w", hookErr), URL: redactRaw(url)}
			return nil
		}
	}
	l.connectedAt = time.Now()
	l.aside = a
	if c.writeQueue(l) {
		if c.stats.connects.Add(1) > 1 {
			c.stats.reconnects.Add(1)
		}
		c.stats.upSince.Store(l.connectedAt.UnixNano())
		c.stats.downSince.Store(0)
		c.setState(StateConnected)
		if c.logger.Enabled(context.Background(), slog.LevelInfo) {
			c.logger.LogAttrs(context.Background(), slog.LevelInfo, "wsreconnect: connected", slog.String("url", redactRaw(l.url)))
		}
	}
	// Dial returns now: connected, or the connection broke while the queue
	// was written.
	c.mu.Lock()
	if !c.cameUp {
		c.cameUp = true
		c.notifyLocked()
	}
	c.mu.Unlock()
	return l
}

// writeQueue writes, on l and in order, the unacknowledged messages again
// and then the queued messages, and makes l the connection that Send
// writes to. Every message must fit the outbound limit, which may have been
// lowered since it was queued: such a message is split again, whole, if a
// splitter is set, else dropped; so is a message older than
// WithMaxQueueAge. It reports false if the connection broke (the message
// whose write failed stays at the head of the queue, whole) or Close was
// called.
func (c *Client) writeQueue(l *link) bool {
	c.wlock <- struct{}{}
	if c.w.mode == modeClosed {
		// Close was called since connect: end the connection.
		c.unlockWrite()
		code, reason := c.closeCode()
		l.startClose(code, reason, c.opts.closeTimeout)
		return false
	}
	var dropped []dropRecord
	now := time.Now()
	ok := true
	if c.win != nil {
		replays := c.win.takeReplay()
		n := len(dropped)
		replays, dropped = c.prepare(replays, now, dropped)
		for i := n; i < len(dropped); i++ {
			dropped[i].err = unackedError{dropped[i].err} // written before
		}
		for i, m := range replays {
			if err := c.writeLocked(c.ctx, l, m); err != nil {
				l.failWrite(err)
				ok = false
				c.win.putBack(replays[i:])
				break
			}
			c.win.replayed.Add(1)
			c.win.add(m)
		}
		c.win.endReplay()
	}
	if ok {
		var queued []message
		for c.w.queue.len() > 0 {
			queued = append(queued, c.w.queue.popFront())
		}
		queued, dropped = c.prepare(queued, now, dropped)
		for i, m := range queued {
			if err := c.writeLocked(c.ctx, l, m); err != nil {
				l.failWrite(err)
				ok = false
				for j := len(queued) - 1; j >= i; j-- {
					c.w.queue.pushFront(queued[j])
				}
				break
			}
			if m.tracked {
				c.win.add(m)
			}
		}
	}
	if ok {
		c.w.queue.reset()
		c.w.mode = modeUp
		c.w.link = l
		c.wakeSendersLocked()
	}
	c.w.pending = append(c.w.pending, dropped...)
	c.unlockWrite()
	c.reportDrops()
	return ok
}

// prepare makes each of ms fit the outbound limit and drops those that are
// too old or cannot be made to fit; the caller holds the write lock.
func (c *Client) prepare(ms []message, now time.Time, dropped []dropRecord) ([]message, []dropRecord) {
	limit := c.w.limit
	age := c.opts.maxQueueAge
	if limit == 0 && age == 0 {
		return ms, dropped
	}
	kept := ms[:0]
	for _, m := range ms {
		if m.expired(age, now) {
			dropped = append(dropped, dropRecord{m: m, err: ErrExpired})
			continue
		}
		if !m.fits(limit) {
			var ok bool
			if m, ok = c.resplit(m); !ok {
				dropped = append(dropped, dropRecord{m: m, err: tooBig(m.size(), limit)})
				continue
			}
		}
		kept = append(kept, m)
	}
	return kept, dropped
}

// resplit splits m, whole, to the current limit. It reports false, with m
// unsplit, if there is no splitter or it failed (a text message cut inside
// a character included). The caller holds the write lock.
func (c *Client) resplit(m message) (message, bool) {
	if c.opts.splitter == nil {
		return m, false
	}
	split, err := c.split(m.typ, m.data, c.w.limit)
	if err == nil && m.tracked {
		split.at = m.at
		err = c.win.track(&split)
	}
	if err != nil {
		c.logger.LogAttrs(context.Background(), slog.LevelWarn, "wsreconnect: message could not be split", slog.String("error", err.Error()))
		return m, false
	}
	if !m.tracked {
		split.at = m.at
	}
	return split, true
}

// errBroken ends a read that waited for Receive when the connection broke.
var errBroken = errors.New("wsreconnect: connection broke while the reader waited for Receive")

// serve takes the reading of l over from the aside reader and reads until
// the connection ends, handing data messages to the OnMessage hook or to
// Receive, and leaves how it ended in sv.d.
//
//go:noinline
func (c *Client) serve(l *link, sv *supervisor) {
	err := c.readLoop(l)
	c.end(l, err, sv)
}

// readLoop reads l until the connection ends and returns the error that
// ended it.
//
//go:noinline
func (c *Client) readLoop(l *link) error {
	err := c.takeOver(l)
	for err == nil {
		if c.offerRead(l) {
			err = c.waitRead(l)
			continue
		}
		var m received
		var consumed bool
		m, consumed, err = c.readMessage(l)
		if err == nil && !consumed {
			err = c.deliver(l, m)
		}
	}
	return err
}

// end closes l after its reading ended with err, and describes its end in
// sv.d.
//
//go:noinline
func (c *Client) end(l *link, err error, sv *supervisor) {
	// Close the socket first: a write in progress returns and frees the
	// write lock.
	l.ws.NetConn().Close()
	c.wlock <- struct{}{}
	c.detachLocked(l)
	c.unlockWrite()
	l.stopHeartbeat()
	c.cur.Store(nil)
	sv.d = l.disconnect(err)
	l.setCause(errEnded)
	sv.downSince = time.Now()
	c.stats.upSince.Store(0)
	c.stats.downSince.Store(sv.downSince.UnixNano())
}

// errEnded marks a link whose reading ended, for Ping.
var errEnded = errors.New("wsreconnect: connection ended")

// takeOver delivers what the aside reader read during the setup and Conn.
// Receive did not take, then its last result, and returns the error that
// ended reading, if any.
func (c *Client) takeOver(l *link) error {
	a := l.aside
	l.aside = nil
	if a == nil {
		return nil // no aside reader ran
	}
	for _, m := range a.finish() {
		if err := c.deliver(l, m); err != nil {
			a.result()
			return err
		}
	}
	r := a.result()
	if r.err != nil || r.none {
		return r.err
	}
	return c.deliver(l, r.m)
}

// readMessage reads the next data message from l, counts it and, with
// WithAcks, lets the window see it; consumed reports an ack kept from the
// application (Acks.Consume).
func (c *Client) readMessage(l *link) (m received, consumed bool, err error) {
	typ, data, err := l.read(c.opts.readLimit)
	if err != nil {
		return received{}, false, err
	}
	if !l.seen.Load() {
		l.seen.Store(true)
	}
	c.stats.messagesIn.Add(1)
	c.stats.bytesIn.Add(int64(len(data)))
	m = received{typ: MessageType(typ), data: data}
	if c.win != nil {
		consumed = c.win.takeAck(m.typ, m.data)
	}
	return m, consumed, nil
}

// deliver hands a received message to the OnMessage hook or to Receive.
// When Receive is behind by more than the overflow holds, it waits for
// Receive to take one, and returns an error if the connection broke
// meanwhile (the message stays first in line for Receive). The receive
// buffer is made with the first message (or the first Receive), so that an
// idle client that has received nothing holds none.
func (c *Client) deliver(l *link, m received) error {
	if c.closing.Load() {
		return nil // closing: read on until the peer answers the close
	}
	if f := c.opts.onMessage; f != nil {
		// The heartbeat does not count f's time against the peer.
		l.hold(true)
		c.inHook.Store(true)
		f(m.typ, m.data)
		c.inHook.Store(false)
		l.hold(false)
		return nil
	}
	if !c.in.put(c.in.channel(c.opts.receiveBuffer), m) {
		return nil
	}
	// The overflow is full: stop reading until Receive catches up. The
	// heartbeat does not count this time against the peer.
	l.hold(true)
	defer l.hold(false)
	for {
		room := c.in.roomOrNil()
		if room == nil {
			return nil
		}
		select {
		case <-room:
		case <-l.brokenCh():
			return errBroken
		case <-c.ctx.Done():
			return nil // closing: read on until the peer answers the close
		}
	}
}

// decide asks the policy about d, applies the action's effects, runs the
// OnDisconnect hook and returns the delay before the next attempt, or stop.
func (c *Client) decide(sv *supervisor, d Disconnect) (wait time.Duration, stop bool) {
	c.stats.disconnected(d.Code)
	var a Action
	d.Limit = int(c.stats.limit.Load())
	c.hook(func() { a = c.opts.policy(d) })
	if c.closing.Load() {
		// Closed from inside the policy: no more hooks but OnDropped.
		c.discardRefused(d)
		return 0, true
	}
	if override, ok := c.opts.closeActions[d.Code]; ok && d.Code != 0 {
		a = override
	}
	if a == Abort && d.StatusCode != 0 && len(c.urls) > 1 {
		// A refused handshake aborts only once every endpoint refused in
		// the same round: the others may serve us.
		sv.refusals++
		if sv.refusals < len(c.urls) {
			a = Reconnect
		}
	} else {
		sv.refusals = 0
	}
	if a == Abort && c.opts.headerFunc != nil && isAuthFailure(d) && !sv.authRetried {
		// Retry once with fresh headers before giving up.
		sv.authRetried = true
		a = Reconnect
	}
	var reason error
	var refused []message
	switch a {
	case Shrink:
		refused = c.shrink(sv, &d)
	case Reconnect:
	case Abort:
		reason = abortReason(d)
	default:
		reason = fmt.Errorf("wsreconnect: policy returned invalid %v for %v", a, d.Err)
		a = Abort
	}
	if a != Abort {
		wait, reason = c.delay(sv, d)
		if reason != nil {
			a = Abort
		}
	}
	if reason != nil {
		c.abort(reason)
	} else {
		if d.StatusCode != 0 || d.Uptime == 0 {
			// A failed attempt: try the next endpoint.
			sv.endpoint = (sv.endpoint + 1) % len(c.urls)
		}
		c.setState(StateWaiting)
	}
	d.Delay = wait
	d.Limit = int(c.stats.limit.Load())
	c.logDecision(d, a, wait)
	c.dropped(refused, d.Err)
	if c.opts.onDisconnect != nil {
		c.hook(func() { c.opts.onDisconnect(d, a) })
	}
	return wait, a == Abort
}

// discardRefused hands the message a 1009 refused to finish, to be reported
// as dropped, when the client closes before the policy's answer applies.
func (c *Client) discardRefused(d Disconnect) {
	if d.refused == nil || d.refused.data == nil || d.refused.tracked {
		return // a tracked one is in the replay window, dropped with it
	}
	c.wlock <- struct{}{}
	c.w.pending = append(c.w.pending, dropRecord{m: *d.refused, err: ErrClosed})
	c.unlockWrite()
}

// delay is the wait before the next attempt after d, or the reason to give
// up: the backoff said Stop or the reconnect budget ran out. It is never
// negative, and a wait the server asked for is cut to MaxServerDelay.
func (c *Client) delay(sv *supervisor, d Disconnect) (time.Duration, error) {
	var wait time.Duration
	if d.Code == CloseServiceRestart && d.Attempt == 1 && c.opts.restartDelay > 0 {
		// The server restarts and says so: come back soon, jittered.
		if sv.restart == nil {
			sv.restart = backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(c.opts.restartDelay),
				backoff.WithRandomizationFactor(0.5),
				backoff.WithMultiplier(1),
				backoff.WithMaxInterval(c.opts.restartDelay),
				backoff.WithMaxElapsedTime(0),
			)
		}
		wait = sv.restart.NextBackOff()
	} else {
		next := c.opts.backoff.NextBackOff()
		if next == backoff.Stop {
			return 0, fmt.Errorf("%w: %w", ErrRetriesExhausted, d.Err)
		}
		floor, cut := c.minDelay(d)
		if cut {
			c.logger.LogAttrs(context.Background(), slog.LevelWarn, "wsreconnect: server-directed wait cut to the maximum",
				slog.Duration("max", MaxServerDelay), slog.String("url", d.URL))
		}
		wait = addSat(max(next, 0), floor)
	}
	if wait < 0 {
		// Only an overflow in a BackOff's own arithmetic gets here.
		wait = MaxServerDelay
	}
	if budget := c.opts.budget; budget > 0 {
		left := budget - time.Since(sv.downSince)
		if left <= 0 {
			return 0, fmt.Errorf("%w (%s): %w", ErrReconnectBudget, budget, d.Err)
		}
		wait = min(wait, left)
	}
	c.stats.backoff.Store(int64(wait))
	return wait, nil
}

// minDelay is the floor on the wait after d: the server's Retry-After, or
// the floor set for d's close code, at most MaxServerDelay; cut reports
// that it asked for more.
func (c *Client) minDelay(d Disconnect) (floor time.Duration, cut bool) {
	var he *HandshakeError
	if errors.As(d.Err, &he) {
		return he.RetryAfter, he.retryCut
	}
	if d.Code != 0 {
		return capServer(c.opts.minDelays[d.Code])
	}
	return 0, false
}

// isAuthFailure reports whether d looks like rejected credentials, which
// fresh headers may fix.
func isAuthFailure(d Disconnect) bool {
	switch d.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	switch d.Code {
	case CloseUnauthorized, CloseForbidden, 4401, 4403:
		return true
	}
	return false
}

// shrink applies a 1009 from the peer: the outbound limit drops to the
// limit the peer's reason names or, when it names none (or an absurd one),
// to half the size of the largest message written on the connection, so
// that a few refusals find the peer's limit. With WithCompressionOnShrink,
// the first 1009 turns on compression instead and keeps the limit. The
// refused message (see link.record) is put back at the head of the queue,
// split if it no longer fits; what cannot be is returned, to be reported
// as dropped. d.Refused is set.
func (c *Client) shrink(sv *supervisor, d *Disconnect) (dropped []message) {
	c.wlock <- struct{}{}
	defer c.unlockWrite()
	if c.opts.compressOnShrink && !sv.compress {
		sv.compress = true
	} else {
		limit := d.largest / 2
		if n := parseLimit(d.Reason, d.largest); n > 0 {
			limit = n
		}
		if limit > 0 && (c.w.limit == 0 || limit < c.w.limit) {
			c.w.limit = limit
			c.stats.limit.Store(int64(limit))
		}
	}
	if d.refused == nil {
		return nil
	}
	d.Refused = d.refused.data
	if d.refused.tracked {
		// It is in the replay window, where the replay splits it again or
		// drops it.
		return nil
	}
	if d.refused.data == nil {
		return []message{*d.refused} // not copied: nothing could take it back
	}
	if c.w.queue.len() > 0 && sameBuffer(c.w.queue.peek().data, d.refused.data) {
		// A later part of it failed: it is already first in the queue,
		// where prepareQueue splits it again if need be.
		return nil
	}
	m := *d.refused
	if !m.fits(c.w.limit) {
		var ok bool
		if m, ok = c.resplit(m); !ok {
			return []message{m}
		}
	}
	c.w.queue.pushFront(m)
	return nil
}

// sameBuffer reports whether a and b are the same bytes in memory.
func sameBuffer(a, b []byte) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// abortReason is the error Err reports after an abort on d.
func abortReason(d Disconnect) error {
	var perm *backoff.PermanentError
	if errors.As(d.Err, &perm) && perm.Err != nil {
		return perm.Err
	}
	if d.Err != nil {
		return d.Err
	}
	return &CloseError{Code: d.Code, Reason: d.Reason}
}

// sleep waits out d, or returns false if the client stops first. It
// reports messages dropped meanwhile, and a Reconnect cuts the wait, no
// sooner than WithRestartDelay after the last attempt a Reconnect brought
// about.
func (c *Client) sleep(sv *supervisor, d time.Duration) bool {
	deadline := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-c.ctx.Done():
			return false
		case <-c.wakeCh:
			c.reportDrops()
			if !c.reconnectAsked.Swap(false) {
				continue
			}
			now := time.Now()
			at := laterOf(now, sv.lastForced.Add(c.forcedGap()))
			if at.Before(deadline) {
				deadline = at
				sv.lastForced = at
				t.Reset(at.Sub(now))
			}
		}
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// forcedGap is the least time between two attempts Reconnect brings about.
func (c *Client) forcedGap() time.Duration {
	if c.opts.restartDelay > 0 {
		return c.opts.restartDelay
	}
	return DefaultRestartDelay
}

// forcedDisconnect handles the end of a connection that Reconnect closed:
// no policy, no failure counted, no backoff step; the next attempt comes at
// once, or when the last one Reconnect brought about is forcedGap old.
func (c *Client) forcedDisconnect(sv *supervisor, d Disconnect) time.Duration {
	c.stats.disconnected(d.Code)
	now := time.Now()
	at := laterOf(now, sv.lastForced.Add(c.forcedGap()))
	sv.lastForced = at
	wait := at.Sub(now)
	c.stats.backoff.Store(int64(wait))
	d.Attempt = sv.attempt
	d.Delay = wait
	d.Limit = int(c.stats.limit.Load())
	c.setState(StateWaiting)
	c.logDecision(d, Reconnect, wait)
	if c.opts.onDisconnect != nil {
		c.hook(func() { c.opts.onDisconnect(d, Reconnect) })
	}
	return wait
}

// logDecision records one decision. It logs no header values, and URLs
// without credentials or query.
func (c *Client) logDecision(d Disconnect, a Action, wait time.Duration) {
	level := slog.LevelInfo
	if a == Abort {
		level = slog.LevelWarn
	}
	if !c.logger.Enabled(context.Background(), level) {
		return // the attributes below cost a dozen allocations
	}
	attrs := []slog.Attr{
		slog.String("action", a.String()),
		slog.Int("attempt", d.Attempt),
		slog.String("url", d.URL),
	}
	if d.Code != 0 {
		attrs = append(attrs, slog.Int("code", int(d.Code)), slog.String("code_name", d.Code.String()))
	}
	if d.Reason != "" {
		attrs = append(attrs, slog.String("reason", d.Reason))
	}
	if d.StatusCode != 0 {
		attrs = append(attrs, slog.Int("status", d.StatusCode))
	}
	if d.Uptime > 0 {
		attrs = append(attrs, slog.Duration("uptime", d.Uptime))
	}
	if a != Abort {
		attrs = append(attrs, slog.Duration("delay", wait))
	}
	if a == Shrink {
		attrs = append(attrs, slog.Int64("limit", c.stats.limit.Load()))
	}
	if d.Err != nil {
		attrs = append(attrs, slog.String("error", d.Err.Error()))
	}
	attrs = append(attrs, slog.String("explain", d.Explain()))
	c.logger.LogAttrs(context.Background(), level, "wsreconnect: disconnected", attrs...)
}

// dialFailure describes a failed dial.
func dialFailure(resp *http.Response, err error) Disconnect {
	if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
		he := &HandshakeError{StatusCode: resp.StatusCode}
		he.RetryAfter, he.retryCut = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return Disconnect{StatusCode: resp.StatusCode, Err: he}
	}
	return Disconnect{Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// dialFunc is the shape of websocket.Dialer.NetDialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// attemptKey marks the context of one dial attempt; its value is the
// *dialAttempt that watchDial fills in.
type attemptKey struct{}

type dialAttempt struct {
	ctx       context.Context // the attempt's own context (gorilla derives others)
	stop      func() bool     // stops the cancellation watch on the dialed socket
	readAhead bool            // wrap a plain TCP connection in a readAheadConn
}

// prepareDialer makes the dialer's handshake respect cancellation: gorilla
// only honours a context's deadline once the TCP connection is up, so a
// watch closes the socket when the attempt's context is canceled.
func prepareDialer(d websocket.Dialer) websocket.Dialer {
	base := d.NetDialContext
	if base == nil && d.NetDial != nil {
		netDial := d.NetDial
		base = func(_ context.Context, network, addr string) (net.Conn, error) { return netDial(network, addr) }
	}
	d.NetDial = nil
	d.HandshakeTimeout = 0 // the client bounds each attempt itself
	if base == nil {
		d.NetDialContext = defaultNetDial
	} else {
		d.NetDialContext = watchDial(base, true)
	}
	if d.NetDialTLSContext != nil {
		d.NetDialTLSContext = watchDial(d.NetDialTLSContext, false)
	}
	return d
}

// defaultNetDial is the dial func of a dialer that sets none: a zero
// net.Dialer's, watched. Clients share it, so that each does not hold a
// net.Dialer and a closure of its own.
var defaultNetDial = watchDial((&net.Dialer{}).DialContext, true)

// watchDial wraps a dial func; plain says it dials TCP (not TLS), which
// may be wrapped in a readAheadConn.
func watchDial(base dialFunc, plain bool) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := base(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if a, ok := ctx.Value(attemptKey{}).(*dialAttempt); ok && a.stop == nil {
			if plain && a.readAhead {
				conn = &readAheadConn{Conn: conn}
			}
			c := conn
			a.stop = context.AfterFunc(a.ctx, func() { c.Close() })
		}
		return conn, nil
	}
}

// dialAside runs dial on a short-lived goroutine and waits for it: the
// handshake (TLS, HTTP) needs a deep stack, and the client's long-lived
// goroutine should not keep one for the connection's whole life. The dial
// ends promptly when the client stops: its context is canceled, and a
// header or URL func that ignores it is not waited for. It returns the URL
// dialed (or that the URL func failed to give).
func (c *Client) dialAside(sv *supervisor) (*websocket.Conn, *http.Response, string, error) {
	type result struct {
		ws   *websocket.Conn
		resp *http.Response
		url  string
		err  error
	}
	ch := make(chan result, 1)
	endpoint, attempt := sv.endpoint, sv.attempt+1
	trace := c.newTrace(attempt) // nil without WithOnHandshake
	go func() {
		ws, resp, url, err := c.dial(endpoint, attempt, trace)
		ch <- result{ws, resp, url, err}
	}()
	var r result
	for done := false; !done; {
		select {
		case r = <-ch:
			done = true
		case <-c.wakeCh:
			c.reportDrops()
		}
	}
	c.reportHandshake(trace, r.ws, r.resp, r.url, r.err)
	if r.err == nil && c.ctx.Err() != nil {
		// Closed as the handshake completed.
		r.ws.Close()
		return nil, nil, r.url, c.ctx.Err()
	}
	return r.ws, r.resp, r.url, r.err
}

// dial makes one connection attempt, to the endpoint's URL or the one the
// URL func gives, bounded by the handshake timeout and canceled by Close;
// trace, if not nil, times it (see handshake.go).
func (c *Client) dial(endpoint, attempt int, trace *handshakeTrace) (*websocket.Conn, *http.Response, string, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.handshakeTimeout)
	defer cancel()
	url := c.urls[endpoint]
	if c.opts.urlFunc != nil {
		var err error
		if url, err = c.freshURL(ctx, attempt); err != nil {
			return nil, nil, "", err
		}
	}
	c.stats.setURL(url)
	attemptState := &dialAttempt{readAhead: c.opts.readAhead && len(url) > 3 && strings.EqualFold(url[:3], "ws:")}
	ctx = context.WithValue(ctx, attemptKey{}, attemptState)
	attemptState.ctx = ctx
	header := c.opts.header
	if c.opts.headerFunc != nil {
		fresh, err := c.headers(ctx)
		if err != nil {
			return nil, nil, url, fmt.Errorf("wsreconnect: header func: %w", err)
		}
		if err := checkHeader(fresh); err != nil {
			// A retry cannot fix it.
			return nil, nil, url, backoff.Permanent(fmt.Errorf("wsreconnect: header func: %w", err))
		}
		header = header.Clone()
		if header == nil {
			header = make(http.Header, len(fresh))
		}
		for k, vs := range fresh {
			for _, v := range vs {
				header.Add(k, v)
			}
		}
	}
	ws, resp, err := c.opts.dialer.DialContext(trace.attach(ctx), url, header)
	if err != nil && c.ctx.Err() == nil && (ctx.Err() != nil || isTimeout(err)) {
		// The handshake deadline passed: gorilla reports it as an I/O
		// timeout or, when the watch closed the socket, as a closed one.
		err = fmt.Errorf("wsreconnect: no handshake within %s: %w", c.opts.handshakeTimeout, context.DeadlineExceeded)
	}
	if attemptState.stop != nil && !attemptState.stop() && err == nil {
		// The context ended just as the handshake completed.
		ws.Close()
		return nil, nil, url, ctx.Err()
	}
	return ws, resp, url, err
}

// freshURL calls the URL func, on a goroutine of its own like the header
// func, and checks what it returns. Its errors never quote the URL, whose
// query may hold a token.
func (c *Client) freshURL(ctx context.Context, attempt int) (string, error) {
	type result struct {
		url string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		u, err := c.opts.urlFunc(ctx, attempt)
		ch <- result{u, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if r.err != nil {
		return "", fmt.Errorf("wsreconnect: URL func: %w", r.err)
	}
	if err := checkURL(r.url); err != nil {
		return "", fmt.Errorf("wsreconnect: URL func: %w", err)
	}
	return r.url, nil
}

// headers calls the header func on a goroutine of its own, so that an
// attempt (and Close) need not wait for a func that ignores ctx: when ctx
// ends first, the func's result is discarded whenever it returns.
func (c *Client) headers(ctx context.Context) (http.Header, error) {
	type result struct {
		h   http.Header
		err error
	}
	ch := make(chan result, 1)
	go func() {
		h, err := c.opts.headerFunc(ctx)
		ch <- result{h, err}
	}()
	select {
	case r := <-ch:
		return r.h, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
