package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// MessageType is the type of a WebSocket data message.
type MessageType int

// The data message types, with gorilla/websocket's values.
const (
	TextMessage   MessageType = websocket.TextMessage
	BinaryMessage MessageType = websocket.BinaryMessage
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	default:
		return "MessageType(" + strconv.Itoa(int(t)) + ")"
	}
}

// State is where a Client is in its life.
type State int

const (
	// StateConnecting: dialing, or running the OnConnect hook.
	StateConnecting State = iota
	// StateConnected: a connection is up; Send writes directly to it.
	StateConnected
	// StateWaiting: waiting out the backoff delay before the next attempt.
	StateWaiting
	// StateClosed: stopped for good, after Close or an abort.
	StateClosed
)

// String returns the state's name in lower case, for example "connected".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateWaiting:
		return "waiting"
	case StateClosed:
		return "closed"
	default:
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
}

// writeMode says where Send puts a message.
type writeMode int

const (
	modeDown   writeMode = iota // no connection: queue
	modeUp                      // connected: write directly
	modeClosed                  // stopped: fail with closedErr
)

// Client is a WebSocket client that stays connected: it reconnects with
// backoff after every disconnect its Policy allows, queues messages sent
// while it is down and writes them, in order, after the next connection is
// up.
//
// All methods are safe for concurrent use by multiple goroutines. Writes to
// the connection are serialized by one lock inside the Client: when it is
// connected, Send writes the caller's message directly, without copying it
// or handing it to another goroutine. Received messages are read by the
// client's own goroutine and handed to Receive in order.
//
// A Client runs one goroutine for its whole life: it dials, reads, decides
// and runs every hook. Short-lived goroutines help it (each dial, the
// reading of a new connection while OnConnect runs and the queue is
// written, the heartbeat's timer callbacks).
// All of them have ended when Done is closed, and Close called from
// outside a hook returns only then.
type Client struct {
	urls   []string // endpoints: the URL given to New, then WithURLs
	opts   options
	logger *slog.Logger
	stats  counters

	lifecycle // see lifecycle.go

	in inbox // received messages waiting for Receive

	// wlock is the write lock: a channel so that waiting for it can respect
	// a context. It guards w.
	wlock chan struct{}
	w     struct {
		mode      writeMode
		link      *link // the live connection in modeUp
		queue     queue
		limit     int           // outbound limit in bytes, 0 for none
		room      chan struct{} // made by a waiting Send; closed when queue room frees or mode changes
		closedErr error
		pending   []dropRecord // dropped, for the client's goroutine to report to OnDropped
		lastSeq   uint64       // the last sequence number accepted (WithAcks)
		seqAny    bool         // one was
	}
	win    *window              // the replay window, with WithAcks
	wakeCh chan struct{}        // capacity 1: wakes the client's goroutine in a wait (pending has records to report, or reconnectAsked)
	cur    atomic.Pointer[link] // the connection the client's goroutine works on, for Close when a write is stuck

	closeSpec      atomic.Pointer[closeSpec] // the code and reason Close chose
	reconnectAsked atomic.Bool               // Reconnect asks to cut the wait (with a token on wakeCh)

	mu      sync.Mutex
	state   State
	stateCh chan struct{} // made by WaitState and Dial; closed on the next change
	err     error         // the abort reason
	cameUp  bool          // a connection came up (OnConnect returned nil), for Dial
}

