package wstest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// An Action is one step of what the server does on a connection; see
// Script and Default. The actions run in order on the connection's
// goroutine. The server reads the connection on a second goroutine, which
// it starts when the first action that waits (AfterMessages, Delay,
// Close) begins or after the last action, unless StopReading came first
// or the connection has a Handle: so a greeting sent first arrives before
// any echo, and during a Delay pings are answered and messages recorded
// and echoed. After the last action, unless one of them ended the
// connection, the server serves it until the client goes away or the
// server closes.
type Action struct {
	kind   actionKind
	n      int
	limit  int64
	d      time.Duration
	typ    int
	data   []byte
	code   int
	reason string
	f      func(c *Conn)
}

type actionKind int

const (
	actSend actionKind = iota + 1
	actAfter
	actDelay
	actNoPong
	actStopReading
	actReadLimit
	actClose
	actDrop
	actReset
	actHandle
)

// String describes the action the way it is written, for NewServer's
// errors: "Close(1012, \"restart\")".
func (a Action) String() string {
	switch a.kind {
	case actSend:
		return fmt.Sprintf("Send(%d, %d bytes)", a.typ, len(a.data))
	case actAfter:
		return fmt.Sprintf("AfterMessages(%d)", a.n)
	case actDelay:
		return fmt.Sprintf("Delay(%s)", a.d)
	case actNoPong:
		return "NoPong()"
	case actStopReading:
		return "StopReading()"
	case actReadLimit:
		return fmt.Sprintf("ReadLimit(%d)", a.limit)
	case actClose:
		return fmt.Sprintf("Close(%d, %q)", a.code, a.reason)
	case actDrop:
		return "Drop()"
	case actReset:
		return "Reset()"
	case actHandle:
		return "Handle(f)"
	default:
		return "Action{}"
	}
}

// ends reports whether the action ends the connection.
func (a Action) ends() bool {
	switch a.kind {
	case actClose, actDrop, actReset, actHandle:
		return true
	}
	return false
}

// Send writes a data message to the client: typ is websocket.TextMessage
// (1) or websocket.BinaryMessage (2). For a greeting, make it the first
// action. data is copied.
func Send(typ int, data []byte) Action {
	return Action{kind: actSend, typ: typ, data: append([]byte{}, data...)}
}

// AfterMessages waits until the connection has received k data messages
// since it opened, and the server has acked and echoed the k-th. The
// actions after it run before the server reads message k+1:
// AfterMessages(3) then Close closes after echoing the third message, and
// AfterMessages(1) then StopReading reads exactly one. So, while the
// actions before it run (a Delay, say), the server reads at most k
// messages. If the connection ends first, the actions after it do not run.
// k must be at least 1, and larger than that of an AfterMessages before
// it.
func AfterMessages(k int) Action { return Action{kind: actAfter, n: k} }

// Delay waits d, reading the connection meanwhile. If the connection ends
// first, the actions after it do not run.
func Delay(d time.Duration) Action { return Action{kind: actDelay, d: d} }

// NoPong stops answering pings from this point on (as its first action,
// from the start of the connection): the client's heartbeat finds a peer
// that reads but never answers. Default: pings are answered with pongs, as
// gorilla/websocket does.
func NoPong() Action { return Action{kind: actNoPong} }

// StopReading stops reading the connection: the server reads nothing more
// from the client, so what the client writes fills the TCP buffers and its
// writes block; pings go unanswered and a close frame from the client goes
// unseen. Before any action that waits, the server never reads at all;
// right after AfterMessages(k), it has read exactly k messages; after a
// Delay, a message arriving at that moment may still be read. The connection then lasts
// until a later Close, Drop or Reset, or until the server closes (the
// server cannot see the client leave without reading).
func StopReading() Action { return Action{kind: actStopReading} }

// ReadLimit makes the server refuse a message larger than n bytes the way
// gorilla/websocket does (Conn.SetReadLimit): a 1009 close frame with an
// empty reason. The server then reads off what the client still sends, up
// to the close timeout (WithCloseTimeout), and closes the TCP connection.
// It applies from the start of the connection, wherever it is among the
// actions. n must be at least 1. Default: no limit.
func ReadLimit(n int64) Action { return Action{kind: actReadLimit, limit: n} }

