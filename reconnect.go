package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
)

// run is the client's goroutine: it connects, reads until the connection
// ends, asks the policy what to do, and waits out the backoff delay, until
// Close or an abort.
func (c *Client) run() {
	defer c.finish()
	attempt := 0
	for {
		l, d := c.connect()
		if l != nil {
			d = c.serve(l)
		}
		if c.isClosing() {
			return
		}
		if d.Uptime > 0 && d.Uptime >= c.opts.stableAfter {
			attempt = 0
			c.opts.backoff.Reset()
		}
		attempt++
		d.Attempt = attempt
		wait, stop := c.decide(d)
		if stop || !c.sleep(wait) {
			return
		}
	}
}

func (c *Client) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// finish runs when the client's goroutine ends.
func (c *Client) finish() {
	c.wlock <- struct{}{}
	c.setClosedLocked(closedError(c.Err()))
	c.unlockWrite()
	c.cancel()
	c.setState(StateClosed)
	close(c.done)
}

// connect dials, runs the OnConnect hook and writes the queued messages.
// It returns the live link, or a nil link and the failed attempt.
func (c *Client) connect() (*link, Disconnect) {
	c.setState(StateConnecting)
	ws, resp, err := c.dial()
	if err != nil {
		return nil, dialFailure(resp, err)
	}
	l := newLink(ws, c.opts.readLimit)
	if c.opts.onConnect != nil {
		var hookErr error
		c.callHook(func() { hookErr = c.opts.onConnect(c.ctx, &Conn{c: c, l: l}) })
		if hookErr != nil && !c.isClosing() {
			l.closeNow(CloseNormalClosure, c.opts.closeTimeout)
			return nil, Disconnect{Err: fmt.Errorf("wsreconnect: OnConnect: %w", hookErr), Uptime: l.uptime()}
		}
	}
	if err := c.goLive(l); err != nil {
		if c.isClosing() {
			l.closeNow(CloseNormalClosure, c.opts.closeTimeout)
			return nil, Disconnect{}
		}
		return nil, l.disconnect(err)
	}
	l.startHeartbeat(c.opts.pingInterval, c.opts.pongTimeout)
	c.setState(StateConnected)
	c.logger.Info("wsreconnect: connected")
	return l, Disconnect{}
}

var errClosing = errors.New("wsreconnect: closing")

// goLive writes the queued messages on l, in order, then makes l the
// connection that Send writes to. A queued message over the outbound limit
// is dropped. If a write fails, that message stays at the head of the queue.
func (c *Client) goLive(l *link) error {
	c.wlock <- struct{}{}
	defer c.unlockWrite()
	if c.w.mode == modeClosed {
		return errClosing
	}
	for c.w.queue.len() > 0 {
		m := c.w.queue.peek()
		if err := c.checkLimitLocked(len(m.data)); err != nil {
			c.w.queue.popFront()
			c.logger.Warn("wsreconnect: queued message dropped", slog.Int("size", len(m.data)), slog.Int("limit", c.w.limit))
			continue
		}
		if err := l.write(c.ctx, m.typ, m.data); err != nil {
			l.fail(err)
			return err
		}
		c.w.queue.popFront()
	}
	c.w.mode = modeUp
	c.w.link = l
	c.live.Store(l)
	c.wakeSendersLocked()
	return nil
}

// serve reads from l until the connection ends and hands data messages to
// Receive.
func (c *Client) serve(l *link) Disconnect {
	for {
		typ, data, err := l.ws.ReadMessage()
		if err != nil {
			// Close the socket first: a Send stuck in a write returns and
			// frees the write lock.
			l.ws.NetConn().Close()
			c.wlock <- struct{}{}
			c.detachLocked(l)
			c.unlockWrite()
			l.stopHeartbeat()
			return l.disconnect(err)
		}
		if !l.seen.Load() {
			l.seen.Store(true)
		}
		m := message{typ: MessageType(typ), data: data}
		select {
		case c.recv <- m:
			continue
		default:
		}
		// The buffer is full: wait for Receive. The heartbeat does not count
		// this time against the peer.
		l.delivering.Store(true)
		select {
		case c.recv <- m:
		case <-c.closing:
			// Close was called: keep reading until the peer answers the close.
		}
		l.delivering.Store(false)
	}
}

