package wstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/wstest"
)

// newServer starts a server and checks, after it closed at the end of the
// test, that none of its goroutines is left.
func newServer(t *testing.T, opts ...wstest.Option) *wstest.Server {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	return wstest.NewServer(t, opts...)
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a plain gorilla client, closed when the test ends.
func dial(t *testing.T, s *wstest.Server) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctxTimeout(t), s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// next reads one event: "T <text>", "B <hex>", "close <code> <reason>",
// "reset", or the error.
func next(ws *websocket.Conn) string {
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := ws.ReadMessage()
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case err != nil:
		return err.Error()
	case typ == websocket.TextMessage:
		return "T " + string(data)
	default:
		return fmt.Sprintf("B %x", data)
	}
}

func send(t *testing.T, ws *websocket.Conn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEchoesWithTheSameType(t *testing.T) {
	s := newServer(t)
	ws := dial(t, s)
	tests := []struct {
		typ  int
		data string
		want string
	}{
		{websocket.TextMessage, "hello", "T hello"},
		{websocket.BinaryMessage, "\x00\xff", "B 00ff"},
		{websocket.TextMessage, "", "T "},
	}
	for _, tt := range tests {
		if err := ws.WriteMessage(tt.typ, []byte(tt.data)); err != nil {
			t.Fatal(err)
		}
		if got := next(ws); got != tt.want {
			t.Errorf("echo of %q: got %q, want %q", tt.data, got, tt.want)
		}
	}
	got := s.Received()
	if len(got) != len(tests) {
		t.Fatalf("received %d messages, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		want := wstest.Message{Conn: 1, Type: tt.typ, Data: []byte(tt.data)}
		if got[i].Conn != want.Conn || got[i].Type != want.Type || !bytes.Equal(got[i].Data, want.Data) {
			t.Errorf("Received()[%d] = %+v, want %+v", i, got[i], want)
		}
	}
	if !strings.HasPrefix(s.URL, "ws://127.0.0.1:") {
		t.Errorf("URL %q is not a loopback ws URL", s.URL)
	}
}

// TestScripts: what a client sees for each script of its connection.
func TestScripts(t *testing.T) {
	tests := []struct {
		name  string
		opts  []wstest.Option
		sends []string // written at once, without waiting for answers
		want  []string // what the client reads, in order
	}{
		{
			name: "close now",
			opts: []wstest.Option{wstest.Script(1, wstest.Close(1012, "restart"))},
			want: []string{"close 1012 restart"},
		},
		{
			name:  "close after two messages, before reading the third",
			opts:  []wstest.Option{wstest.Script(1, wstest.AfterMessages(2), wstest.Close(4000, "bye"))},
			sends: []string{"a", "b", "c"},
			want:  []string{"T a", "T b", "close 4000 bye"},
		},
		{
			name:  "greeting, then echo",
			opts:  []wstest.Option{wstest.Script(1, wstest.Send(websocket.TextMessage, []byte("welcome")))},
			sends: []string{"x"},
			want:  []string{"T welcome", "T x"},
		},
		{
			name: "binary message",
			opts: []wstest.Option{wstest.Script(1, wstest.Send(websocket.BinaryMessage, []byte{1, 2, 3}), wstest.Close(1000, ""))},
			want: []string{"B 010203", "close 1000 "},
		},
		{
			name: "drop",
			opts: []wstest.Option{wstest.Script(1, wstest.Send(websocket.TextMessage, []byte("bye")), wstest.Drop())},
			want: []string{"T bye", "close 1006 unexpected EOF"},
		},
		{
			name: "reset",
			opts: []wstest.Option{wstest.Script(1, wstest.Reset())},
			want: []string{"reset"},
		},
		{
			name:  "read limit: a natural 1009",
			opts:  []wstest.Option{wstest.Script(1, wstest.ReadLimit(4))},
			sends: []string{"1234", "12345"},
			want:  []string{"T 1234", "close 1009 "},
		},
		{
			name:  "without echo",
			opts:  []wstest.Option{wstest.WithoutEcho(), wstest.Script(1, wstest.AfterMessages(1), wstest.Close(1001, "done"))},
			sends: []string{"x"},
			want:  []string{"close 1001 done"},
		},
		{
			name: "Default applies to connections without a Script",
			opts: []wstest.Option{wstest.Script(2, wstest.Drop()), wstest.Default(wstest.Close(1013, "busy"))},
			want: []string{"close 1013 busy"},
		},
		{
			name: "an invalid code goes out as given",
			opts: []wstest.Option{wstest.Script(1, wstest.Close(1004, ""))},
			want: []string{"websocket: bad close code 1004"}, // gorilla refuses to receive it
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.opts...)
			ws := dial(t, s)
			send(t, ws, tt.sends...)
			var got []string
			for range tt.want {
				got = append(got, next(ws))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("client read %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConnectionsAreNumberedSeparatelyFromHandshakes: a refused handshake
// does not use up a connection number.
func TestConnectionsAreNumberedSeparatelyFromHandshakes(t *testing.T) {
	s := newServer(t,
		wstest.RefuseHandshake(1, http.StatusServiceUnavailable, ""),
		wstest.Script(1, wstest.Send(websocket.TextMessage, []byte("first"))),
		wstest.Script(2, wstest.Send(websocket.TextMessage, []byte("second"))),
	)
	if _, _, err := websocket.DefaultDialer.Dial(s.URL, nil); !errors.Is(err, websocket.ErrBadHandshake) {
		t.Fatalf("first handshake: %v, want a refusal", err)
	}
	for _, want := range []string{"T first", "T second"} {
		if got := next(dial(t, s)); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if h, r, c := s.Handshakes(), s.Refused(), s.Connections(); h != 3 || r != 1 || c != 2 {
		t.Errorf("handshakes %d, refused %d, connections %d; want 3, 1, 2", h, r, c)
	}
}

func TestRefuseHandshake(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
	}{
		{http.StatusServiceUnavailable, "7"},
		{http.StatusTooManyRequests, "soon"},
		{http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			s := newServer(t, wstest.RefuseHandshake(2, tt.status, tt.retryAfter))
			dial(t, s)
			_, resp, err := websocket.DefaultDialer.Dial(s.URL, nil)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
				t.Fatalf("second handshake: %v, want a refusal", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			dial(t, s)
			if h, r, c := s.Handshakes(), s.Refused(), s.Connections(); h != 3 || r != 1 || c != 2 {
				t.Errorf("handshakes %d, refused %d, connections %d; want 3, 1, 2", h, r, c)
			}
		})
	}
}

func TestHandshakeFuncSeesTheRequest(t *testing.T) {
	var seen []string // only the handshakes' goroutines, one after the other
	s := newServer(t, wstest.WithHandshakeFunc(func(n int, w http.ResponseWriter, r *http.Request) bool {
		seen = append(seen, fmt.Sprintf("%d %s", n, r.Header.Get("Authorization")))
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return true
		}
		return false
	}))
	_, resp, err := websocket.DefaultDialer.Dial(s.URL, http.Header{"Authorization": {"Bearer bad"}})
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v, want 401", err)
	}
	resp.Body.Close()
	ws, _, err := websocket.DefaultDialer.Dial(s.URL, http.Header{"Authorization": {"Bearer good"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if want := "[1 Bearer bad 2 Bearer good]"; fmt.Sprint(seen) != want {
		t.Errorf("seen %v, want %s", seen, want)
	}
	if s.Refused() != 1 || s.Connections() != 1 {
		t.Errorf("refused %d, connections %d; want 1, 1", s.Refused(), s.Connections())
	}
}

// TestNoPong: a ping is answered before the message behind it is echoed,
// unless the script says NoPong.
func TestNoPong(t *testing.T) {
	tests := []struct {
		name   string
		opts   []wstest.Option
		pongs  []bool // per round: whether the ping of that round was answered
		rounds int
	}{
		{"default", nil, []bool{true, true}, 2},
		{"from the start", []wstest.Option{wstest.Script(1, wstest.NoPong())}, []bool{false, false}, 2},
		{"after a message", []wstest.Option{wstest.Script(1, wstest.AfterMessages(1), wstest.NoPong())}, []bool{true, false}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.opts...)
			ws := dial(t, s)
			pongs := 0
			ws.SetPongHandler(func(string) error { pongs++; return nil })
			for i := range tt.rounds {
				before := pongs
				if err := ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				send(t, ws, "x")
				if got := next(ws); got != "T x" {
					t.Fatalf("round %d: read %q", i, got)
				}
				if got := pongs > before; got != tt.pongs[i] {
					t.Errorf("round %d: pong %v, want %v", i, got, tt.pongs[i])
				}
			}
		})
	}
}

// TestStopReading: the client's writes back up, and the server read
// exactly what the script let it read.
func TestStopReading(t *testing.T) {
	tests := []struct {
		name string
		plan []wstest.Action
		read int
	}{
		{"never reads", []wstest.Action{wstest.StopReading()}, 0},
		{"after one message", []wstest.Action{wstest.AfterMessages(1), wstest.StopReading()}, 1},
		{"after two, then a delay", []wstest.Action{wstest.AfterMessages(2), wstest.StopReading(), wstest.Delay(time.Hour)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, wstest.WithoutEcho(), wstest.Script(1, tt.plan...))
			ws := dial(t, s)
			chunk := make([]byte, 64<<10)
			var err error
			for i := 0; err == nil && i < 10000; i++ {
				ws.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				err = ws.WriteMessage(websocket.BinaryMessage, chunk)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("writes ended with %v, want a timeout", err)
			}
			if err := s.WaitReceived(ctxTimeout(t), tt.read); err != nil {
				t.Fatal(err)
			}
			if got := s.Messages(); got != tt.read {
				t.Errorf("server read %d messages, want %d", got, tt.read)
			}
			s.Close() // ends the stuck connection
		})
	}
}

func TestDelay(t *testing.T) {
	const d = 50 * time.Millisecond
	s := newServer(t, wstest.Script(1, wstest.Delay(d), wstest.Close(1001, "late")))
	start := time.Now()
	ws := dial(t, s)
	send(t, ws, "during the delay")
	if got := next(ws); got != "T during the delay" {
		t.Errorf("read %q: the server should echo during a delay", got)
	}
	if got := next(ws); got != "close 1001 late" {
		t.Errorf("read %q, want the close", got)
	}
	if elapsed := time.Since(start); elapsed < d {
		t.Errorf("closed after %s, before the %s delay", elapsed, d)
	}
}

func TestAcks(t *testing.T) {
	id := func(_ int, data []byte) (uint64, bool) {
		seq, err := strconv.ParseUint(strings.TrimPrefix(string(data), "seq "), 10, 64)
		return seq, err == nil && strings.HasPrefix(string(data), "seq ")
	}
	ack := func(seq uint64) (int, []byte) {
		return websocket.TextMessage, fmt.Appendf(nil, "ack %d", seq)
	}
	tests := []struct {
		name string
		opts []wstest.Option
		// per connection: what the client sends, and what it reads
		conns [][2][]string
	}{
		{
			name: "every message, with echo",
			conns: [][2][]string{
				{{"seq 1", "hello", "seq 2"}, {"T ack 1", "T seq 1", "T hello", "T ack 2", "T seq 2"}},
			},
		},
		{
			name: "every second message, without echo, highest across connections",
			opts: []wstest.Option{wstest.WithAckEvery(2), wstest.WithoutEcho()},
			conns: [][2][]string{
				{{"seq 1", "hello", "seq 2", "seq 3", "seq 4", "seq 5"}, {"T ack 2", "T ack 4"}},
				{{"seq 3", "seq 2"}, {"T ack 5"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, append(tt.opts, wstest.WithAcks(id, ack))...)
			total := 0
			for i, c := range tt.conns {
				ws := dial(t, s)
				send(t, ws, c[0]...)
				total += len(c[0])
				var got []string
				for range c[1] {
					got = append(got, next(ws))
				}
				if fmt.Sprint(got) != fmt.Sprint(c[1]) {
					t.Errorf("connection %d: read %q, want %q", i+1, got, c[1])
				}
				// Everything sent was read before the next connection.
				if err := s.WaitReceived(ctxTimeout(t), total); err != nil {
					t.Fatal(err)
				}
				ws.Close()
			}
		})
	}
}

func TestCloseFrames(t *testing.T) {
	s := newServer(t, wstest.Script(2, wstest.Close(1012, "restart")))
	ws := dial(t, s)
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := next(ws); got != "close 4001 " {
		t.Errorf("the server answered %q, want the code back", got)
	}
	ws2 := dial(t, s)
	if got := next(ws2); got != "close 1012 restart" {
		t.Errorf("read %q", got)
	}
	dial(t, s).WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNoStatusReceived, ""), time.Now().Add(time.Second))
	if err := s.Wait(ctxTimeout(t), func() bool { return len(s.CloseFrames()) == 3 }); err != nil {
		t.Fatal(err)
	}
	want := []wstest.CloseFrame{{Conn: 1, Code: 4001, Reason: "bye"}, {Conn: 2, Code: 1012}, {Conn: 3, Code: 1005}}
	got := s.CloseFrames()
	// Each connection's frame is recorded after gorilla answered it, so
	// the connections may be recorded in any order.
	slices.SortFunc(got, func(a, b wstest.CloseFrame) int { return a.Conn - b.Conn })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CloseFrames() = %+v, want %+v", got, want)
	}
}

func TestRecordLimit(t *testing.T) {
	tests := []struct {
		name string
		opts []wstest.Option
		want string
	}{
		{"all by default", nil, "[1 2 3 4 5]"},
		{"the last two", []wstest.Option{wstest.WithRecordLimit(2)}, "[4 5]"},
		{"the last three", []wstest.Option{wstest.WithRecordLimit(3)}, "[3 4 5]"},
		{"none", []wstest.Option{wstest.WithRecordLimit(0)}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, append(tt.opts, wstest.WithoutEcho())...)
			ws := dial(t, s)
			send(t, ws, "1", "2", "3", "4", "5")
			if err := s.WaitReceived(ctxTimeout(t), 5); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range s.Received() {
				got = append(got, string(m.Data))
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("Received() = %v, want %s", got, tt.want)
			}
			if s.Messages() != 5 {
				t.Errorf("Messages() = %d, want 5", s.Messages())
			}
		})
	}
}