// New checks url and the options and returns a Client that connects in the
// background. It does not wait for the first connection; see Dial or
// WaitState. The url scheme must be ws or wss.
func New(rawURL string, opts ...Option) (*Client, error) {
	if err := checkURL(rawURL); err != nil {
		return nil, fmt.Errorf("wsreconnect: %w", err)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("wsreconnect: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("wsreconnect: %w", err)
		}
	}
	if o.backoff == nil {
		o.backoff = NewDefaultBackoff()
	}
	o.backoff.Reset()
	if o.compressOnShrink {
		o.dialer.EnableCompression = true
	}
	if o.writePool != nil {
		o.dialer.WriteBufferPool = o.writePool
	}
	if o.dialer.WriteBufferSize == 0 && o.dialer.WriteBufferPool == nil {
		// One frame and one write call per message up to 64 KiB, with a
		// buffer held only while writing (buffers.go).
		o.dialer.WriteBufferSize = defaultWriteBuffer
		o.dialer.WriteBufferPool = &writePool
	}
	if o.dialer.ReadBufferSize == 0 {
		// gorilla's buffer only for frame headers; data read ahead waits
		// in a pooled buffer (buffers.go).
		o.dialer.ReadBufferSize = smallReadBuffer
		o.readAhead = true
	}
	o.dialer = prepareDialer(o.dialer)

	c := &Client{
		urls:   append([]string{rawURL}, o.urls...),
		opts:   o,
		logger: o.logger,
		wlock:  make(chan struct{}, 1),
	}
	c.lifecycle.init()
	c.w.queue.max = o.sendBuffer
	c.w.queue.maxBytes = o.sendBufferBytes
	c.w.queue.size = &c.stats.queued
	c.wakeCh = make(chan struct{}, 1)
	c.stats.trackURL = o.urlFunc != nil
	if o.acks != nil {
		c.win = newWindow(o.acks)
	}
	c.w.limit = o.maxMessageSize
	c.stats.limit.Store(int64(o.maxMessageSize))
	c.stats.downSince.Store(time.Now().UnixNano())
	go c.run()
	return c, nil
}

// Dial is New followed by waiting for the first connection: it returns the
// client once a connection came up (the OnConnect hook returned nil and
// what it queued is written), connected, unless that connection is gone
// again by then: Send writes and Ping pings on it at once. If ctx ends
// first, or the client aborts first, the client is closed and Dial returns
// the reason (the abort reason as Err gives it, or else ctx's error), once
// every hook has returned, the abort's OnDisconnect included.
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Client, error) {
	c, err := New(rawURL, opts...)
	if err != nil {
		return nil, err
	}
	var up bool
	var reason error
	err = c.waitUntil(ctx, func() bool {
		up, reason = c.cameUp, c.err
		return up || c.state == StateClosed
	})
	if err == nil && up && reason == nil {
		return c, nil
	}
	c.Close()
	if reason := c.Err(); reason != nil {
		return nil, reason
	}
	if err != nil {
		return nil, err
	}
	return nil, ErrClosed
}

// Send writes a data message. typ is TextMessage or BinaryMessage.
//
// When the client is connected, Send writes data on the connection and
// returns nil once it is written; it does not keep data after it returns
// (with WithAcks, a tracked message is copied into the replay window). ctx
// bounds the wait for the write lock and, if it has a deadline, the write
// itself: a write cut by the deadline breaks the connection, which is then
// reconnected, and Send returns ctx's error (that message is not written
// again; the peer may have seen part of it).
//
// While the client is disconnected, Send copies the message into a bounded
// FIFO queue (WithSendBuffer, WithSendBufferBytes) and returns nil; queued
// messages are written in order after the next connection is up and the
// OnConnect hook has run. When the queue is full Send does what
// WithQueueOverflow says: by default it blocks until there is room or ctx
// ends; if ctx ends first Send returns ctx's error and the message is never
// written. A Send whose ctx has already ended writes nothing and returns
// ctx's error. A message whose write fails because the connection broke is
// queued again at the head, so it is written after the reconnect. With
// WithoutQueue, Send fails instead with an error wrapping ErrNotConnected.
//
// A message larger than the outbound limit fails with ErrMessageTooBig, or,
// with WithSplitter, goes out as the parts the splitter makes, together and
// in order on one connection. The limit is checked again when a queued
// message is written: a queued message over a limit learned meanwhile is
// split again or dropped. Text must be valid UTF-8, every part of it too
// (see WithoutUTF8Check). After Close or an abort Send returns an error
// wrapping ErrClosed (and the abort reason). Called from a hook, Send never
// waits for queue room: it returns ErrWouldBlock.
func (c *Client) Send(ctx context.Context, typ MessageType, data []byte) error {
	if err := c.checkMessage(typ, data); err != nil {
		return err
	}
	m := message{typ: typ, data: data}
	for {
		if err := c.lockWrite(ctx); err != nil {
			return err
		}
		if c.w.mode == modeClosed {
			err := c.w.closedErr
			c.unlockWrite()
			return err
		}
		if err := ctx.Err(); err != nil {
			c.unlockWrite()
			return err
		}
		if limit := c.w.limit; !m.fits(limit) {
			c.unlockWrite()
			if c.opts.splitter == nil {
				return tooBig(len(data), limit)
			}
			split, err := c.split(typ, data, limit)
			if err != nil {
				return err
			}
			m = split
			continue // the limit may have changed meanwhile: check again
		}
		if c.win != nil {
			if err := c.win.track(&m); err != nil {
				c.unlockWrite()
				return err
			}
		}
		if c.w.mode == modeUp {
			if m.tracked && c.win.fullFor(&m) {
				if err := c.waitRoomLocked(ctx, "ack window", c.win.roomChan()); err != nil {
					return err
				}
				continue
			}
			if err := c.acceptLocked(&m); err != nil {
				c.unlockWrite()
				return err
			}
			err := c.writeLiveLocked(ctx, m)
			c.unlockWrite()
			return err
		}
		if c.opts.noQueue {
			c.unlockWrite()
			return fmt.Errorf("%w: the client is %s", ErrNotConnected, c.State())
		}
		wait, err := c.makeRoomLocked(&m)
		if err != nil {
			c.unlockWrite()
			return err
		}
		if !wait {
			if err := c.acceptLocked(&m); err != nil {
				c.unlockWrite()
				return err
			}
			if !m.owned {
				m.data, m.owned = bytes.Clone(data), true
			}
			c.w.queue.pushBack(m)
			c.unlockWrite()
			return nil
		}
		if err := c.waitRoomLocked(ctx, "send queue", nil); err != nil {
			return err
		}
	}
}

