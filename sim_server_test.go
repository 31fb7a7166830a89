package wsreconnect

// The scripted server of the fault-schedule simulation (see sim_test.go),
// and the message formats both sides share.

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Message formats. Every message identifies itself:
//
//	M<sender>:<seq>:<T|B>:<body length>:<crc32 of body, hex>|<body>   a whole message
//	S<sender>:<seq>:<part>/<total>|<bytes of the whole message>       a part made by simSplit
//	L<n>|                                                             a login sent by OnConnect
//	R<conn>:<i>|<padding>                                             server to client
//	A<id>|                                                            an ack, server to client (WithAcks)
//
// Text bodies are valid UTF-8 (ASCII with some multi-byte runes); binary
// bodies are random bytes.

type simHeader struct {
	kind          byte // 'M', 'S', 'L', 'R' or 'A'
	sender, seq   int
	text          bool
	n             int
	crc           uint32
	part, total   int
	conn, counter int
	ack           uint64
}

var simRunes = []rune("abcdefghijklmnopqrstuvwxyz0123456789 éü€漢😀")

// simMessage makes the message of sender's seq with a body of about
// bodyLen bytes.
func simMessage(rng *rand.Rand, sender, seq int, text bool, bodyLen int) []byte {
	body := make([]byte, 0, bodyLen+4)
	if text {
		for len(body) < bodyLen {
			r := simRunes[rng.IntN(36+1)] // mostly ASCII
			if rng.IntN(8) == 0 {
				r = simRunes[rng.IntN(len(simRunes))]
			}
			body = utf8.AppendRune(body, r)
		}
	} else {
		for len(body) < bodyLen {
			body = append(body, byte(rng.UintN(256)))
		}
	}
	t := "B"
	if text {
		t = "T"
	}
	hdr := fmt.Sprintf("M%d:%d:%s:%d:%08x|", sender, seq, t, len(body), crc32.ChecksumIEEE(body))
	return append([]byte(hdr), body...)
}

// simParse reads the header of data and returns the bytes after it.
func simParse(data []byte) (simHeader, []byte, error) {
	var h simHeader
	bar := bytes.IndexByte(data, '|')
	if len(data) == 0 || bar < 0 || bar > 64 {
		return h, nil, fmt.Errorf("no header in %q", simHead(data))
	}
	h.kind = data[0]
	fields := strings.Split(string(data[1:bar]), ":")
	rest := data[bar+1:]
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	bad := fmt.Errorf("bad header %q", simHead(data))
	switch h.kind {
	case 'M':
		if len(fields) != 5 || (fields[2] != "T" && fields[2] != "B") {
			return h, nil, bad
		}
		h.sender, h.seq, h.text, h.n = atoi(fields[0]), atoi(fields[1]), fields[2] == "T", atoi(fields[3])
		crc, err := strconv.ParseUint(fields[4], 16, 32)
		if err != nil || h.sender < 0 || h.seq < 0 || h.n < 0 {
			return h, nil, bad
		}
		h.crc = uint32(crc)
	case 'S':
		if len(fields) != 3 {
			return h, nil, bad
		}
		pt := strings.Split(fields[2], "/")
		if len(pt) != 2 {
			return h, nil, bad
		}
		h.sender, h.seq, h.part, h.total = atoi(fields[0]), atoi(fields[1]), atoi(pt[0]), atoi(pt[1])
		if h.sender < 0 || h.seq < 0 || h.part < 1 || h.total < h.part {
			return h, nil, bad
		}
	case 'L':
	case 'R':
		if len(fields) != 2 {
			return h, nil, bad
		}
		h.conn, h.counter = atoi(fields[0]), atoi(fields[1])
	case 'A':
		n, err := strconv.ParseUint(string(data[1:bar]), 10, 64)
		if err != nil {
			return h, nil, bad
		}
		h.ack = n
	default:
		return h, nil, bad
	}
	return h, rest, nil
}

