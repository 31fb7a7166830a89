package wsreconnect

import (
	"sync"
	"sync/atomic"
)

// The reader keeps reading while Receive falls behind, into an overflow of
// at most overflowMessages messages or overflowBytes bytes (the message that
// did not fit is always kept, whatever its size), so that pings are answered
// and a close frame shortly behind the backlog is seen. When the overflow is
// full it stops reading until Receive takes a message, the connection
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

	mu    sync.Mutex
	over  []received    // read while ch was full, oldest first
	bytes int           // bytes in over
	room  chan struct{} // made by the waiting reader; closed when Receive takes from over
	n     atomic.Int32  // len(over), for the reader's fast path
}

// channel returns the channel, made with size slots on first use.
func (in *inbox) channel(size int) chan received {
	if p := in.ch.Load(); p != nil {
		return *p
	}
	ch := make(chan received, size)
	if in.ch.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *in.ch.Load()
}

// put hands m to Receive, and reports whether the overflow is now full.
// Only the client's goroutine calls it.
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
	in.over = append(in.over, m)
	in.bytes += len(m.data)
	in.n.Store(int32(len(in.over)))
	return in.fullLocked()
}

func (in *inbox) fullLocked() bool {
	return len(in.over) >= overflowMessages || in.bytes >= overflowBytes
}

// take returns the oldest message of the overflow, if any. Receive calls it
// once the channel is empty.
func (in *inbox) take() (received, bool) {
	if in.n.Load() == 0 {
		return received{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.over) == 0 {
		return received{}, false
	}
	m := in.over[0]
	in.over[0] = received{}
	in.over = in.over[1:]
	in.bytes -= len(m.data)
	if len(in.over) == 0 {
		in.over, in.bytes = nil, 0
	}
	in.n.Store(int32(len(in.over)))
	if in.room != nil {
		close(in.room)
		in.room = nil
	}
	return m, true
}

// roomOrNil returns nil if the overflow has room, else a channel closed when
// Receive next takes from it.
func (in *inbox) roomOrNil() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.fullLocked() {
		return nil
	}
	if in.room == nil {
		in.room = make(chan struct{})
	}
	return in.room
}