// acceptLocked checks that a tracked m's sequence number is above the last
// one accepted and records it, and stamps m for WithMaxQueueAge.
func (c *Client) acceptLocked(m *message) error {
	if m.tracked {
		if c.w.seqAny && m.seq <= c.w.lastSeq {
			return fmt.Errorf("wsreconnect: Acks.ID: sequence number %d is not above the last one, %d", m.seq, c.w.lastSeq)
		}
		c.w.lastSeq, c.w.seqAny = m.seq, true
	}
	if m.tracked || c.opts.maxQueueAge > 0 {
		m.at = time.Now()
	}
	return nil
}

// makeRoomLocked makes room in the queue for m: it drops expired messages
// (WithMaxQueueAge) and, with OverflowDropOldest, the oldest ones. It
// reports whether Send must wait for room, or an error for
// OverflowFailFast and for a hook that would have to wait.
func (c *Client) makeRoomLocked(m *message) (wait bool, err error) {
	q := &c.w.queue
	if !q.full(m) {
		return false, nil
	}
	if age := c.opts.maxQueueAge; age > 0 {
		now := time.Now()
		for q.len() > 0 && q.at(0).expired(age, now) {
			c.dropLaterLocked(q.popFront(), ErrExpired)
		}
		if !q.full(m) {
			return false, nil
		}
	}
	switch c.opts.overflow {
	case OverflowFailFast:
		return false, ErrQueueFull
	case OverflowDropOldest:
		if c.pendingFullLocked() {
			return true, nil // OnDropped is behind: wait for it
		}
		for q.len() > 0 && q.full(m) {
			c.dropLaterLocked(q.popFront(), ErrQueueFull)
		}
		return false, nil
	}
	return true, nil
}

// pendingFullLocked reports whether as many dropped messages wait for the
// OnDropped hook as the queue holds: dropping more waits for the hook.
func (c *Client) pendingFullLocked() bool {
	return c.opts.onDropped != nil && len(c.w.pending) >= c.w.queue.max
}

// dropLaterLocked records m as dropped with err, for the client's goroutine
// to report to the OnDropped hook.
func (c *Client) dropLaterLocked(m message, err error) {
	if c.opts.onDropped == nil {
		c.stats.dropped.Add(1)
		return
	}
	c.w.pending = append(c.w.pending, dropRecord{m: m, err: err})
	c.wake()
}

// wake wakes the client's goroutine if it waits out a delay or a dial.
func (c *Client) wake() {
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
}

// dropRecord is a message the client will not write, and why.
type dropRecord struct {
	m   message
	err error
}