// simVerify checks a whole message byte for byte.
func simVerify(typ int, data []byte) (simHeader, error) {
	h, body, err := simParse(data)
	if err != nil {
		return h, err
	}
	if h.kind != 'M' {
		return h, fmt.Errorf("not a whole message: %q", simHead(data))
	}
	if h.text != (typ == websocket.TextMessage) {
		return h, fmt.Errorf("message %d/%d arrived as frame type %d", h.sender, h.seq, typ)
	}
	if len(body) != h.n || crc32.ChecksumIEEE(body) != h.crc {
		return h, fmt.Errorf("message %d/%d corrupt: %d bytes, want %d, crc %08x, want %08x",
			h.sender, h.seq, len(body), h.n, crc32.ChecksumIEEE(body), h.crc)
	}
	if h.text && !utf8.Valid(body) {
		return h, fmt.Errorf("text message %d/%d is not UTF-8", h.sender, h.seq)
	}
	return h, nil
}

func simHead(data []byte) []byte { return data[:min(len(data), 40)] }

// simMessageSized makes the message of sender's seq with exactly total
// bytes, header included.
func simMessageSized(rng *rand.Rand, sender, seq int, text bool, total int) []byte {
	t := "B"
	if text {
		t = "T"
	}
	n := total
	for range 4 {
		n = total - len(fmt.Sprintf("M%d:%d:%s:%d:%08x|", sender, seq, t, n, 0))
	}
	body := make([]byte, 0, n)
	if text {
		for len(body) < n-4 {
			r := simRunes[rng.IntN(36+1)]
			if rng.IntN(8) == 0 {
				r = simRunes[rng.IntN(len(simRunes))]
			}
			body = utf8.AppendRune(body, r)
		}
		for len(body) < n {
			body = append(body, 'a')
		}
	} else {
		for len(body) < n {
			body = append(body, byte(rng.UintN(256)))
		}
	}
	hdr := fmt.Sprintf("M%d:%d:%s:%d:%08x|", sender, seq, t, len(body), crc32.ChecksumIEEE(body))
	return append([]byte(hdr), body...)
}

// simSplit is the splitter: parts "S<sender>:<seq>:<part>/<total>|" plus a
// chunk of the whole message, cut on rune boundaries when it is UTF-8.
func simSplit(data []byte, limit int) ([][]byte, error) {
	h, _, err := simParse(data)
	if err != nil || h.kind != 'M' {
		return nil, fmt.Errorf("cannot split %q", simHead(data))
	}
	worst := len(fmt.Sprintf("S%d:%d:999/999|", h.sender, h.seq))
	chunk := limit - worst
	if chunk < 8 {
		return nil, fmt.Errorf("limit %d too small to split", limit)
	}
	runes := utf8.Valid(data)
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		if runes {
			for n < len(rest) && !utf8.RuneStart(rest[n]) {
				n--
			}
		}
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	if len(chunks) > 999 {
		return nil, fmt.Errorf("%d parts", len(chunks))
	}
	parts := make([][]byte, len(chunks))
	for i, c := range chunks {
		parts[i] = append([]byte(fmt.Sprintf("S%d:%d:%d/%d|", h.sender, h.seq, i+1, len(chunks))), c...)
	}
	return parts, nil
}

// The close codes of the policy table the server closes with (1009 comes
// from the size limit instead), and which of them abort.
var (
	simCloseCodes = []int{1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1013, 1014, 3000, 3003, 3008, 4000}
	simAbortCodes = map[int]bool{1002: true, 1003: true, 1007: true, 1008: true, 3000: true, 3003: true}
)

// simReasons are the 1009 reasons; %[1]d is the refused size, %[2]d the limit.
var simReasons = []string{
	"over size limit (%[1]d > %[2]d bytes)",
	"max %[2]d",
	"message too big",
	"limit of 1,048,576 bytes",
	"max 1 MB",
	"",
}

