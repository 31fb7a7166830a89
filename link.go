package wsreconnect

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// link is one WebSocket connection and its heartbeat.
type link struct {
	ws          *websocket.Conn
	url         string
	connectedAt time.Time // when the handshake completed; reset when OnConnect returned nil
	inflate     bool      // permessage-deflate was negotiated

	// Guarded by the write lock. They track the message a 1009 from the
	// peer refers to: the largest written in full on this link, the
	// earliest of equal size (see record).
	deadline bool     // a write deadline is set
	keepCopy bool     // a hook can take a refused message back, so copy it
	largest  int      // size of the largest frame written or attempted
	written  int      // size of the largest frame written in full
	refused  *message // the message that frame belongs to, whole
	copyBuf  []byte   // holds a copy of it when it is the caller's buffer

	seen       atomic.Bool   // a frame arrived since the last ping
	delivering atomic.Bool   // the application holds the reader up (Receive behind, OnMessage running)
	holds      atomic.Uint32 // counts the times it did, so that a pong behind one is not timed

	lastSize int // size of the last message read, where the next read starts

	// Who reads (role.go).
	role        atomic.Int32
	roleCh      chan roleMsg // capacity 1: from a Receive that read to the client's goroutine
	roleTimer   *time.Timer
	roleUses    atomic.Uint64 // messages Receive read itself
	clientWaits atomic.Bool   // the client's goroutine waits for a Receive's release

	aside  *aside                    // reads during the setup; the client's goroutine only
	stats  *counters                 // takes the heartbeat's round-trip samples
	forced atomic.Pointer[closeSpec] // Reconnect closed this link with that code

	causeMu sync.Mutex
	cause   error         // why this side ended the connection, first one wins
	broken  chan struct{} // made by a reader waiting for Receive; closed once cause is set

	hb struct {
		mu         sync.Mutex
		wg         sync.WaitGroup
		timer      *time.Timer
		stopped    bool
		nextPing   int64 // monoNow when the next ping is due
		unanswered int64 // monoNow when the oldest unanswered ping was sent; 0 if none
		interval   time.Duration
		timeout    time.Duration
		lastPing   uint64 // the counter of the heartbeat's last ping
		ticks      int    // ticks run, for the tests
	}

	// Pings carry a counter, so that a pong is matched to its ping and an
	// unsolicited pong is not timed.
	pingIDs atomic.Uint64 // the last ping counter given out
	pings   struct {
		mu      sync.Mutex
		hbID    uint64 // the heartbeat's last ping
		hbSent  int64  // monoNow when it was sent; 0 once answered
		hbHolds uint32 // holds when it was sent
		waiters map[uint64]chan time.Time
	}
}

// uncopied stands for a refused message that was not copied (see record);
// it is only read.
var uncopied message

// epoch is the origin of monoNow.
var epoch = time.Now()

// monoNow is the time on the monotonic clock, in nanoseconds since a point
// before the package was initialized: never 0, so 0 can mean "none". The
// heartbeat keeps its times this way, 8 bytes each instead of a time.Time's
// 24.
func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

// closeSpec is a close code and reason this side sends.
type closeSpec struct {
	code   CloseCode
	reason string
}