// decide asks the policy about d, applies the action's effects, runs the
// OnDisconnect hook and returns the delay before the next attempt, or stop.
func (c *Client) decide(d Disconnect) (wait time.Duration, stop bool) {
	var a Action
	c.callHook(func() { a = c.opts.policy(d) })
	if override, ok := c.opts.closeActions[d.Code]; ok && d.Code != 0 {
		a = override
	}
	var reason error
	switch a {
	case Shrink:
		c.shrink(d)
	case Reconnect:
	case Abort:
		reason = abortReason(d)
	default:
		reason = fmt.Errorf("wsreconnect: policy returned invalid %v for %v", a, d.Err)
		a = Abort
	}
	if a != Abort {
		next := c.opts.backoff.NextBackOff()
		if next == backoff.Stop {
			reason = fmt.Errorf("%w: %w", ErrRetriesExhausted, d.Err)
			a = Abort
		} else {
			wait = next + c.minDelay(d)
		}
	}
	if reason != nil {
		c.mu.Lock()
		c.err = reason
		c.mu.Unlock()
		c.wlock <- struct{}{}
		c.setClosedLocked(closedError(reason))
		c.unlockWrite()
	}
	d.Delay = wait
	c.logDecision(d, a, wait)
	if c.opts.onDisconnect != nil {
		c.callHook(func() { c.opts.onDisconnect(d, a) })
	}
	return wait, a == Abort
}

// minDelay is the floor on the wait after d: the server's Retry-After, or
// the floor set for d's close code.
func (c *Client) minDelay(d Disconnect) time.Duration {
	var he *HandshakeError
	if errors.As(d.Err, &he) {
		return he.RetryAfter
	}
	if d.Code != 0 {
		return c.opts.minDelays[d.Code]
	}
	return 0
}