// simHugeRetryAfter is a Retry-After whose seconds overflow a Duration.
const simHugeRetryAfter = "10000000000"

// simArrival is one whole message the server got.
type simArrival struct{ seq, conn int }

// attempt outcomes, for the liveness check.
const (
	simPending = iota
	simRefused
	simOpen
	simEnded
)

type simAttempt struct {
	at         time.Time
	outcome    int
	retryAfter time.Duration
}

// simServer runs one schedule: each handshake draws its fault from a rand
// made from the seed and the attempt's number.
type simServer struct {
	seed      int64
	baseLimit int
	deafOK    bool // the client runs a heartbeat, so a deaf peer gets noticed
	smallBuf  bool
	fullRead  bool // read a message over the limit in full before refusing it
	rec       *simRecorder
	acks      *simAcks // nil: no acks (sim_acks_test.go)
	srv       *httptest.Server
	quit      chan struct{}
	wg        sync.WaitGroup

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every event
	attempts  []simAttempt
	conns     int
	live      map[net.Conn]bool
	delivered map[int][]simArrival // by sender
	refused   map[[2]int]bool      // (sender, seq) refused with 1009
	refusedBy []int                // limits that refused a message
	logins    int
	whole     int // whole messages received
}

func newSimServer(seed int64, baseLimit int, deafOK, smallBuf, fullRead bool, rec *simRecorder, acks *simAcks) *simServer {
	s := &simServer{
		seed: seed, baseLimit: baseLimit, deafOK: deafOK, smallBuf: smallBuf, fullRead: fullRead, rec: rec, acks: acks,
		quit:      make(chan struct{}),
		changed:   make(chan struct{}),
		live:      make(map[net.Conn]bool),
		delivered: make(map[int][]simArrival),
		refused:   make(map[[2]int]bool),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

func (s *simServer) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// event changes the server's record under its lock and wakes waiters.
func (s *simServer) event(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitUntil waits until cond holds, stop is closed or the timeout passes;
// it reports whether cond held.
func (s *simServer) waitUntil(cond func() bool, stop <-chan struct{}, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-stop:
			return false
		case <-timer.C:
			return false
		}
	}
}

// pause is the simulated peer being slow; it ends early when the run ends.
func (s *simServer) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.quit:
	}
}

func (s *simServer) setOutcome(n, outcome int, ra time.Duration) {
	s.event(func() {
		s.attempts[n].outcome = outcome
		s.attempts[n].retryAfter = ra
	})
}

func (s *simServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	var n int
	s.event(func() {
		n = len(s.attempts)
		s.attempts = append(s.attempts, simAttempt{at: time.Now()})
	})
	rng := simRand(s.seed, 1000+uint64(n))
	if s.refuseHandshake(n, rng, w) {
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.setOutcome(n, simEnded, 0)
		return
	}
	var c int
	s.event(func() {
		s.conns++
		c = s.conns
		s.attempts[n].outcome = simOpen
		s.live[ws.NetConn()] = true
	})
	s.serveConn(c, rng, ws)
	ws.NetConn().Close()
	s.event(func() {
		delete(s.live, ws.NetConn())
		s.attempts[n].outcome = simEnded
	})
}

// refuseHandshake answers some attempts with an HTTP error.
func (s *simServer) refuseHandshake(n int, rng *rand.Rand, w http.ResponseWriter) bool {
	p := rng.IntN(1000)
	var status int
	ra := ""
	switch {
	case p < 80:
		status = http.StatusServiceUnavailable
	case p < 130:
		status = http.StatusTooManyRequests
	case p < 170:
		status = http.StatusInternalServerError
	case p < 179:
		status = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}[rng.IntN(3)]
	default:
		return false
	}
	if status != http.StatusInternalServerError {
		switch q := rng.IntN(40); {
		case q < 18:
			ra = "0"
		case q < 35:
			ra = "1"
		case q < 37:
			ra = simHugeRetryAfter
		}
	}
	s.rec.count(fmt.Sprintf("refuse-%d", status))
	wait := time.Duration(0)
	switch ra {
	case "":
	case simHugeRetryAfter:
		s.rec.count("retry-after-huge")
		wait = time.Hour // only marks it as not worth waiting for
	default:
		s.rec.count("retry-after-" + ra)
		secs, _ := strconv.Atoi(ra)
		wait = time.Duration(secs) * time.Second
	}
	if ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	http.Error(w, http.StatusText(status), status)
	s.setOutcome(n, simRefused, wait)
	return true
}

