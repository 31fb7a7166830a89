package wsreconnect

import (
	"sync/atomic"
	"time"
)

// message is one data message as Send accepted it. A message over the
// outbound limit carries the parts the splitter made of it: they are
// written together, in order, on one connection, and a message is queued,
// re-sent, re-split and dropped whole, never part by part.
type message struct {
	typ   MessageType
	data  []byte   // the whole message
	parts [][]byte // what to write instead of data, when it was split
	owned bool     // data is the client's own copy

	at      time.Time // when Send accepted it, with WithMaxQueueAge or WithAcks
	seq     uint64    // the highest sequence number its parts carry (WithAcks)
	tracked bool      // Acks.ID reported a sequence number for it
}

// size is the message's size in bytes, as the queue and the window count it.
func (m *message) size() int { return len(m.data) }

// expired reports whether m was accepted more than age ago (age 0: never).
func (m *message) expired(age time.Duration, now time.Time) bool {
	return age > 0 && !m.at.IsZero() && now.Sub(m.at) > age
}

// fits reports whether m can be written under limit (0: no limit) as it is.
func (m *message) fits(limit int) bool {
	if limit <= 0 {
		return true
	}
	if m.parts == nil {
		return len(m.data) <= limit
	}
	for _, p := range m.parts {
		if len(p) > limit {
			return false
		}
	}
	return true
}

// received is a data message read from the peer, on its way to Receive.
type received struct {
	typ  MessageType
	data []byte
}

// queue is a FIFO of messages, bounded by count (max) and bytes
// (maxBytes). Its storage grows on demand, so an idle client holds no queue
// memory. The send queue is guarded by the client's write lock, the replay
// window by its own.
type queue struct {
	buf      []message // ring buffer; len(buf) is the current capacity
	head     int
	n        int
	bytes    int
	max      int
	maxBytes int // 0: no byte bound

	size    *atomic.Int64 // if set, mirrors n for readers without the lock (Stats)
	drained chan struct{} // made by a waiting Flush; closed when the queue is empty
}

// publish mirrors the length into size after a change.
func (q *queue) publish() {
	if q.size != nil {
		q.size.Store(int64(q.n))
	}
}

func (q *queue) len() int { return q.n }

// full reports whether m cannot be added. One message larger than the byte
// bound is admitted when the queue is empty, so that nothing waits for
// ever.
func (q *queue) full(m *message) bool {
	if q.n >= q.max {
		return true
	}
	return q.maxBytes > 0 && q.n > 0 && q.bytes+m.size() > q.maxBytes
}

// emptied wakes every Flush waiting for the queue to be empty.
func (q *queue) emptied() {
	if q.drained != nil {
		close(q.drained)
		q.drained = nil
	}
}

// waitEmpty returns nil if the queue is empty, else a channel closed when it
// is next empty.
func (q *queue) waitEmpty() <-chan struct{} {
	if q.n == 0 {
		return nil
	}
	if q.drained == nil {
		q.drained = make(chan struct{})
	}
	return q.drained
}

// makeRoom ensures there is storage for one more message, growing by
// doubling; a positive limit caps the new capacity.
func (q *queue) makeRoom(limit int) {
	if q.n < len(q.buf) {
		return
	}
	size := max(8, 2*len(q.buf))
	if limit > 0 {
		size = min(size, max(limit, q.n+1))
	}
	buf := make([]message, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

// pushBack appends m; Send checks full first.
func (q *queue) pushBack(m message) {
	q.makeRoom(q.max)
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
	q.bytes += m.size()
	q.publish()
}

// pushFront puts m ahead of every queued message. It may exceed max by the
// one message whose write failed, so that a broken write never loses it.
func (q *queue) pushFront(m message) {
	q.makeRoom(0)
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = m
	q.n++
	q.bytes += m.size()
	q.publish()
}

// peek returns the oldest message; the queue must not be empty.
func (q *queue) peek() message { return q.buf[q.head] }

// at returns the i-th oldest message.
func (q *queue) at(i int) *message { return &q.buf[(q.head+i)%len(q.buf)] }

// popFront removes the oldest message and returns it.
func (q *queue) popFront() message {
	m := q.buf[q.head]
	q.buf[q.head] = message{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= m.size()
	if q.n == 0 {
		q.head = 0
		q.emptied()
	}
	q.publish()
	return m
}

// reset drops every message and releases the storage.
func (q *queue) reset() {
	q.buf, q.head, q.n, q.bytes = nil, 0, 0, 0
	q.emptied()
	q.publish()
}