func newLink(ws *websocket.Conn, resp *http.Response, readLimit int64) *link {
	l := &link{ws: ws, connectedAt: time.Now()}
	if resp != nil {
		for _, ext := range resp.Header.Values("Sec-Websocket-Extensions") {
			if strings.Contains(ext, "permessage-deflate") {
				l.inflate = true
			}
		}
	}
	ws.SetReadLimit(readLimit)
	ws.SetPongHandler(func(data string) error {
		l.seen.Store(true)
		l.pong(data)
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

// write writes one frame of a message; the caller holds the write lock. It
// reports whether the frame is larger than any written in full before on
// this link, so that the caller records its message (see record).
func (l *link) write(ctx context.Context, typ MessageType, data []byte) (record bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		l.ws.SetWriteDeadline(dl)
		l.deadline = true
	} else if l.deadline {
		l.ws.SetWriteDeadline(time.Time{})
		l.deadline = false
	}
	l.largest = max(l.largest, len(data))
	if err := l.ws.WriteMessage(int(typ), data); err != nil {
		// The peer may have refused it on seeing its first frame; the
		// caller keeps it queued, so nothing needs handing back.
		return false, err
	}
	if len(data) <= l.written {
		return false, nil
	}
	l.written = len(data)
	return true, nil
}

// record remembers m as the message a 1009 from the peer refers to, should
// one come: the first message of the largest size written in full. A copy
// is kept only when a hook could take it back. What says whether m is
// tracked (WithAcks) is kept in every case: a tracked message stays in the
// replay window, and the 1009 must not queue it a second time.
func (l *link) record(m *message) {
	switch {
	case m.owned:
		r := *m
		l.refused = &r
	case l.keepCopy:
		l.copyBuf = append(l.copyBuf[:0], m.data...)
		l.refused = &message{typ: m.typ, data: l.copyBuf, owned: true, at: m.at, seq: m.seq, tracked: m.tracked}
	default:
		// No hook could take it back: count it, keep no copy.
		if m.tracked {
			// It stays in the replay window: say so (rare, one allocation).
			l.refused = &message{at: m.at, seq: m.seq, tracked: true}
		} else {
			l.refused = &uncopied
		}
	}
}

// read reads the next data message into pooled buffers and returns a
// copy of its own (see buffers.go). Compressed messages are held to limit
// by their decompressed size; gorilla's own limit counts wire bytes.
func (l *link) read(limit int64) (int, []byte, error) {
	typ, r, err := l.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	max := int64(math.MaxInt64)
	if l.inflate {
		max = limit
	}
	data, over, err := readBody(r, l.lastSize, max)
	if err != nil {
		return 0, nil, err
	}
	if over {
		l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(CloseMessageTooBig), ""), time.Now().Add(time.Second))
		return 0, nil, websocket.ErrReadLimit
	}
	l.lastSize = len(data)
	return typ, data, nil
}

// fail records why this side ends the connection and closes the socket, so
// that the reader returns.
func (l *link) fail(cause error) {
	l.setCause(cause)
	l.ws.NetConn().Close()
}

// drainTimeout bounds how long a connection whose write failed is still
// read, to catch a close frame the peer sent before it went away.
const drainTimeout = 250 * time.Millisecond

// failWrite records a failed write. The socket stays open a moment, so that
// the reader still gets a close frame the peer sent before the connection
// broke (a server that closes with 1008 must not look like a drop); the
// read deadline bounds the wait.
func (l *link) failWrite(cause error) {
	l.setCause(cause)
	l.ws.SetReadDeadline(time.Now().Add(drainTimeout))
}

func (l *link) setCause(cause error) {
	l.causeMu.Lock()
	defer l.causeMu.Unlock()
	if l.cause == nil {
		l.cause = cause
		if l.broken != nil {
			close(l.broken)
		}
	}
}

// brokenCh returns a channel closed once this side ended the connection: a
// failed write, the heartbeat, or Close.
func (l *link) brokenCh() <-chan struct{} {
	l.causeMu.Lock()
	defer l.causeMu.Unlock()
	if l.broken == nil {
		l.broken = make(chan struct{})
		if l.cause != nil {
			close(l.broken)
		}
	}
	return l.broken
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
	d := Disconnect{Uptime: l.uptime(), URL: redactRaw(l.url), largest: l.largest, refused: l.refused}
	if l.largest > l.written {
		// A message larger than any written in full failed midway: it is
		// taken to be the refused one, and it is still queued.
		d.refused = nil
	}
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
	if d.Code != CloseMessageTooBig || d.Local {
		d.refused = nil // the peer refused nothing
	}
	if f := l.forced.Load(); f != nil && (d.Code == f.code || d.Code == CloseAbnormalClosure) {
		// Reconnect closed it, and the peer answered (or the socket
		// closed): not the peer's decision.
		d = Disconnect{Code: f.code, Reason: f.reason, Local: true, Uptime: d.Uptime, URL: d.URL, forced: true}
		d.Err = &CloseError{Code: f.code, Reason: f.reason, cause: errReconnect}
	}
	return d
}

// startClose sends a close frame and bounds the wait for the peer's answer;
// the reader returns when it arrives or the time is up.
func (l *link) startClose(code CloseCode, reason string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if err := l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), reason), deadline); err != nil {
		l.fail(ErrClosed)
		return
	}
	l.ws.SetReadDeadline(deadline)
}

// hold marks the application holding the reader up (true) or letting it go.
func (l *link) hold(on bool) {
	if on {
		l.holds.Add(1)
	}
	l.delivering.Store(on)
}