// Flush waits until every message queued so far has left the queue:
// written on a connection, or dropped (and reported to OnDropped). With
// WithAcks it then waits until every tracked message accepted so far is
// acknowledged or dropped. It returns ctx's error if ctx ends first, and an
// error wrapping ErrClosed if the client stops first. Flush followed by
// Close is a graceful drain: nothing accepted before is discarded. Called
// from a hook, Flush returns ErrWouldBlock instead of waiting.
func (c *Client) Flush(ctx context.Context) error {
	var target uint64
	var tracked, first = false, true
	for {
		if err := c.lockWrite(ctx); err != nil {
			return err
		}
		if c.w.mode == modeClosed {
			err := c.w.closedErr
			c.unlockWrite()
			return err
		}
		if first {
			target, tracked, first = c.w.lastSeq, c.w.seqAny, false
		}
		empty := c.w.queue.waitEmpty()
		c.unlockWrite()
		if empty == nil {
			break
		}
		if err := c.flushWait(ctx, empty); err != nil {
			return err
		}
	}
	if c.win == nil || !tracked {
		return nil
	}
	for {
		acked := c.win.waitAcked(target)
		if acked == nil {
			break
		}
		if err := c.flushWait(ctx, acked); err != nil {
			return err
		}
	}
	if c.ctx.Err() != nil {
		return closedError(c.Err())
	}
	return nil
}

func (c *Client) flushWait(ctx context.Context, ch <-chan struct{}) error {
	if c.inOwnHook() {
		return fmt.Errorf("%w: Flush", ErrWouldBlock)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return closedError(c.Err())
	}
}

func (c *Client) checkMessage(typ MessageType, data []byte) error {
	if typ != TextMessage && typ != BinaryMessage {
		return fmt.Errorf("wsreconnect: invalid message type %d", typ)
	}
	if !c.validText(typ, data) {
		return ErrInvalidUTF8
	}
	return nil
}

// validText reports whether data may go out as typ: text must be valid
// UTF-8, unless WithoutUTF8Check.
func (c *Client) validText(typ MessageType, data []byte) bool {
	return typ != TextMessage || c.opts.skipUTF8Check || utf8.Valid(data)
}

func tooBig(n, limit int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooBig, n, limit)
}

// split makes a message of a copy of data, cut by the splitter into parts
// of at most limit bytes, and checks them: each part of a text message must
// be valid UTF-8 on its own.
func (c *Client) split(typ MessageType, data []byte, limit int) (message, error) {
	whole := bytes.Clone(data)
	parts, err := c.opts.splitter(whole, limit)
	if err != nil {
		return message{}, fmt.Errorf("wsreconnect: splitter: %w", err)
	}
	if len(parts) == 0 {
		return message{}, errors.New("wsreconnect: splitter returned no parts")
	}
	for _, p := range parts {
		if len(p) > limit {
			return message{}, fmt.Errorf("wsreconnect: splitter returned a part of %d bytes: %w", len(p), tooBig(len(p), limit))
		}
		if !c.validText(typ, p) {
			return message{}, fmt.Errorf("wsreconnect: splitter cut a text message inside a character: %w", ErrInvalidUTF8)
		}
	}
	return message{typ: typ, data: whole, parts: parts, owned: true}, nil
}

// writeLiveLocked writes m on the live connection. If the write fails the
// connection is treated as lost: the message is queued again at the head,
// whole, unless ctx's deadline cut it.
func (c *Client) writeLiveLocked(ctx context.Context, m message) error {
	l := c.w.link
	err := c.writeLocked(ctx, l, m)
	if err == nil {
		if m.tracked {
			if !m.owned {
				m.data, m.owned = bytes.Clone(m.data), true
			}
			c.win.add(m)
		}
		return nil
	}
	c.lostLocked(l, err)
	if ctxErr := ctx.Err(); ctxErr != nil && isTimeout(err) {
		return ctxErr
	}
	if c.w.mode == modeDown && c.opts.noQueue {
		return fmt.Errorf("%w: write: %w", ErrNotConnected, err)
	}
	if c.w.mode == modeDown {
		if !m.owned {
			m.data, m.owned = bytes.Clone(m.data), true
		}
		c.w.queue.pushFront(m)
		return nil
	}
	return c.w.closedErr
}

