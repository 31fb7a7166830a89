package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// A Client runs one goroutine for its whole life (it reads and decides),
// plus short-lived ones for each dial, for writing the queue after a
// reconnect, and for the heartbeat's timer callbacks. All of them have
// ended when Close returns or, after an abort, when Done is closed.
type Client struct {
	urls   []string // endpoints: the URL given to New, then WithURLs
	opts   options
	logger *slog.Logger
	stats  counters

	ctx        context.Context // done by Close and when the client stops (a stopContext)
	quit       chan struct{}   // closed by Close, or when the client stops
	quitOnce   sync.Once
	userClosed atomic.Bool   // Close was called
	done       chan struct{} // closed when the client's goroutine has ended
	once       sync.Once

	recv atomic.Pointer[chan received] // made on first use, see inbox

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
		discarded []message // dropped by a stop, for the OnDropped hook
	}
	cur atomic.Pointer[link] // the connection the client's goroutine works on, for Close when a write is stuck

	mu        sync.Mutex
	state     State
	stateCh   chan struct{} // made by WaitState; closed on the next state change
	err       error         // the abort reason
	inHandler bool          // a hook is running on the client's goroutine
	inMessage atomic.Bool   // the OnMessage hook is running
	handlerCh chan struct{} // made by a waiting Close; closed when a hook starts
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
	o.dialer = prepareDialer(o.dialer)

	c := &Client{
		urls:   append([]string{rawURL}, o.urls...),
		opts:   o,
		logger: o.logger,
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		wlock:  make(chan struct{}, 1),
	}
	c.ctx = stopContext{c.quit}
	c.w.queue.max = o.sendBuffer
	c.w.queue.size = &c.stats.queued
	c.w.limit = o.maxMessageSize
	c.stats.limit.Store(int64(o.maxMessageSize))
	go c.run()
	return c, nil
}

// Dial is New followed by waiting for the first connection. If ctx ends
// first, or the policy aborts, the client is closed and Dial returns the
// reason (ctx's error, or the abort reason as Err would give it).
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Client, error) {
	c, err := New(rawURL, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.WaitState(ctx, StateConnected); err != nil {
		c.Close()
		if reason := c.Err(); reason != nil {
			return nil, reason
		}
		return nil, err
	}
	return c, nil
}

// Send writes a data message. typ is TextMessage or BinaryMessage.
//
// When the client is connected, Send writes data on the connection and
// returns nil once it is written; it does not keep data after it returns.
// ctx bounds the wait for the write lock and, if it has a deadline, the
// write itself (a write cut by the deadline breaks the connection, which is
// then reconnected; that message is not written again).
//
// While the client is disconnected, Send copies the message into a bounded
// FIFO queue (WithSendBuffer) and returns nil; queued messages are written
// in order after the next connection is up and the OnConnect hook has run.
// When the queue is full Send blocks until there is room or ctx ends; if ctx
// ends first Send returns ctx's error and the message is never written. A
// message whose write fails because the connection broke is queued again
// at the head, so it is written after the reconnect.
//
// A message larger than the outbound limit fails with ErrMessageTooBig; the
// limit is checked again when a queued message is written, and a queued
// message over a limit learned meanwhile is dropped. After Close or an
// abort Send returns an error wrapping ErrClosed (and the abort reason).
func (c *Client) Send(ctx context.Context, typ MessageType, data []byte) error {
	if err := c.checkMessage(typ, data); err != nil {
		return err
	}
	for {
		if err := c.lockWrite(ctx); err != nil {
			return err
		}
		if c.w.mode == modeClosed {
			err := c.w.closedErr
			c.unlockWrite()
			return err
		}
		if limit := c.w.limit; limit > 0 && len(data) > limit {
			c.unlockWrite()
			if c.opts.splitter == nil {
				return tooBig(len(data), limit)
			}
			return c.sendSplit(ctx, typ, data, limit)
		}
		if c.w.mode == modeUp {
			err := c.writeLiveLocked(ctx, message{typ: typ, data: data})
			c.unlockWrite()
			return err
		}
		if !c.w.queue.full() {
			c.w.queue.pushBack(message{typ: typ, data: bytes.Clone(data)})
			c.unlockWrite()
			return nil
		}
		if err := c.waitRoomLocked(ctx); err != nil {
			return err
		}
	}
}

func (c *Client) checkMessage(typ MessageType, data []byte) error {
	if typ != TextMessage && typ != BinaryMessage {
		return fmt.Errorf("wsreconnect: invalid message type %d", typ)
	}
	if typ == TextMessage && !c.opts.skipUTF8Check && !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	return nil
}

func tooBig(n, limit int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooBig, n, limit)
}