func TestWaitErrors(t *testing.T) {
	s := newServer(t)
	dial(t, s)
	if err := s.WaitConnections(ctxTimeout(t), 1); err != nil {
		t.Errorf("WaitConnections(1) with one connection: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitConnections(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConnections(2) with one connection: %v, want the deadline", err)
	}
	s.Close()
	s.Close()
	if err := s.WaitReceived(ctxTimeout(t), 1); !errors.Is(err, wstest.ErrClosed) {
		t.Errorf("WaitReceived after Close: %v, want ErrClosed", err)
	}
	if err := s.WaitConnections(ctxTimeout(t), 1); err != nil {
		t.Errorf("WaitConnections(1) after Close, already true: %v", err)
	}
}

func TestHandle(t *testing.T) {
	s := newServer(t, wstest.Script(1,
		wstest.Send(websocket.TextMessage, []byte("hi")),
		wstest.Handle(func(c *wstest.Conn) {
			typ, data, err := c.WS.ReadMessage()
			if err != nil {
				return
			}
			c.Record(typ, bytes.ToUpper(data))
			c.WS.WriteMessage(websocket.TextMessage, []byte("done on "+strconv.Itoa(c.N)))
		}),
	))
	ws := dial(t, s)
	send(t, ws, "abc")
	var got []string
	for range 3 {
		got = append(got, next(ws))
	}
	if want := "[T hi T done on 1 close 1006 unexpected EOF]"; fmt.Sprint(got) != want {
		t.Errorf("read %q, want %s", got, want)
	}
	if r := s.Received(); len(r) != 1 || string(r[0].Data) != "ABC" || r[0].Conn != 1 || r[0].Type != websocket.TextMessage {
		t.Errorf("Received() = %+v", r)
	}
}