// writeLocked writes m, all its parts in order, on l and counts it; the
// caller holds the write lock.
func (c *Client) writeLocked(ctx context.Context, l *link, m message) error {
	if m.parts == nil {
		return c.writeFrameLocked(ctx, l, m, m.data)
	}
	for _, p := range m.parts {
		if err := c.writeFrameLocked(ctx, l, m, p); err != nil {
			return err
		}
	}
	return nil
}

// writeFrameLocked writes data, m or one of its parts, on l.
func (c *Client) writeFrameLocked(ctx context.Context, l *link, m message, data []byte) error {
	record, err := l.write(ctx, m.typ, data)
	if err != nil {
		return err
	}
	if record {
		l.record(&m)
	}
	c.stats.messagesOut.Add(1)
	c.stats.bytesOut.Add(int64(len(data)))
	return nil
}

// Receive returns the next message from the peer. It blocks across
// reconnects until a message arrives or ctx ends. With WithOnMessage set,
// messages go to that hook and Receive only reports the end. After an
// abort it returns the messages that had already arrived, then an error
// wrapping ErrClosed and the abort reason, without waiting for Done; after
// Close it returns ErrClosed. Called from a hook with nothing buffered, it
// returns ErrWouldBlock (or, after an abort, the reason) at once.
//
// With a ctx that cannot be canceled (ctx.Done() returns nil, as for
// context.Background), a Receive that finds nothing buffered may read the
// connection itself, on the caller's goroutine, instead of waiting for the
// client's goroutine to hand the message over: a loop of such Receives
// costs what a loop of gorilla's ReadMessage does. Nothing else changes:
// messages arrive once and in order, the heartbeat, Close and Reconnect
// work as ever (they end the read by acting on the connection), and the
// hooks still run on the client's goroutine. With a ctx that can be
// canceled, Receive never reads: a read cannot be interrupted without
// ending the connection.
func (c *Client) Receive(ctx context.Context) (MessageType, []byte, error) {
	if c.closing.Load() {
		return 0, nil, ErrClosed
	}
	inbox := c.in.channel(c.opts.receiveBuffer)
	if m, ok := c.in.poll(inbox); ok { // fast path: no select over several channels
		return m.typ, m.data, nil
	}
	if c.inOwnHook() {
		if c.ctx.Err() != nil {
			return c.receiveStopped(inbox)
		}
		return 0, nil, ErrWouldBlock
	}
	if ctx.Done() == nil && c.opts.onMessage == nil {
		return c.receiveReading(inbox)
	}
	// This Receive cannot wait for a read to end: the client's goroutine
	// reads (see role.go).
	c.in.others.Add(1)
	defer c.in.others.Add(-1)
	c.cur.Load().recallRead()
	select {
	case m := <-inbox:
		return m.typ, m.data, nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-c.ctx.Done():
		return c.receiveStopped(inbox)
	}
}

// receiveStopped is Receive once the client stopped. After an abort no
// message arrives any more: what already arrived comes first, then the
// reason.
func (c *Client) receiveStopped(inbox chan received) (MessageType, []byte, error) {
	if c.closing.Load() {
		return 0, nil, ErrClosed
	}
	if m, ok := c.in.poll(inbox); ok {
		return m.typ, m.data, nil
	}
	return 0, nil, closedError(c.Err())
}

// Close stops the client: it stops any reconnection in progress at once
// (also in the middle of a backoff delay or a handshake), sends a 1000 close
// frame on a live connection and waits up to the close timeout
// (WithCloseTimeout, default 5 s) for the peer's answer; if a write holds
// the connection that long, it drops the connection instead. Messages still
// queued (and, with WithAcks, unacknowledged) are discarded and reported to
// the OnDropped hook; call Flush first for a graceful drain.
//
// Called from any goroutine other than the client's, Close returns after
// Done is closed: no hook is running and none will start. Called from a hook
// (on the client's goroutine), it cannot wait for the hook that called it:
// it returns at once, and the client stops as soon as the hook returns. A
// hook must therefore not wait for another goroutine that calls Close. A
// header func (WithHeaderFunc) or URL func (WithURLFunc) is not waited for:
// its ctx is canceled and its result discarded. Close may be called more
// than once and always returns nil.
func (c *Client) Close() error {
	return c.closeWith(CloseNormalClosure, "")
}