// sendSplit sends data, larger than limit, as the parts the splitter makes.
// The parts go out together: no other message is written between them.
func (c *Client) sendSplit(ctx context.Context, typ MessageType, data []byte, limit int) error {
	parts, err := c.split(data, limit)
	if err != nil {
		return err
	}
	// The parts refer to a copy of the whole message, which is split again
	// if the peer refuses a part.
	whole := &message{typ: typ, data: bytes.Clone(data)}
	for {
		if err := c.lockWrite(ctx); err != nil {
			return err
		}
		switch {
		case c.w.mode == modeClosed:
			err := c.w.closedErr
			c.unlockWrite()
			return err
		case c.w.limit != limit:
			// The limit changed while the parts were made: start again.
			c.unlockWrite()
			return c.Send(ctx, typ, data)
		case c.w.mode == modeUp:
			for i, p := range parts {
				if err := c.writeLiveLocked(ctx, message{typ: typ, data: p, origin: whole}); err != nil {
					c.unlockWrite()
					return err
				}
				if c.w.mode != modeUp {
					// The connection broke; the failed part was queued
					// again, the rest follow it.
					for _, rest := range parts[i+1:] {
						c.w.queue.pushBack(message{typ: typ, data: bytes.Clone(rest), origin: whole})
					}
					break
				}
			}
			c.unlockWrite()
			return nil
		case c.w.queue.len() == 0 || c.w.queue.max-c.w.queue.len() >= len(parts):
			for _, p := range parts {
				c.w.queue.pushBack(message{typ: typ, data: bytes.Clone(p), origin: whole})
			}
			c.unlockWrite()
			return nil
		}
		if err := c.waitRoomLocked(ctx); err != nil {
			return err
		}
	}
}

// split runs the splitter and checks its result.
func (c *Client) split(data []byte, limit int) ([][]byte, error) {
	parts, err := c.opts.splitter(data, limit)
	if err != nil {
		return nil, fmt.Errorf("wsreconnect: splitter: %w", err)
	}
	if len(parts) == 0 {
		return nil, errors.New("wsreconnect: splitter returned no parts")
	}
	for _, p := range parts {
		if len(p) > limit {
			return nil, fmt.Errorf("wsreconnect: splitter returned a part of %d bytes: %w", len(p), tooBig(len(p), limit))
		}
	}
	return parts, nil
}

// writeLiveLocked writes m on the live connection. If the write fails the
// connection is treated as lost: the message is queued again at the head,
// unless ctx's deadline cut it.
func (c *Client) writeLiveLocked(ctx context.Context, m message) error {
	l := c.w.link
	err := c.writeLocked(ctx, l, m)
	if err == nil {
		return nil
	}
	c.lostLocked(l, err)
	if ctxErr := ctx.Err(); ctxErr != nil && isTimeout(err) {
		return ctxErr
	}
	if c.w.mode == modeDown {
		m.data = bytes.Clone(m.data)
		c.w.queue.pushFront(m)
		return nil
	}
	return c.w.closedErr
}

// writeLocked writes one message on l and counts it; the caller holds the
// write lock.
func (c *Client) writeLocked(ctx context.Context, l *link, m message) error {
	if err := l.write(ctx, m); err != nil {
		return err
	}
	c.stats.messagesOut.Add(1)
	c.stats.bytesOut.Add(int64(len(m.data)))
	return nil
}

func (c *Client) checkLimitLocked(n int) error {
	if c.w.limit > 0 && n > c.w.limit {
		return tooBig(n, c.w.limit)
	}
	return nil
}

// Receive returns the next message from the peer. It blocks across
// reconnects until a message arrives or ctx ends. With WithOnMessage set,
// messages go to that hook and Receive only reports the end. After an abort it returns
// the messages that had already arrived, then an error wrapping ErrClosed
// and the abort reason; after Close it returns ErrClosed.
func (c *Client) Receive(ctx context.Context) (MessageType, []byte, error) {
	if c.userClosed.Load() {
		return 0, nil, ErrClosed
	}
	inbox := c.inbox()
	select {
	case m := <-inbox: // fast path: no select over several channels
		return m.typ, m.data, nil
	default:
	}
	select {
	case m := <-inbox:
		return m.typ, m.data, nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-c.quit:
		if c.userClosed.Load() {
			return 0, nil, ErrClosed
		}
		// Aborted: what already arrived, then the reason.
		<-c.done
		select {
		case m := <-inbox:
			return m.typ, m.data, nil
		default:
			return 0, nil, closedError(c.Err())
		}
	}
}

// Close stops the client: it stops any reconnection in progress at once
// (also in the middle of a backoff delay), sends a 1000 close frame on a
// live connection and waits up to the close timeout (WithCloseTimeout,
// default 5 s) for the peer's answer. Messages still queued are discarded.
// Close returns after every goroutine of the client has ended. The one
// exception is a hook (or the policy) running at that moment, which Close
// cannot wait for since it may be the caller: then Close returns at once
// and the client's goroutine ends as soon as the hook returns (after
// closing the connection an OnConnect hook had). Close may be called more
// than once; it always returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.userClosed.Store(true)
		c.stop()
		c.closeLive()
	})
	c.waitStopped()
	return nil
}