// Close sends a close frame with code and reason (any code, valid or not;
// the reason at most 123 bytes), waits up to the close timeout
// (WithCloseTimeout, default 1 s) for the client's close frame while it
// goes on reading, then closes the TCP connection. It ends the connection.
func Close(code int, reason string) Action {
	return Action{kind: actClose, code: code, reason: reason}
}

// Drop closes the TCP connection without a close frame: the client sees an
// abnormal closure (1006). It ends the connection.
func Drop() Action { return Action{kind: actDrop} }

// Reset closes the TCP connection with a reset (RST; SO_LINGER 0) instead
// of a FIN, so the client reads "connection reset by peer". It ends the
// connection.
func Reset() Action { return Action{kind: actReset} }

// Handle hands the connection to f: the server does not read it, and f
// reads and writes c.WS itself (call c.Record for what should show in
// Received). The actions before Handle run first; Handle must be the last
// action and cannot follow AfterMessages or StopReading. When f returns
// the server closes the TCP connection. f must return once the connection
// fails or c.Done is closed; Close waits for it.
func Handle(f func(c *Conn)) Action { return Action{kind: actHandle, f: f} }

// checkPlan checks a list of actions.
func checkPlan(actions []Action) error {
	handle, stopped, lastK := false, false, 0
	for _, a := range actions {
		if a.kind == actHandle {
			handle = true
		}
	}
	for i, a := range actions {
		if i > 0 && actions[i-1].ends() {
			return fmt.Errorf("%v after %v, which ends the connection", a, actions[i-1])
		}
		switch a.kind {
		case actSend:
			if a.typ != websocket.TextMessage && a.typ != websocket.BinaryMessage {
				return fmt.Errorf("%v: type must be websocket.TextMessage or websocket.BinaryMessage", a)
			}
		case actAfter:
			if a.n < 1 {
				return fmt.Errorf("%v: k must be at least 1", a)
			}
			if handle {
				return fmt.Errorf("%v with Handle: the server does not read a handled connection", a)
			}
			if stopped {
				return fmt.Errorf("%v after StopReading: no more messages are read", a)
			}
			if a.n <= lastK {
				return fmt.Errorf("%v after AfterMessages(%d): both count from the connection's start", a, lastK)
			}
			lastK = a.n
		case actDelay:
			if a.d < 0 {
				return fmt.Errorf("%v: negative delay", a)
			}
		case actStopReading:
			if handle {
				return fmt.Errorf("%v with Handle: the server does not read a handled connection", a)
			}
			stopped = true
		case actReadLimit:
			if a.limit < 1 {
				return fmt.Errorf("%v: limit must be at least 1", a)
			}
		case actClose:
			if len(a.reason) > 123 {
				return fmt.Errorf("Close(%d, ...): reason of %d bytes, at most 123 fit in a close frame", a.code, len(a.reason))
			}
		case actHandle:
			if a.f == nil {
				return errors.New("Handle(nil)")
			}
		case actNoPong, actDrop, actReset:
		default:
			return errors.New("zero Action")
		}
	}
	return nil
}

// Conn is a connection the server accepted, as Handle gives it.
type Conn struct {
	// N is the connection's number: 1 for the first connection the server
	// accepted.
	N int
	// WS is the gorilla connection. Handle's f may read it and write it;
	// the server neither reads nor writes data on it then.
	WS *websocket.Conn

	s      *Server
	nc     net.Conn
	noPong chan struct{} // closed by NoPong
	wmu    chan struct{} // data write lock (pongs and close frames need none)

	// The reading goroutine's state. gone is closed when it ends because
	// the connection ended (not because of StopReading), after readErr is
	// set; readDone when it ends for any reason.
	canRead  bool          // no Handle
	reading  bool          // the reader started
	stop     chan struct{} // closed by StopReading
	readDone chan struct{}
	gone     chan struct{}
	readErr  error
	tracked  int // acknowledgeable messages read, for WithAckEvery

	// Under s.mu: messages read, and the pauses of AfterMessages. The
	// reader reads no message past pauseAt (0: no pause) until the
	// runner moves it on to the next target, in release.
	count   int
	pauseAt int
	atPause bool  // the reader waits at pauseAt, done with the message before
	targets []int // the k of the AfterMessages actions not yet reached
}

