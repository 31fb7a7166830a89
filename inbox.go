package wsreconnect

import (
	"sync"
	"sync/atomic"
)

// The reader keeps reading while Receive falls behind, into an overflow of
// at most overflowMessages messages or overflowBytes bytes (the message that
// did not fit is always kept, whatever its size), so that pings are answered
// and a close frame shortly behind the backlog is seen. When the overflow is
// full it stops reading until Receive has taken half of it, the connection
// breaks (a failed write) or the client is closed.
const (
	overflowMessages = 64
	overflowBytes    = 64 << 10
)

// inbox holds received messages until Receive takes them: a channel of
// WithReceiveBuffer messages, made on first use so that a client that never
// receives holds no buffer, and behind it the overflow. Messages enter the
// overflow only while the channel is full or the overflow is not empty, so
// Receive, which takes from the channel first, keeps their order.
type inbox struct {
	ch atomic.Pointer[chan received]
	n  atomic.Int32 // messages in the overflow, for the reader's fast path

	// Receive callers waiting for a message (role.go): takers with a
	// context that cannot be canceled, others with one that can; offer
	// wakes a taker when the reading is offered.
	takers atomic.Int32
	others atomic.Int32
	offer  atomic.Pointer[chan struct{}]

	mu      sync.Mutex
	ring    *[overflowMessages]received // the overflow, made on first use
	head    int
	count   int
	bytes   int
	waiting bool          // the reader waits for room
	room    chan struct{} // capacity 1: a token when room was made for the waiting reader
}

// channel returns the channel, made with size slots on first use.
func (in *inbox) channel(size int) chan received { return lazyChan(&in.ch, size) }

// offerChannel returns the channel that wakes a Receive when the reading is
// offered, made on first use.
func (in *inbox) offerChannel() chan struct{} { return lazyChan(&in.offer, 1) }

// lazyChan returns the channel p points to, made with size slots by the
// first caller.
func lazyChan[T any](p *atomic.Pointer[chan T], size int) chan T {
	if ch := p.Load(); ch != nil {
		return *ch
	}
	ch := make(chan T, size)
	if p.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *p.Load()
}

// put hands m to Receive, and reports whether the overflow is now full.
// Only the client's goroutine calls it, never while the overflow is full.
func (in *inbox) put(ch chan received, m received) (full bool) {
	if in.n.Load() == 0 {
		select {
		case ch <- m:
			return false
		default:
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.count == 0 {
		// Receive took the last of the overflow since n was read: the
		// channel is next in line again, and a Receive may be waiting on
		// it.
		select {
		case ch <- m:
			return false
		default:
		}
	}
	if in.ring == nil {
		in.ring = new([overflowMessages]received)
	}
	in.ring[(in.head+in.count)%overflowMessages] = m
	in.count++
	in.bytes += len(m.data)
	in.n.Store(int32(in.count))
	return in.fullLocked()
}

func (in *inbox) fullLocked() bool {
	return in.count >= overflowMessages || in.bytes >= overflowBytes
}

// poll returns the next message without waiting: from the channel first,
// then from the overflow. When it finds none, the next message goes to the
// channel, so waiting on the channel is enough. It looks under the lock
// before it reports none: a message the reader put in the overflow may not
// yet be visible through n.
func (in *inbox) poll(ch chan received) (received, bool) {
	select {
	case m := <-ch:
		return m, true
	default:
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	// The channel first: it may have filled, with older messages than the
	// overflow holds, since it was looked at.
	select {
	case m := <-ch:
		return m, true
	default:
	}
	if in.count == 0 {
		return received{}, false
	}
	m := in.ring[in.head]
	in.ring[in.head] = received{}
	in.head = (in.head + 1) % overflowMessages
	in.count--
	in.bytes -= len(m.data)
	in.n.Store(int32(in.count))
	if in.waiting && in.count <= overflowMessages/2 && in.bytes <= overflowBytes/2 {
		// Half empty: let the reader go on.
		in.waiting = false
		select {
		case in.room <- struct{}{}:
		default:
		}
	}
	return m, true
}

// roomOrNil returns nil if the overflow has room, else a channel that
// receives when Receive has made room.
func (in *inbox) roomOrNil() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.fullLocked() {
		return nil
	}
	if in.room == nil {
		in.room = make(chan struct{}, 1)
	}
	in.waiting = true
	return in.room
}