// closeLive starts the closing handshake on the live connection, if any.
func (c *Client) closeLive() {
	timer := time.NewTimer(c.opts.closeTimeout)
	defer timer.Stop()
	select {
	case c.wlock <- struct{}{}:
	case <-timer.C:
		// A write is stuck: drop the connection to unblock it.
		if l := c.cur.Load(); l != nil {
			l.fail(ErrClosed)
		}
		return
	}
	l := c.w.link
	c.setClosedLocked(ErrClosed)
	c.unlockWrite()
	if l != nil {
		l.startClose(c.opts.closeTimeout)
	}
}

// waitStopped waits for the client's goroutine to end, or for it to be
// inside a hook (which may be the caller itself).
func (c *Client) waitStopped() {
	for {
		c.mu.Lock()
		in := c.inHandler || c.inMessage.Load()
		if c.handlerCh == nil {
			c.handlerCh = make(chan struct{})
		}
		started := c.handlerCh
		c.mu.Unlock()
		if in {
			return
		}
		select {
		case <-c.done:
			return
		case <-started:
		}
	}
}

// State returns the client's current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// WaitState blocks until the client is in state s and returns nil, or
// returns ctx's error when ctx ends first. If the client stops before
// reaching s (and s is not StateClosed) it returns an error wrapping
// ErrClosed and, after an abort, the reason. A state held only briefly
// between two checks may be missed.
func (c *Client) WaitState(ctx context.Context, s State) error {
	for {
		c.mu.Lock()
		cur, reason := c.state, c.err
		if cur == s || cur == StateClosed {
			c.mu.Unlock()
			if cur == s {
				return nil
			}
			return closedError(reason)
		}
		if c.stateCh == nil {
			c.stateCh = make(chan struct{})
		}
		changed := c.stateCh
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Done returns a channel that is closed when the client has stopped for
// good, after Close or an abort, and its goroutine has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: nil while it runs and after Close;
// after an abort, the reason: a *CloseError with the peer's code, a
// *HandshakeError, a TLS error, or an error wrapping ErrRetriesExhausted.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) setState(s State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == s {
		return
	}
	c.state = s
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
// or the mode changes, or ctx ends.
func (c *Client) waitRoomLocked(ctx context.Context) error {
	if c.w.room == nil {
		c.w.room = make(chan struct{})
	}
	room := c.w.room
	c.unlockWrite()
	select {
	case <-room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inbox returns the channel that carries received messages to Receive. It
// is made on first use, so that a client that never receives holds no
// buffer.
func (c *Client) inbox() chan received {
	if p := c.recv.Load(); p != nil {
		return *p
	}
	ch := make(chan received, c.opts.receiveBuffer)
	if c.recv.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *c.recv.Load()
}

// stop makes the client's context done.
func (c *Client) stop() {
	c.quitOnce.Do(func() { close(c.quit) })
}

// stopContext is the client's context: done when the client stops. Being a
// plain struct around a channel, it costs no allocation of its own.
type stopContext struct{ done chan struct{} }

func (s stopContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (s stopContext) Done() <-chan struct{}       { return s.done }
func (s stopContext) Value(any) any               { return nil }
func (s stopContext) Err() error {
	select {
	case <-s.done:
		return context.Canceled
	default:
		return nil
	}
}

// setClosedLocked makes every later Send fail and drops the queue.
func (c *Client) setClosedLocked(err error) {
	if c.w.mode == modeClosed {
		return
	}
	c.w.mode = modeClosed
	c.w.link = nil
	c.w.closedErr = err
	for c.w.queue.len() > 0 {
		m := c.w.queue.peek()
		c.popSameLocked(m)
		if m.origin != nil {
			m = *m.origin // report a split message once, whole
		}
		c.w.discarded = append(c.w.discarded, m)
	}
	c.w.queue.reset()
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

// Conn is the connection handed to the OnConnect hook.
type Conn struct {
	c *Client
	l *link
}

// Send writes a message on this connection, ahead of anything Client.Send
// queued while the client was down. It does not queue: if the connection is
// broken it returns the error. ctx works as in Client.Send.
func (cn *Conn) Send(ctx context.Context, typ MessageType, data []byte) error {
	c := cn.c
	if err := c.checkMessage(typ, data); err != nil {
		return err
	}
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	if c.w.mode == modeClosed {
		return c.w.closedErr
	}
	if err := c.checkLimitLocked(len(data)); err != nil {
		return err
	}
	if err := c.writeLocked(ctx, cn.l, message{typ: typ, data: data}); err != nil {
		cn.l.failWrite(err)
		return fmt.Errorf("wsreconnect: write: %w", err)
	}
	return nil
}

// Subprotocol returns the subprotocol the server selected, if any.
func (cn *Conn) Subprotocol() string { return cn.l.ws.Subprotocol() }