// simConnPlan is what one connection does.
type simConnPlan struct {
	limit    int // refuse larger messages with 1009; 0 for none
	reason   int // index into simReasons
	endAfter int // messages read before the end; -1: until the client goes
	end      string
	code     int
	text     string
	slow     bool
	stallAt  int // -1 for none
	stallFor time.Duration
	deaf     bool
	sends    int
	pings    bool
	deafFor  time.Duration // after a 1009, read nothing more for this long, then drop
}

func (s *simServer) plan(rng *rand.Rand) simConnPlan {
	p := simConnPlan{endAfter: -1, stallAt: -1}
	if rng.IntN(10) < 7 {
		p.limit = s.baseLimit
		if rng.IntN(3) == 0 {
			p.limit = s.baseLimit * 3 / 2
		}
		p.reason = rng.IntN(len(simReasons))
	}
	if rng.IntN(10) < 7 {
		p.endAfter = rng.IntN(25)
	}
	switch q := rng.IntN(10); {
	case q < 5:
		p.end = "close"
		if rng.IntN(4) == 0 {
			abort := []int{1002, 1003, 1007, 1008, 3000, 3003}
			p.code = abort[rng.IntN(len(abort))]
		} else {
			var ok []int
			for _, c := range simCloseCodes {
				if !simAbortCodes[c] {
					ok = append(ok, c)
				}
			}
			p.code = ok[rng.IntN(len(ok))]
			if p.code == 4000 {
				p.code += rng.IntN(1000)
			}
		}
		p.text = simWords(rng, rng.IntN(6))
	case q < 8:
		p.end = "drop"
	default:
		p.end = "reset"
	}
	p.slow = rng.IntN(5) == 0
	if rng.IntN(7) == 0 {
		p.stallAt = rng.IntN(10)
		p.stallFor = time.Duration(50+rng.IntN(350)) * time.Millisecond
	}
	p.deaf = s.deafOK && rng.IntN(6) == 0
	if !p.deaf {
		if rng.IntN(2) == 0 {
			p.sends = 1 + rng.IntN(30)
		}
		p.pings = rng.IntN(3) == 0
	}
	if p.limit > 0 && (rng.IntN(4) == 0 || (s.fullRead && rng.IntN(3) > 0)) {
		p.deafFor = time.Duration(30+rng.IntN(270)) * time.Millisecond
	}
	return p
}

