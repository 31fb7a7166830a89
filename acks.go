package wsreconnect

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Defaults of Acks.
const (
	DefaultAckWindow      = 1024
	DefaultAckWindowBytes = 8 << 20
)

// Acks turns on at-least-once delivery (WithAcks): the application's
// messages carry sequence numbers, the peer acknowledges them, and the
// client writes again, after a reconnect, what was written but not
// acknowledged.
//
// ID and Acked are not hooks: ID runs on the goroutine that writes (Send's,
// or the client's for queued messages and replays) under the client's
// write lock, Acked on the goroutine that reads (the client's, or one in
// Receive: see Client.Receive). Both must be quick and must not call the
// Client.
type Acks struct {
	// ID reports the sequence number a written message carries (ok=false:
	// not tracked). It is called once per message Send accepts, on each
	// part of a split message, and again on the new parts when a message
	// is split again. Sequence numbers must increase in the order messages
	// are accepted: Send fails for a message whose number is not above the
	// last one.
	ID func(typ MessageType, data []byte) (seq uint64, ok bool)
	// Acked reports the highest sequence number an incoming message
	// acknowledges, cumulatively (ok=false: not an ack). Every tracked
	// message with a number up to it is released.
	Acked func(typ MessageType, data []byte) (seq uint64, ok bool)
	// Window is the most unacknowledged messages kept (default 1024, at
	// most MaxSendBuffer); Send waits when it is full. Messages queued
	// while the client was down enter the window when they are written,
	// whatever its size, so it may briefly hold Window plus the queue.
	Window int
	// WindowBytes bounds the window by bytes too (default 8 MiB); one
	// larger message is admitted when the window is empty.
	WindowBytes int
	// Consume, when true, keeps messages that are acks (Acked reported
	// ok) from Receive, OnMessage and Conn.Receive.
	Consume bool
}

// unackedError is what OnDropped gets for a message written, perhaps more
// than once, but not acknowledged: it may or may not have reached the
// peer. It wraps ErrUnacknowledged and the reason it is not written again.
type unackedError struct{ reason error }

func (e unackedError) Error() string   { return e.reason.Error() + " (written, not acknowledged)" }
func (e unackedError) Unwrap() []error { return []error{e.reason, ErrUnacknowledged} }

// errUnacked is the error for a message still unacknowledged when the
// client stopped.
var errUnacked error = unackedError{ErrClosed}

// WithAcks turns on at-least-once delivery; see Acks and "Delivery
// guarantees" in the package documentation. A tracked message (Acks.ID
// reported ok) is copied when it is written and kept in a replay window
// until a message from the peer acknowledges it (Acks.Acked); after every
// reconnect, once the OnConnect hook returned, the unacknowledged messages
// are written again, in order, before the queue. Messages may thus be
// written twice: the sequence numbers let the peer drop duplicates. With
// acks, Flush also waits until the messages queued or written before it
// are acknowledged; unacknowledged messages still in the window when the
// client stops go to OnDropped with an error wrapping ErrClosed.
// WithMaxQueueAge applies to replays too. Default: off (at most once).
func WithAcks(a Acks) Option {
	return func(o *options) error {
		if a.ID == nil || a.Acked == nil {
			return errors.New("WithAcks: ID and Acked must both be set")
		}
		if a.Window < 0 || a.Window > MaxSendBuffer {
			return fmt.Errorf("WithAcks: Window %d out of range 0-%d", a.Window, MaxSendBuffer)
		}
		if a.WindowBytes < 0 || a.WindowBytes > MaxSendBufferBytes {
			return fmt.Errorf("WithAcks: WindowBytes %d out of range 0-%d", a.WindowBytes, MaxSendBufferBytes)
		}
		if a.Window == 0 {
			a.Window = DefaultAckWindow
		}
		if a.WindowBytes == 0 {
			a.WindowBytes = DefaultAckWindowBytes
		}
		o.acks = &a
		return nil
	}
}