// pingPayload is the 8-byte counter a ping carries.
func pingPayload(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

// pong matches a pong to its ping: the heartbeat's gives a round-trip
// sample unless the application held the reader up meanwhile, Ping's wakes
// the caller. Other pongs are ignored.
func (l *link) pong(data string) {
	if len(data) != 8 {
		return
	}
	id := binary.BigEndian.Uint64([]byte(data))
	l.pings.mu.Lock()
	if id == l.pings.hbID && l.pings.hbSent != 0 {
		sent := l.pings.hbSent
		l.pings.hbSent = 0
		if l.holds.Load() == l.pings.hbHolds && !l.delivering.Load() && l.stats != nil {
			l.stats.sampleRTT(time.Duration(monoNow() - sent))
		}
		l.pings.mu.Unlock()
		l.answered(id)
		return
	}
	if ch, ok := l.pings.waiters[id]; ok {
		delete(l.pings.waiters, id)
		ch <- time.Now()
	}
	l.pings.mu.Unlock()
}

// answered learns that the heartbeat's ping id was answered: if it is the
// last one, nothing is unanswered any more, and the next tick moves from
// the ping's deadline to the next ping time. An idle connection so wakes
// once per interval, not twice.
func (l *link) answered(id uint64) {
	l.hb.mu.Lock()
	defer l.hb.mu.Unlock()
	if l.hb.stopped || id != l.hb.lastPing || l.hb.unanswered == 0 {
		return
	}
	l.hb.unanswered = 0
	l.seen.Store(false)
	if l.hb.timer.Stop() {
		// The pending tick is moved, not added: its count in hb.wg stays.
		l.hb.timer.Reset(time.Duration(max(l.hb.nextPing-monoNow(), 0)))
	}
}

// ping writes a ping for Ping and returns when it was sent and a channel
// that receives when its pong arrives; cancel forgets it.
func (l *link) ping(deadline time.Time) (sent time.Time, pong <-chan time.Time, cancel func(), err error) {
	ch := make(chan time.Time, 1)
	l.pings.mu.Lock()
	id := l.pingIDs.Add(1)
	if l.pings.waiters == nil {
		l.pings.waiters = make(map[uint64]chan time.Time)
	}
	l.pings.waiters[id] = ch
	l.pings.mu.Unlock()
	cancel = func() {
		l.pings.mu.Lock()
		delete(l.pings.waiters, id)
		l.pings.mu.Unlock()
	}
	sent = time.Now()
	if err := l.ws.WriteControl(websocket.PingMessage, pingPayload(id), deadline); err != nil {
		cancel()
		return sent, nil, nil, err
	}
	return sent, ch, cancel, nil
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
	now := monoNow()
	l.hb.nextPing = pingTime(now, interval)
	l.armLocked(time.Duration(l.hb.nextPing - now))
}

// pingGrid is the largest step of the grid that ping times are rounded
// down to.
const pingGrid = 100 * time.Millisecond

// pingTime is when the ping after one at now is due: now+interval, rounded
// down to a grid of the process's monotonic clock (interval/200, at most
// pingGrid). The pings of a process's many clients so fall on a few
// instants, and the process wakes once for all that are due, not once for
// each; no ping comes later than interval after the last.
func pingTime(now int64, interval time.Duration) int64 {
	t := now + int64(interval)
	if step := int64(min(interval/200, pingGrid)); step > 0 {
		t -= t % step
	}
	return t
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
	l.hb.ticks++
	now := monoNow()
	if l.seen.Swap(false) || l.delivering.Load() {
		// A frame arrived, or the reader is held up by the application.
		l.hb.unanswered = 0
	}
	timeout := l.hb.timeout
	if l.hb.unanswered != 0 && now-l.hb.unanswered >= int64(timeout) {
		l.hb.mu.Unlock()
		l.fail(ErrHeartbeatTimeout)
		return
	}
	ping := now >= l.hb.nextPing
	var id uint64
	if ping {
		if l.hb.unanswered == 0 {
			l.hb.unanswered = now
		}
		l.hb.nextPing = pingTime(now, l.hb.interval)
		id = l.pingIDs.Add(1)
		l.hb.lastPing = id
	}
	next := l.hb.nextPing - now
	if l.hb.unanswered != 0 {
		next = min(next, l.hb.unanswered+int64(timeout)-now)
	}
	l.armLocked(time.Duration(next))
	l.hb.mu.Unlock()
	if ping {
		l.pings.mu.Lock()
		l.pings.hbID, l.pings.hbSent, l.pings.hbHolds = id, monoNow(), l.holds.Load()
		l.pings.mu.Unlock()
		// A failed ping needs no action: the reader or the deadline notices.
		_ = l.ws.WriteControl(websocket.PingMessage, pingPayload(id), time.Now().Add(timeout))
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