func simWords(rng *rand.Rand, n int) string {
	words := []string{"going", "down", "for", "maintenance", "bye", "überlastet", "try", "later", "bad", "input"}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// simSeries is a split message being reassembled on one connection.
type simSeries struct {
	typ         int
	total, next int
	buf         []byte
}

func (s *simServer) serveConn(c int, rng *rand.Rand, ws *websocket.Conn) {
	p := s.plan(rng)
	if s.smallBuf {
		if tc, ok := ws.NetConn().(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
	}
	if p.deaf {
		s.rec.count("deaf-ping")
		ws.SetPingHandler(func(string) error { return nil })
	}
	connDone := make(chan struct{})
	writerDone := make(chan struct{})
	var wmu sync.Mutex // the writer's messages and the acks
	acks := newSimAckConn(simRand(s.seed, 6000+uint64(c)), &wmu)
	go s.writer(c, p, simRand(s.seed, 5000+uint64(c)), ws, &wmu, connDone, writerDone)
	defer func() {
		close(connDone)
		ws.NetConn().Close()
		<-writerDone
	}()

	series := make(map[[2]int]*simSeries) // by (sender, seq)
	var open *[2]int                      // the series a message arrived for last
	for read := 0; ; read++ {
		if read == p.endAfter {
			s.endConn(p, ws)
			return
		}
		if read == p.stallAt {
			s.rec.count("stall")
			s.pause(p.stallFor)
		}
		typ, r, err := ws.NextReader()
		if err != nil {
			for range series {
				s.rec.count("split-series-discarded")
			}
			return
		}
		lr := r
		if p.limit > 0 && !s.fullRead {
			lr = io.LimitReader(r, int64(p.limit)+1)
		}
		data, err := io.ReadAll(lr)
		if err != nil {
			return
		}
		if p.limit > 0 && len(data) > p.limit {
			s.refuse(c, p, ws, data)
			return
		}
		if p.slow {
			s.rec.count("slow-reads")
			s.pause(time.Duration(1+rng.IntN(4)) * time.Millisecond)
		}
		h, _, err := simParse(data)
		if err != nil {
			s.rec.violation("server-garbage", "connection %d: %v", c, err)
			continue
		}
		if open != nil && (h.kind != 'S' || [2]int{h.sender, h.seq} != *open) {
			if sr := series[*open]; sr != nil {
				s.rec.violation("split-series-interrupted", "connection %d: series %d/%d interrupted at part %d of %d by %q",
					c, open[0], open[1], sr.next, sr.total, simHead(data))
			}
		}
		open = nil
		switch h.kind {
		case 'L':
			s.rec.count("login-received")
			s.event(func() { s.logins++ })
		case 'M':
			s.arrive(c, typ, data)
			s.ack(c, acks, ws, typ, data)
		case 'S':
			key := [2]int{h.sender, h.seq}
			sr := series[key]
			switch {
			case h.part == 1:
				if sr != nil {
					s.rec.violation("split-part-repeated", "connection %d: series %d/%d started again at part 1 after part %d of %d",
						c, h.sender, h.seq, sr.next-1, sr.total)
				}
				sr = &simSeries{typ: typ, total: h.total, next: 1}
				series[key] = sr
			case sr == nil:
				// The rest of a series whose start went out on an earlier
				// connection: the application cannot use it.
				s.rec.count("split-orphan-part")
				s.rec.violation("split-series-broken", "connection %d: series %d/%d starts at part %d of %d",
					c, h.sender, h.seq, h.part, h.total)
				continue
			case h.part != sr.next || h.total != sr.total || typ != sr.typ:
				s.rec.violation("split-part-order", "connection %d: series %d/%d: part %d/%d (type %d) where part %d/%d (type %d) was due",
					c, h.sender, h.seq, h.part, h.total, typ, sr.next, sr.total, sr.typ)
				delete(series, key)
				continue
			}
			_, chunk, _ := simParse(data)
			sr.buf = append(sr.buf, chunk...)
			sr.next++
			if sr.next > sr.total {
				delete(series, key)
				s.rec.count("split-series-complete")
				s.arrive(c, sr.typ, sr.buf)
			} else {
				open = &key
			}
			s.ack(c, acks, ws, typ, data)
		default:
			s.rec.violation("server-garbage", "connection %d: unexpected %q", c, simHead(data))
		}
	}
}

// arrive records one whole message.
func (s *simServer) arrive(c, typ int, data []byte) {
	h, err := simVerify(typ, data)
	if err != nil {
		s.rec.violation("corrupt-message", "connection %d: %v", c, err)
		return
	}
	s.event(func() {
		if c < s.conns {
			// A newer connection replaced this one: like a server that
			// hands the session over, drop what the old one still had.
			s.rec.count("superseded-discard")
			return
		}
		s.delivered[h.sender] = append(s.delivered[h.sender], simArrival{seq: h.seq, conn: c})
		s.whole++
	})
}

// refuse answers a message over the limit with 1009 and ends the
// connection; anything the client wrote after it is lost.
func (s *simServer) refuse(c int, p simConnPlan, ws *websocket.Conn, data []byte) {
	reason := simReasons[p.reason]
	if strings.Contains(reason, "%") {
		reason = fmt.Sprintf(reason, len(data)-1, p.limit) // at least this many
	}
	s.rec.count(fmt.Sprintf("1009-reason-%d", p.reason))
	if h, _, err := simParse(data); err == nil && (h.kind == 'M' || h.kind == 'S') {
		s.event(func() {
			s.refused[[2]int{h.sender, h.seq}] = true
			s.refusedBy = append(s.refusedBy, p.limit)
		})
	}
	if p.deafFor > 0 {
		// Stop reading: what the client writes after the refused message
		// fills the socket buffers, and a write blocks midway until the
		// connection is dropped.
		s.rec.count("1009-stall")
		if ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(CloseMessageTooBig), reason), time.Now().Add(time.Second)) == nil {
			s.pause(p.deafFor)
		}
		return
	}
	s.closeAndDrain(ws, int(CloseMessageTooBig), reason)
}