// TestCloseEndsEverything: Close returns with connections in every state,
// and every goroutine has ended (newServer checks).
func TestCloseEndsEverything(t *testing.T) {
	s := newServer(t,
		wstest.Script(1),
		wstest.Script(2, wstest.StopReading()),
		wstest.Script(3, wstest.AfterMessages(1000)),
		wstest.Script(4, wstest.Delay(time.Hour)),
		wstest.Script(5, wstest.Handle(func(c *wstest.Conn) { <-c.Done() })),
		wstest.Script(6, wstest.NoPong(), wstest.AfterMessages(1), wstest.StopReading()),
		wstest.Script(7, wstest.Close(1000, "")),
	)
	var clients []*websocket.Conn
	for range 7 {
		clients = append(clients, dial(t, s))
	}
	send(t, clients[5], "one")
	if err := s.WaitConnections(ctxTimeout(t), 7); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for i, ws := range clients[:6] {
		got := next(ws)
		if i == 5 {
			got = next(ws) // after the echo of "one"
		}
		if !strings.HasPrefix(got, "close 1006") && got != "reset" {
			t.Errorf("client %d read %q, want the connection gone", i+1, got)
		}
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		opt  wstest.Option
		want string
	}{
		{nil, "nil Option"},
		{wstest.Script(0), "numbered from 1"},
		{wstest.Script(1, wstest.Drop(), wstest.Send(websocket.TextMessage, nil)), "after Drop()"},
		{wstest.Script(1, wstest.Send(websocket.PingMessage, nil)), "type must be"},
		{wstest.Script(1, wstest.AfterMessages(0)), "at least 1"},
		{wstest.Script(1, wstest.Delay(-time.Second)), "negative delay"},
		{wstest.Script(1, wstest.ReadLimit(0)), "limit must be"},
		{wstest.Script(1, wstest.Close(1000, strings.Repeat("x", 124))), "at most 123"},
		{wstest.Script(1, wstest.Handle(nil)), "Handle(nil)"},
		{wstest.Script(1, wstest.AfterMessages(1), wstest.Handle(func(*wstest.Conn) {})), "does not read"},
		{wstest.Script(1, wstest.StopReading(), wstest.AfterMessages(1)), "no more messages"},
		{wstest.Script(1, wstest.AfterMessages(2), wstest.AfterMessages(2)), "count from the connection's start"},
		{wstest.Default(wstest.Action{}), "zero Action"},
		{wstest.RefuseHandshake(1, 200, ""), "outside 300..599"},
		{wstest.RefuseHandshake(0, 503, ""), "numbered from 1"},
		{wstest.WithHandshakeFunc(nil), "nil func"},
		{wstest.WithAcks(nil, nil), "nil func"},
		{wstest.WithAckEvery(0), "at least 1"},
		{wstest.WithRecordLimit(-1), "negative"},
		{wstest.WithCloseTimeout(0), "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
					t.Errorf("panic %v, want one mentioning %q", r, tt.want)
				}
			}()
			s := wstest.NewServer(nil, tt.opt)
			s.Close()
		})
	}
	t.Run("Script given twice", func(t *testing.T) {
		defer func() {
			if msg, _ := recover().(string); !strings.Contains(msg, "Script(2) given twice") {
				t.Errorf("panic %q", msg)
			}
		}()
		wstest.NewServer(nil, wstest.Script(2), wstest.Script(2)).Close()
	})
}