// CloseWith is Close with a chosen close code and reason: code must be one
// a client may send (CloseCode.IsSendable) and reason valid UTF-8 of at most
// MaxCloseReason (123) bytes, else CloseWith returns an error and does
// nothing. Only the first Close or CloseWith chooses the code.
func (c *Client) CloseWith(code CloseCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return err
	}
	return c.closeWith(code, reason)
}

func (c *Client) closeWith(code CloseCode, reason string) error {
	if c.closing.CompareAndSwap(false, true) {
		c.closeSpec.Store(&closeSpec{code: code, reason: reason})
		c.cancel()
		c.closeLive()
	}
	if c.inOwnHook() {
		return nil
	}
	<-c.done
	return nil
}

// MaxCloseReason is the longest close reason, in bytes, that fits a close
// frame (125 bytes of control frame payload, 2 of them the code).
const MaxCloseReason = 123

// checkClose reports why a client may not close with code and reason.
func checkClose(code CloseCode, reason string) error {
	if !code.IsSendable() {
		return fmt.Errorf("wsreconnect: close code %s may not be sent", code)
	}
	if len(reason) > MaxCloseReason {
		return fmt.Errorf("wsreconnect: close reason of %d bytes, more than %d", len(reason), MaxCloseReason)
	}
	if !utf8.ValidString(reason) {
		return fmt.Errorf("wsreconnect: close reason: %w", ErrInvalidUTF8)
	}
	return nil
}

// closeCode is the code and reason Close chose; 1000 before Close.
func (c *Client) closeCode() (CloseCode, string) {
	if s := c.closeSpec.Load(); s != nil {
		return s.code, s.reason
	}
	return CloseNormalClosure, ""
}

// closeLive starts the closing handshake on the live connection, if any,
// and discards the queue.
func (c *Client) closeLive() {
	timer := time.NewTimer(c.opts.closeTimeout)
	defer timer.Stop()
	select {
	case c.wlock <- struct{}{}:
	case <-timer.C:
		// A write is stuck: drop the connection to unblock it. The
		// client's goroutine discards the queue when it stops.
		if l := c.cur.Load(); l != nil {
			l.fail(ErrClosed)
		}
		return
	}
	l := c.w.link
	c.setClosedLocked(ErrClosed)
	c.unlockWrite()
	if l != nil {
		code, reason := c.closeCode()
		l.startClose(code, reason, c.opts.closeTimeout)
	}
}

// errReconnect is the cause in Disconnect.Err of a connection that
// Reconnect closed.
var errReconnect = errors.New("wsreconnect: closed by Reconnect")

// Reconnect closes the live connection with code and reason and
// reconnects at once: for credential rotation, rebalancing, or a feed the
// application judges stale. It is not counted as a failure and takes no
// backoff step; the policy is not asked, and OnDisconnect gets a
// Disconnect with Local true and that code (Err wraps nothing else).
// While the client waits out a backoff delay, Reconnect cuts the wait;
// while it is connecting, Reconnect does nothing and returns nil. Attempts
// that Reconnect brings about are at least WithRestartDelay apart (500 ms
// by default, or DefaultRestartDelay when that is 0): calls in between are
// coalesced into one, so an application cannot flood its server. code and
// reason are checked as by CloseWith. After Close or an abort, Reconnect
// returns an error wrapping ErrClosed.
func (c *Client) Reconnect(code CloseCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return err
	}
	if c.ctx.Err() != nil {
		return closedError(c.Err())
	}
	switch c.State() {
	case StateConnected:
		if l := c.cur.Load(); l != nil && l.forced.CompareAndSwap(nil, &closeSpec{code: code, reason: reason}) {
			l.startClose(code, reason, c.opts.closeTimeout)
		}
	case StateWaiting:
		c.reconnectAsked.Store(true)
		c.wake()
	}
	return nil
}

