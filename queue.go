package wsreconnect

import "sync/atomic"

// message is one data message as Send accepted it. A message over the
// outbound limit carries the parts the splitter made of it: they are
// written together, in order, on one connection, and a message is queued,
// re-sent, re-split and dropped whole, never part by part.
type message struct {
	typ   MessageType
	data  []byte   // the whole message
	parts [][]byte // what to write instead of data, when it was split
	owned bool     // data is the client's own copy
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

// queue is a FIFO of messages waiting for a connection. Its storage grows on
// demand up to max entries, so an idle client holds no queue memory. It is
// guarded by the client's write lock.
type queue struct {
	buf  []message // ring buffer; len(buf) is the current capacity
	head int
	n    int
	max  int

	size *atomic.Int64 // if set, mirrors n for readers without the lock (Stats)
}

// publish mirrors the length into size after a change.
func (q *queue) publish() {
	if q.size != nil {
		q.size.Store(int64(q.n))
	}
}

func (q *queue) len() int   { return q.n }
func (q *queue) full() bool { return q.n >= q.max }

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
	q.publish()
}

// pushFront puts m ahead of every queued message. It may exceed max by the
// one message whose write failed, so that a broken write never loses it.
func (q *queue) pushFront(m message) {
	q.makeRoom(0)
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = m
	q.n++
	q.publish()
}

// peek returns the oldest message; the queue must not be empty.
func (q *queue) peek() message { return q.buf[q.head] }

// popFront removes the oldest message.
func (q *queue) popFront() {
	q.buf[q.head] = message{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.head = 0
	}
	q.publish()
}

// reset drops every message and releases the storage.
func (q *queue) reset() {
	q.buf, q.head, q.n = nil, 0, 0
	q.publish()
}