// shrink lowers the outbound limit below the largest message written on
// the connection the peer refused.
func (c *Client) shrink(d Disconnect) {
	if d.largest <= 0 {
		return
	}
	limit := d.largest - 1
	c.wlock <- struct{}{}
	if c.w.limit == 0 || limit < c.w.limit {
		c.w.limit = limit
	}
	c.unlockWrite()
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

// sleep waits out d, or returns false if the client is closed first.
func (c *Client) sleep(d time.Duration) bool {
	c.setState(StateWaiting)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// callHook runs f on the client's goroutine, marked so that Close called
// from inside f does not wait for f to return.
func (c *Client) callHook(f func()) {
	c.mu.Lock()
	c.inHandler = true
	close(c.handlerCh)
	c.handlerCh = make(chan struct{})
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inHandler = false
		c.mu.Unlock()
	}()
	f()
}

func (c *Client) logDecision(d Disconnect, a Action, wait time.Duration) {
	attrs := []slog.Attr{
		slog.String("action", a.String()),
		slog.Int("attempt", d.Attempt),
	}
	if d.Code != 0 {
		attrs = append(attrs, slog.String("code", d.Code.String()))
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
	if d.Err != nil {
		attrs = append(attrs, slog.String("error", d.Err.Error()))
	}
	level := slog.LevelInfo
	if a == Abort {
		level = slog.LevelWarn
	}
	c.logger.LogAttrs(context.Background(), level, "wsreconnect: disconnected", attrs...)
}

// dialFailure describes a failed dial.
func dialFailure(resp *http.Response, err error) Disconnect {
	if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
		he := &HandshakeError{
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
		return Disconnect{StatusCode: resp.StatusCode, Err: he}
	}
	return Disconnect{Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// link is one WebSocket connection and its heartbeat.
type link struct {
	ws          *websocket.Conn
	connectedAt time.Time
	largest     int  // largest message written; guarded by the write lock
	deadline    bool // a write deadline is set; guarded by the write lock

	seen       atomic.Bool // a frame arrived since the last ping
	delivering atomic.Bool // the reader is waiting for Receive

	causeMu sync.Mutex
	cause   error // why this side ended the connection, first one wins

	hb struct {
		mu         sync.Mutex
		wg         sync.WaitGroup
		timer      *time.Timer
		stopped    bool
		nextPing   time.Time
		unanswered time.Time // when the oldest unanswered ping was sent; zero if none
		interval   time.Duration
		timeout    time.Duration
	}
}

func newLink(ws *websocket.Conn, readLimit int64) *link {
	l := &link{ws: ws, connectedAt: time.Now()}
	ws.SetReadLimit(readLimit)
	ws.SetPongHandler(func(string) error {
		l.seen.Store(true)
		return nil
	})
	answerPing := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		l.seen.Store(true)
		return answerPing(data)
	})
	return l
}

func (l *link) uptime() time.Duration { return time.Since(l.connectedAt) }

// write writes one message; the caller holds the write lock.
func (l *link) write(ctx context.Context, typ MessageType, data []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		l.ws.SetWriteDeadline(dl)
		l.deadline = true
	} else if l.deadline {
		l.ws.SetWriteDeadline(time.Time{})
		l.deadline = false
	}
	if err := l.ws.WriteMessage(int(typ), data); err != nil {
		return err
	}
	if len(data) > l.largest {
		l.largest = len(data)
	}
	return nil
}

// fail records why this side ends the connection and closes the socket, so
// that the reader returns.
func (l *link) fail(cause error) {
	l.causeMu.Lock()
	if l.cause == nil {
		l.cause = cause
	}
	l.causeMu.Unlock()
	l.ws.NetConn().Close()
}

func (l *link) failure() error {
	l.causeMu.Lock()
	defer l.causeMu.Unlock()
	return l.cause
}

// disconnect describes the end of l, given the error that ended the read.
// A close frame from the peer wins over a failure on this side (a write
// that failed because the peer was closing, say).
func (l *link) disconnect(readErr error) Disconnect {
	l.ws.NetConn().Close()
	d := Disconnect{Uptime: l.uptime(), largest: l.largest}
	d.Code, d.Reason, d.Local = closeFromError(readErr)
	cause := readErr
	if d.Code == CloseAbnormalClosure {
		if failure := l.failure(); failure != nil {
			// This side ended the connection: a failed write or a dead peer.
			cause = failure
			d.Local = errors.Is(failure, ErrHeartbeatTimeout)
		}
	}
	d.Err = &CloseError{Code: d.Code, Reason: d.Reason, cause: cause}
	return d
}

// startClose sends a close frame and bounds the wait for the peer's answer;
// the reader returns when it arrives or the time is up.
func (l *link) startClose(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if err := l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(CloseNormalClosure), ""), deadline); err != nil {
		l.fail(ErrClosed)
		return
	}
	l.ws.SetReadDeadline(deadline)
}

// closeNow closes a connection nobody reads from yet: it sends a close
// frame, waits for the peer's answer up to timeout, and closes the socket.
func (l *link) closeNow(code CloseCode, timeout time.Duration) {
	l.startClose(timeout)
	for {
		if _, _, err := l.ws.NextReader(); err != nil {
			break
		}
	}
	l.ws.NetConn().Close()
}

// startHeartbeat pings every interval and declares the peer dead when no
// frame arrived within timeout of the oldest unanswered ping. Timer
// callbacks run it: no goroutine waits while the connection is idle.
func (l *link) startHeartbeat(interval, timeout time.Duration) {
	if interval <= 0 {
		return
	}
	l.hb.mu.Lock()
	defer l.hb.mu.Unlock()
	l.hb.interval, l.hb.timeout = interval, timeout
	l.hb.nextPing = time.Now().Add(interval)
	l.armLocked(interval)
}