// TestReconnectingClientRecovers: the wsreconnect client, given each fault
// on its first connection, subscribes again on the next one.
func TestReconnectingClientRecovers(t *testing.T) {
	const subscribe = "subscribe prices"
	heartbeat := wsreconnect.WithHeartbeat(10*time.Millisecond, 50*time.Millisecond)
	tests := []struct {
		name     string
		opts     []wstest.Option
		client   []wsreconnect.Option
		big      bool // send a message over 16 bytes once connected
		wantConn int  // the connection that sees the subscription again
	}{
		{name: "service restart", opts: []wstest.Option{wstest.Script(1, wstest.AfterMessages(1), wstest.Close(1012, "restart"))}, wantConn: 2},
		{name: "drop", opts: []wstest.Option{wstest.Script(1, wstest.AfterMessages(1), wstest.Drop())}, wantConn: 2},
		{name: "reset", opts: []wstest.Option{wstest.Script(1, wstest.AfterMessages(1), wstest.Reset())}, wantConn: 2},
		{name: "message too big", opts: []wstest.Option{wstest.Script(1, wstest.ReadLimit(16))}, big: true, wantConn: 2},
		{name: "no pong", opts: []wstest.Option{wstest.Script(1, wstest.NoPong())}, client: []wsreconnect.Option{heartbeat}, wantConn: 2},
		{name: "stops reading", opts: []wstest.Option{wstest.Script(1, wstest.AfterMessages(1), wstest.StopReading())}, client: []wsreconnect.Option{heartbeat}, wantConn: 2},
		{name: "handshake refused", opts: []wstest.Option{wstest.RefuseHandshake(1, http.StatusServiceUnavailable, "0")}, wantConn: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.opts...)
			c, err := wsreconnect.New(s.URL, append([]wsreconnect.Option{
				wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
					return conn.Send(ctx, wsreconnect.TextMessage, []byte(subscribe))
				}),
				wsreconnect.WithBackoff(backoff.NewConstantBackOff(time.Millisecond)),
				wsreconnect.WithRestartDelay(time.Millisecond),
			}, tt.client...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxTimeout(t)
			if tt.big {
				if err := s.WaitConnections(ctx, 1); err != nil {
					t.Fatal(err)
				}
				if err := c.Send(ctx, wsreconnect.TextMessage, []byte(strings.Repeat("x", 100))); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Wait(ctx, func() bool {
				for _, m := range s.Received() {
					if m.Conn == tt.wantConn && string(m.Data) == subscribe {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatalf("no subscription on connection %d: %v; received %d messages on %d connections",
					tt.wantConn, err, s.Messages(), s.Connections())
			}
		})
	}
}