func (s *simServer) endConn(p simConnPlan, ws *websocket.Conn) {
	switch p.end {
	case "close":
		code := p.code
		name := fmt.Sprintf("close-%d", code)
		if code >= 4000 && code <= 4999 {
			name = "close-4xxx"
		}
		s.rec.count(name)
		s.closeAndDrain(ws, code, p.text)
	case "drop":
		s.rec.count("drop")
		ws.NetConn().Close()
	case "reset":
		s.rec.count("reset")
		if tc, ok := ws.NetConn().(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		ws.NetConn().Close()
	}
}

// closeAndDrain sends a close frame (gorilla writes any code, 1014
// included) and reads, discarding, until the client answers or 300 ms
// pass.
func (s *simServer) closeAndDrain(ws *websocket.Conn, code int, reason string) {
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second)); err != nil {
		return
	}
	ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}

// writer sends the client numbered messages and pings.
func (s *simServer) writer(c int, p simConnPlan, rng *rand.Rand, ws *websocket.Conn, wmu *sync.Mutex, connDone, done chan struct{}) {
	defer close(done)
	if p.sends == 0 && !p.pings {
		return
	}
	pause := func() bool {
		t := time.NewTimer(time.Duration(rng.IntN(15)) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-connDone:
			return false
		case <-s.quit:
			return false
		}
	}
	sent := 0
	for i := 0; i < p.sends || p.pings; i++ {
		if !pause() {
			return
		}
		if p.pings && (i%3 == 0 || i >= p.sends) {
			if ws.WriteControl(websocket.PingMessage, []byte("sim"), time.Now().Add(time.Second)) != nil {
				return
			}
			s.rec.count("server-pings")
			if i >= p.sends && i > 40 {
				return
			}
			if i >= p.sends {
				continue
			}
		}
		msg := fmt.Appendf(nil, "R%d:%d|", c, sent)
		msg = append(msg, bytes.Repeat([]byte("r"), rng.IntN(600))...)
		typ := websocket.TextMessage
		if rng.IntN(2) == 0 {
			typ = websocket.BinaryMessage
		}
		wmu.Lock()
		ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
		err := ws.WriteMessage(typ, msg)
		wmu.Unlock()
		if err != nil {
			return
		}
		sent++
		s.rec.count("server-sends")
	}
}

// shutdown ends every connection and waits for the handlers, up to limit.
func (s *simServer) shutdown(limit time.Duration) error {
	close(s.quit)
	closeLive := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for nc := range s.live {
			nc.Close()
		}
	}
	closeLive()
	s.srv.CloseClientConnections()
	s.srv.Close()
	closeLive() // upgraded while the server closed
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errors.New("server handlers did not end")
	}
}