// Record adds a message to Received as if the server had read it on c; it
// is for Handle, whose f reads the connection itself. data must not be
// modified afterwards.
func (c *Conn) Record(typ int, data []byte) { c.s.record(c, typ, data) }

// Done is closed when the server is closing. Handle's f waits on it
// wherever it waits for something other than the connection.
func (c *Conn) Done() <-chan struct{} { return c.s.quit }

// stopped reports whether StopReading ran.
func (c *Conn) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// ended is closed when the connection is known to be over; nil (never)
// when the server does not read it.
func (c *Conn) ended() <-chan struct{} {
	if !c.reading {
		return nil
	}
	return c.gone
}

// run runs the connection's actions, then ends it.
func (c *Conn) run(plan []Action) {
	c.canRead = true
	for _, a := range plan {
		switch a.kind {
		case actReadLimit:
			c.WS.SetReadLimit(a.limit)
		case actHandle:
			c.canRead = false
		case actAfter:
			c.targets = append(c.targets, a.n)
		}
	}
	if len(c.targets) > 0 {
		c.pauseAt = c.targets[0]
	}
	c.WS.SetPingHandler(c.ping)
	c.finish(c.steps(plan))
}

// startReading starts the reader, the first time the runner waits.
func (c *Conn) startReading() {
	if c.reading || !c.canRead || c.stopped() {
		return
	}
	c.reading = true
	c.readDone = make(chan struct{})
	c.gone = make(chan struct{})
	c.s.wg.Add(1) // the handler's own Add holds the count above zero
	go c.read()
}

// how a connection ends
type ending int

const (
	endServed ending = iota // the plan ran out, the client left or the server closed
	endClosed               // a Close action
	endDrop
	endReset
)

func (c *Conn) steps(plan []Action) ending {
	for _, a := range plan {
		switch a.kind {
		case actSend:
			if c.write(a.typ, a.data) != nil {
				return endServed
			}
		case actAfter:
			if !c.waitMessages(a.n) {
				return endServed
			}
		case actDelay:
			c.release()
			if !c.sleep(a.d) {
				return endServed
			}
		case actNoPong:
			c.noPongNow()
		case actStopReading:
			c.stopReading()
		case actReadLimit:
			// applied in run
		case actClose:
			c.closeWith(a.code, a.reason)
			return endClosed
		case actDrop:
			return endDrop
		case actReset:
			return endReset
		case actHandle:
			a.f(c)
			return endServed
		}
	}
	c.release()
	select {
	case <-c.ended():
	case <-c.s.quit:
	}
	return endServed
}

// finish closes the connection and waits for the reader.
func (c *Conn) finish(how ending) {
	switch how {
	case endReset:
		if tc, ok := c.nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	case endServed:
		select {
		case <-c.ended():
			if errors.Is(c.readErr, websocket.ErrReadLimit) {
				// gorilla sent 1009; read off the rest of the message
				// so that closing does not reset the connection and
				// lose the close frame.
				c.drain()
			}
		default:
		}
	}
	c.nc.Close()
	if c.reading {
		c.s.event(func() { c.targets, c.pauseAt = nil, 0 }) // a paused reader goes on, to its end
		<-c.readDone
	}
}

// read reads the connection until it ends or StopReading: it records,
// acknowledges and echoes every data message.
func (c *Conn) read() {
	defer c.s.wg.Done()
	defer close(c.readDone)
	for !c.stopped() {
		typ, data, err := c.WS.ReadMessage()
		if err != nil {
			if c.stopped() {
				return
			}
			c.readErr = err
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.s.recordClose(c.N, ce.Code, ce.Text)
			}
			close(c.gone)
			return
		}
		c.s.record(c, typ, data)
		c.ack(typ, data)
		if !c.s.cfg.noEcho {
			c.write(typ, data)
		}
		if !c.pause() {
			return
		}
	}
}