// armLocked schedules the next heartbeat tick; the caller holds hb.mu.
func (l *link) armLocked(d time.Duration) {
	l.hb.wg.Add(1)
	if l.hb.timer == nil {
		l.hb.timer = time.AfterFunc(d, l.tick)
		return
	}
	l.hb.timer.Reset(d)
}

// tick runs at ping times and at the deadline of an unanswered ping.
func (l *link) tick() {
	defer l.hb.wg.Done()
	l.hb.mu.Lock()
	if l.hb.stopped {
		l.hb.mu.Unlock()
		return
	}
	now := time.Now()
	if l.seen.Swap(false) || l.delivering.Load() {
		// A frame arrived, or the reader is held up by the application.
		l.hb.unanswered = time.Time{}
	}
	if !l.hb.unanswered.IsZero() && now.Sub(l.hb.unanswered) >= l.hb.timeout {
		l.hb.mu.Unlock()
		l.fail(ErrHeartbeatTimeout)
		return
	}
	ping := !now.Before(l.hb.nextPing)
	if ping {
		if l.hb.unanswered.IsZero() {
			l.hb.unanswered = now
		}
		l.hb.nextPing = now.Add(l.hb.interval)
	}
	next := l.hb.nextPing.Sub(now)
	if !l.hb.unanswered.IsZero() {
		next = min(next, l.hb.unanswered.Add(l.hb.timeout).Sub(now))
	}
	l.armLocked(next)
	timeout := l.hb.timeout
	l.hb.mu.Unlock()
	if ping {
		// A failed ping needs no action: the reader or the deadline notices.
		_ = l.ws.WriteControl(websocket.PingMessage, nil, now.Add(timeout))
	}
}

// stopHeartbeat stops the heartbeat and waits for a running tick to end.
func (l *link) stopHeartbeat() {
	l.hb.mu.Lock()
	l.hb.stopped = true
	if l.hb.timer != nil && l.hb.timer.Stop() {
		l.hb.wg.Done()
	}
	l.hb.mu.Unlock()
	l.hb.wg.Wait()
}

// dialFunc is the shape of websocket.Dialer.NetDialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// attemptKey marks the context of one dial attempt; its value is the
// *dialAttempt that watchDial fills in.
type attemptKey struct{}

type dialAttempt struct {
	ctx  context.Context // the attempt's own context (gorilla derives others)
	stop func() bool     // stops the cancellation watch on the dialed socket
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
	if base == nil {
		var nd net.Dialer
		base = nd.DialContext
	}
	d.NetDial = nil
	d.HandshakeTimeout = 0 // the client bounds each attempt itself
	d.NetDialContext = watchDial(base)
	if d.NetDialTLSContext != nil {
		d.NetDialTLSContext = watchDial(d.NetDialTLSContext)
	}
	return d
}

func watchDial(base dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := base(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if a, ok := ctx.Value(attemptKey{}).(*dialAttempt); ok && a.stop == nil {
			a.stop = context.AfterFunc(a.ctx, func() { conn.Close() })
		}
		return conn, nil
	}
}

// dial makes one connection attempt, bounded by the handshake timeout and
// canceled by Close.
func (c *Client) dial() (*websocket.Conn, *http.Response, error) {
	attempt := &dialAttempt{}
	ctx, cancel := context.WithTimeout(context.WithValue(c.ctx, attemptKey{}, attempt), c.opts.handshakeTimeout)
	defer cancel()
	attempt.ctx = ctx
	ws, resp, err := c.opts.dialer.DialContext(ctx, c.url, c.opts.header)
	if attempt.stop != nil && !attempt.stop() && err == nil {
		// The context ended just as the handshake completed.
		ws.Close()
		return nil, nil, ctx.Err()
	}
	return ws, resp, err
}