// window holds the tracked messages written but not yet acknowledged, in
// the order they were written, which is the order of their sequence
// numbers. Writers add to it under the write lock; the reader releases
// from it under its own lock, never the write lock, so that a reader never
// waits for a writer that waits for the peer.
type window struct {
	cfg Acks

	mu       sync.Mutex
	q        queue
	acked    uint64 // highest sequence number acknowledged
	ackedAny bool
	room     chan struct{} // made by a waiting Send or Flush; closed on release
	replay   bool          // the messages are out for a replay (Flush waits)

	unacked  atomic.Int64 // mirrors q.n for Stats
	replayed atomic.Int64
}

func newWindow(a *Acks) *window {
	w := &window{cfg: *a}
	w.q.max = a.Window
	w.q.maxBytes = a.WindowBytes
	w.q.size = &w.unacked
	return w
}

// track sets m's sequence number from Acks.ID, for the whole message or
// each of its parts, and reports an error if the numbers do not increase.
func (w *window) track(m *message) error {
	m.seq, m.tracked = 0, false
	ids := func(data []byte) error {
		seq, ok := w.cfg.ID(m.typ, data)
		if !ok {
			return nil
		}
		if m.tracked && seq <= m.seq {
			return fmt.Errorf("wsreconnect: Acks.ID: sequence number %d of a part is not above %d of the part before", seq, m.seq)
		}
		m.seq, m.tracked = seq, true
		return nil
	}
	if m.parts == nil {
		return ids(m.data)
	}
	for _, p := range m.parts {
		if err := ids(p); err != nil {
			return err
		}
	}
	return nil
}

// fullFor reports whether the window has no room for m.
func (w *window) fullFor(m *message) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.full(m)
}

// roomChan returns a channel closed on the next release.
func (w *window) roomChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.room == nil {
		w.room = make(chan struct{})
	}
	return w.room
}

func (w *window) wakeLocked() {
	if w.room != nil {
		close(w.room)
		w.room = nil
	}
}

// add keeps m, written, until it is acknowledged; an ack that overtook the
// write has released it already.
func (w *window) add(m message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ackedAny && m.seq <= w.acked {
		return
	}
	w.q.pushBack(m)
}

// release drops every message acknowledged by seq.
func (w *window) release(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ackedAny || seq > w.acked {
		w.acked, w.ackedAny = seq, true
	}
	n := w.q.len()
	for w.q.len() > 0 && w.q.peek().seq <= w.acked {
		w.q.popFront()
	}
	if w.q.len() != n || w.q.len() == 0 {
		w.wakeLocked()
	}
}

// takeReplay empties the window for a replay and returns its messages, in
// order; endReplay says the replay is over.
func (w *window) takeReplay() []message {
	w.mu.Lock()
	w.replay = true
	w.mu.Unlock()
	return w.takeAll()
}

func (w *window) endReplay() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.replay = false
	w.wakeLocked()
}

// takeAll empties the window and returns its messages, in order.
func (w *window) takeAll() []message {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.q.len() == 0 {
		return nil
	}
	ms := make([]message, 0, w.q.len())
	for w.q.len() > 0 {
		ms = append(ms, w.q.popFront())
	}
	w.q.reset()
	w.wakeLocked()
	return ms
}

// waitAcked returns nil once no message with a sequence number up to seq
// is unacknowledged, else a channel closed on the next release.
func (w *window) waitAcked(seq uint64) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.replay && (w.q.len() == 0 || w.q.peek().seq > seq) {
		return nil
	}
	if w.room == nil {
		w.room = make(chan struct{})
	}
	return w.room
}

// takeAck handles an incoming message: if it is an ack, the window
// releases what it acknowledges; consumed reports that it is kept from the
// application.
func (w *window) takeAck(typ MessageType, data []byte) (consumed bool) {
	seq, ok := w.cfg.Acked(typ, data)
	if !ok {
		return false
	}
	w.release(seq)
	return w.cfg.Consume
}

// putBack returns messages taken for a replay that was cut short.
func (w *window) putBack(ms []message) {
	for _, m := range ms {
		w.add(m)
	}
}