// pause holds the reader while it is at the pause point; false if the
// server closed.
func (c *Conn) pause() bool {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for c.pauseAt != 0 && c.count >= c.pauseAt && !c.stopped() {
		if !c.atPause {
			c.atPause = true
			s.notifyLocked()
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.quit:
			s.mu.Lock()
			return false
		}
		s.mu.Lock()
	}
	c.atPause = false
	return true
}

// waitMessages is AfterMessages(k): it reports whether the connection got
// k messages. The reader then stays at its pause point, k, until the next
// release.
func (c *Conn) waitMessages(k int) bool {
	c.release()
	s := c.s
	for {
		s.mu.Lock()
		// The reader pauses at k once it has acked and echoed message
		// k (or earlier, at an earlier k still ahead).
		ok, changed := c.count >= k && c.atPause, s.changed
		if ok && len(c.targets) > 0 {
			c.targets = c.targets[1:]
		}
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-c.ended():
			return false
		case <-s.quit:
			return false
		}
	}
}

// release starts the reader, or moves its pause point on to the next
// AfterMessages not yet reached: the runner calls it before it waits.
func (c *Conn) release() {
	c.startReading()
	c.s.event(func() {
		c.pauseAt = 0
		if len(c.targets) > 0 {
			c.pauseAt = c.targets[0]
		}
	})
}

// sleep waits d; false if the connection ended or the server closed first.
func (c *Conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ended():
		return false
	case <-c.s.quit:
		return false
	}
}

func (c *Conn) noPongNow() {
	select {
	case <-c.noPong:
	default:
		close(c.noPong)
	}
}

// ping answers a ping with a pong, as gorilla's default handler does,
// unless NoPong.
func (c *Conn) ping(data string) error {
	select {
	case <-c.noPong:
		return nil
	default:
	}
	err := c.WS.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	var ne net.Error
	if errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return err
}

// stopReading is StopReading: it interrupts a read in progress.
func (c *Conn) stopReading() {
	select {
	case <-c.stop:
		return
	default:
		close(c.stop)
	}
	if !c.reading {
		return // and never will
	}
	c.release() // wakes a paused reader, which sees the stop
	if c.reading {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// write writes a data message under the write lock.
func (c *Conn) write(typ int, data []byte) error {
	select {
	case c.wmu <- struct{}{}:
	case <-c.s.quit:
		return ErrClosed
	}
	defer func() { <-c.wmu }()
	return c.WS.WriteMessage(typ, data)
}

// ack sends the acknowledgement for a message, if it is due.
func (c *Conn) ack(typ int, data []byte) {
	cfg := &c.s.cfg
	if cfg.ackID == nil {
		return
	}
	seq, ok := cfg.ackID(typ, data)
	if !ok {
		return
	}
	high := c.s.seen(seq)
	c.tracked++
	if c.tracked%cfg.ackEvery != 0 {
		return
	}
	atyp, msg := cfg.ackMsg(high)
	c.write(atyp, msg)
}

// closeWith is Close: a close frame, then the client's answer or the
// close timeout.
func (c *Conn) closeWith(code int, reason string) {
	timeout := c.s.cfg.closeTimeout
	msg := websocket.FormatCloseMessage(code, reason)
	if c.WS.WriteControl(websocket.CloseMessage, msg, time.Now().Add(timeout)) != nil {
		return
	}
	c.release() // to read the client's answer
	if !c.reading || c.stopped() {
		c.drain()
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.gone:
	case <-t.C:
	case <-c.s.quit:
	}
}

// drain reads and discards the raw connection until the client closes it,
// the close timeout passes or the server closes.
func (c *Conn) drain() {
	c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.closeTimeout))
	io.Copy(io.Discard, c.nc)
}
