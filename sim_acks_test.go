package wsreconnect

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// At-least-once delivery in the simulation (WithAcks). A run with acks
// numbers the messages of its tracked senders in the order their Sends are
// called: message k of the run carries the sequence number 1000k whole, or
// 1000k+i as part i of a split (a message has at most 999 parts). Senders
// call Send side by side, so a number can reach the client after a higher
// one: that Send fails, and the message must not arrive. The server acks
// what it read, cumulatively, now and then; it acks only what it recorded
// (a connection a newer one replaced acks nothing), so that an ack never
// releases a message the server does not have. It also checks that on each
// connection the tracked numbers increase.
//
// The invariants (see simRun.check): a tracked message whose Send returned
// nil arrives or is reported to OnDropped, without exception, none being
// lost in flight; it may arrive more than once, byte-exact; it may both
// arrive and be reported dropped only as unacknowledged at the stop; after
// a Flush returned nil every tracked message its sender sent before it has
// arrived or is reported dropped; and after Done nothing is unacknowledged.

// simAcks numbers a run's tracked messages.
type simAcks struct {
	mu   sync.Mutex
	next uint64
	ids  map[[2]int]uint64 // (sender, seq) -> k
}

func newSimAcks() *simAcks { return &simAcks{ids: make(map[[2]int]uint64)} }

// assign gives sender's message seq the next number, before its Send.
func (a *simAcks) assign(sender, seq int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	a.ids[[2]int{sender, seq}] = a.next
}

// tracked reports whether sender's message seq has a number.
func (a *simAcks) tracked(key [2]int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.ids[key]
	return ok
}

// id is Acks.ID, and what the server reads off a frame.
func (a *simAcks) id(_ MessageType, data []byte) (uint64, bool) {
	h, _, err := simParse(data)
	if err != nil || (h.kind != 'M' && h.kind != 'S') {
		return 0, false
	}
	a.mu.Lock()
	k, ok := a.ids[[2]int{h.sender, h.seq}]
	a.mu.Unlock()
	if !ok {
		return 0, false
	}
	if h.kind == 'S' {
		return 1000*k + uint64(h.part), true
	}
	return 1000 * k, true
}

// simAcked is Acks.Acked.
func simAcked(_ MessageType, data []byte) (uint64, bool) {
	if len(data) == 0 || data[0] != 'A' {
		return 0, false
	}
	h, _, err := simParse(data)
	if err != nil {
		return 0, false
	}
	return h.ack, true
}

// simAckConn is the server's ack state on one connection.
type simAckConn struct {
	every   int  // ack after this many tracked frames
	never   bool // this connection acks nothing
	last    uint64
	lastAny bool
	pending int
	seen    []string    // the last frames, for the violation's text
	wmu     *sync.Mutex // the connection's writes (the writer sends too)
}

func newSimAckConn(rng *rand.Rand, wmu *sync.Mutex) *simAckConn {
	return &simAckConn{every: 1 + rng.IntN(4), never: rng.IntN(8) == 0, wmu: wmu}
}

// ack handles a frame the server read and, for a whole message, recorded:
// it checks the frame's number against the last one and acks now and then.
func (s *simServer) ack(c int, st *simAckConn, ws *websocket.Conn, typ int, data []byte) {
	if s.acks == nil {
		return
	}
	id, ok := s.acks.id(MessageType(typ), data)
	if !ok {
		return
	}
	st.seen = append(st.seen, string(simHead(data)))
	if len(st.seen) > 12 {
		st.seen = st.seen[1:]
	}
	if st.lastAny && id <= st.last {
		s.rec.violation("ack-wire-order", "connection %d: sequence number %d after %d; the last frames: %q", c, id, st.last, st.seen)
	}
	st.last, st.lastAny = id, true
	st.pending++
	if st.never || st.pending < st.every {
		return
	}
	st.pending = 0
	current := false
	s.event(func() { current = c == s.conns })
	if !current {
		return
	}
	st.wmu.Lock()
	defer st.wmu.Unlock()
	ws.SetWriteDeadline(time.Now().Add(time.Second))
	if ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "A%d|", id)) == nil {
		s.rec.count("ack-sent")
	}
}