// Ping sends a ping on the live connection and returns the round-trip time
// once its pong arrives. While the client is down it returns an error
// wrapping ErrNotConnected; if the connection ends first, likewise; after
// Close or an abort, an error wrapping ErrClosed; if ctx ends first, ctx's
// error. Pongs are seen only while the connection is read: while the
// application holds the reader up (Receive behind, a long OnMessage) the
// answer waits. Called from a hook while connected, it returns
// ErrWouldBlock: the pong would be read by the hook's own goroutine. The
// heartbeat's own samples are in Stats.RTT.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	if err := c.lockWrite(ctx); err != nil {
		return 0, err
	}
	mode, l, closedErr := c.w.mode, c.w.link, c.w.closedErr
	c.unlockWrite()
	switch mode {
	case modeClosed:
		return 0, closedErr
	case modeDown:
		return 0, fmt.Errorf("%w: the client is %s", ErrNotConnected, c.State())
	}
	if c.inOwnHook() {
		// The pong would be read by the client's goroutine, which runs
		// this hook.
		return 0, fmt.Errorf("%w: Ping", ErrWouldBlock)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.opts.closeTimeout)
	}
	sent, pong, cancel, err := l.ping(deadline)
	if err != nil {
		return 0, fmt.Errorf("%w: ping: %w", ErrNotConnected, err)
	}
	defer cancel()
	select {
	case at := <-pong:
		return at.Sub(sent), nil
	case <-l.brokenCh():
		if c.ctx.Err() != nil {
			return 0, closedError(c.Err())
		}
		return 0, fmt.Errorf("%w: the connection ended", ErrNotConnected)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// State returns the client's current state. Inside OnDisconnect it is the
// state the decision leads to: StateWaiting, or StateClosed for an abort.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// WaitState blocks until the client is in state s and returns nil, or
// returns ctx's error when ctx ends first. If the client stops before
// reaching s (and s is not StateClosed) it returns an error wrapping
// ErrClosed and, after an abort, the reason. A state held only briefly
// between two checks may be missed; Dial does not miss the first
// connection. Called from a hook, it returns at once: nil if the client is
// in s, else ErrWouldBlock (or the ErrClosed error).
func (c *Client) WaitState(ctx context.Context, s State) error {
	var cur State
	var reason error
	if err := c.waitUntil(ctx, func() bool {
		cur, reason = c.state, c.err
		return cur == s || cur == StateClosed
	}); err != nil {
		return err
	}
	if cur == s {
		return nil
	}
	return closedError(reason)
}

// waitUntil returns nil once cond, evaluated under c.mu, holds; it is
// evaluated again on every state change (and when a connection first came
// up). It returns ctx's error if ctx ends first, and ErrWouldBlock at once
// when called from a hook, which no state change can reach while it runs.
func (c *Client) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		if cond() {
			c.mu.Unlock()
			return nil
		}
		if c.stateCh == nil {
			c.stateCh = make(chan struct{})
		}
		changed := c.stateCh
		c.mu.Unlock()
		if c.inOwnHook() {
			return ErrWouldBlock
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Done returns a channel that is closed when the client has stopped for
// good, after Close or an abort, once its goroutine and every hook have
// returned.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: nil while it runs and after Close;
// after an abort, the reason: a *CloseError with the peer's code, a
// *HandshakeError, a TLS or network error, the error of a hook or header
// func wrapped with backoff.Permanent (unwrapped), an error wrapping
// ErrRetriesExhausted or ErrReconnectBudget (and the last disconnect's
// error), or an error naming an invalid Action a policy returned. The
// reason is set before the OnDisconnect hook of the abort runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// setState moves the client to s and runs the OnStateChange hook. Only the
// client's goroutine calls it, outside hooks.
func (c *Client) setState(s State) {
	c.mu.Lock()
	from := c.state
	if from == s {
		c.mu.Unlock()
		return
	}
	c.state = s
	c.notifyLocked()
	c.mu.Unlock()
	if f := c.opts.onStateChange; f != nil {
		c.hook(func() { f(from, s) })
	}
}

// notifyLocked wakes every WaitState and Dial.
func (c *Client) notifyLocked() {
	if c.stateCh != nil {
		close(c.stateCh)
		c.stateCh = nil
	}
}

// lockWrite takes the write lock, or returns ctx's error if ctx ends first.
func (c *Client) lockWrite(ctx context.Context) error {
	select {
	case c.wlock <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlockWrite() { <-c.wlock }

// wakeSendersLocked wakes every Send waiting for queue room.
func (c *Client) wakeSendersLocked() {
	if c.w.room != nil {
		close(c.w.room)
		c.w.room = nil
	}
}

// waitRoomLocked releases the write lock and waits until queue room frees
// or the mode changes, or also (the ack window's room, if not nil) is
// closed, or ctx ends. full names what is full. From a hook it does not
// wait.
func (c *Client) waitRoomLocked(ctx context.Context, full string, also <-chan struct{}) error {
	if c.inOwnHook() {
		c.unlockWrite()
		return fmt.Errorf("%w: the %s is full", ErrWouldBlock, full)
	}
	if c.w.room == nil {
		c.w.room = make(chan struct{})
	}
	room := c.w.room
	c.unlockWrite()
	select {
	case <-room:
		return nil
	case <-also:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setClosedLocked makes every later Send fail and discards the queue.
func (c *Client) setClosedLocked(err error) {
	if c.w.mode == modeClosed {
		return
	}
	c.w.mode = modeClosed
	c.w.link = nil
	c.w.closedErr = err
	for c.w.queue.len() > 0 {
		c.w.pending = append(c.w.pending, dropRecord{m: c.w.queue.popFront(), err: ErrClosed})
	}
	c.w.queue.reset()
	if c.win != nil {
		for _, m := range c.win.takeAll() {
			c.w.pending = append(c.w.pending, dropRecord{m: m, err: errUnacked})
		}
	}
	c.wakeSendersLocked()
}

// lostLocked records that a write on l failed: the reader is told, and
// later Sends queue.
func (c *Client) lostLocked(l *link, err error) {
	l.failWrite(err)
	c.detachLocked(l)
}

// detachLocked makes Send stop writing to l.
func (c *Client) detachLocked(l *link) {
	if c.w.link != l {
		return
	}
	c.w.link = nil
	if c.w.mode == modeUp {
		c.w.mode = modeDown
		c.wakeSendersLocked()
	}
}

// Conn is the connection handed to the OnConnect hook. It is valid only
// while that hook runs: afterwards its methods return an error.
type Conn struct {
	c       *Client
	l       *link
	a       *aside
	resp    *http.Response // the handshake's answer, for Response
	expired atomic.Bool    // the hook returned; set under the write lock
}

var errConnExpired = errors.New("wsreconnect: Conn used after its OnConnect hook returned")

// Send writes a message on this connection, ahead of anything Client.Send
// queued while the client was down. It does not queue: if the connection is
// broken it returns the error. ctx works as in Client.Send. After the
// OnConnect hook returned, Send fails.
func (cn *Conn) Send(ctx context.Context, typ MessageType, data []byte) error {
	c := cn.c
	if err := c.checkMessage(typ, data); err != nil {
		return err
	}
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	switch {
	case cn.expired.Load():
		return errConnExpired
	case c.w.mode == modeClosed:
		return c.w.closedErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m := message{typ: typ, data: data}
	if !m.fits(c.w.limit) {
		return tooBig(len(data), c.w.limit)
	}
	if err := c.writeLocked(ctx, cn.l, m); err != nil {
		cn.l.failWrite(err)
		return fmt.Errorf("wsreconnect: write: %w", err)
	}
	return nil
}

// Receive returns the next message of this connection, for a handshake
// that must read the server's answers (log in, wait for the OK, subscribe,
// wait for the ack) before the queue is written. While the OnConnect hook
// runs a reader reads the connection, so the heartbeat works; it holds at
// most the receive buffer (WithReceiveBuffer) of messages, then waits for
// Receive. Messages the hook does not take go, in order, to Client.Receive
// or OnMessage once the hook returns. A Receive that ctx ends returns ctx's
// error and leaves the connection intact. If the connection ends, Receive
// returns the read error; after Close, an error wrapping ErrClosed. After
// the OnConnect hook returned, Receive fails. With WithAcks and
// Acks.Consume, acks are not returned.
func (cn *Conn) Receive(ctx context.Context) (MessageType, []byte, error) {
	if cn.expired.Load() {
		return 0, nil, errConnExpired
	}
	m, err := cn.a.receive(ctx)
	if err != nil {
		return 0, nil, err
	}
	return m.typ, m.data, nil
}

// expire ends the Conn's validity, once its hook returned.
func (cn *Conn) expire() {
	cn.c.wlock <- struct{}{}
	cn.expired.Store(true)
	cn.c.unlockWrite()
}

// Subprotocol returns the subprotocol the server selected, if any.
func (cn *Conn) Subprotocol() string { return cn.l.ws.Subprotocol() }
