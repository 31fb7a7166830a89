package wsreconnect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
)

// echoServer starts a WebSocket echo server; onConn, if not nil, runs each
// connection instead of the echo.
func echoServer(onConn func(ws *websocket.Conn)) (url string, stop func()) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if onConn != nil {
			onConn(ws)
			return
		}
		for {
			typ, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			ws.WriteMessage(typ, data)
		}
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv.Close
}

// Dial, send a message and read the answer.
func Example() {
	url, stop := echoServer(nil)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()

	if err := c.Send(ctx, wsreconnect.TextMessage, []byte("hello")); err != nil {
		fmt.Println("send:", err)
		return
	}
	typ, data, err := c.Receive(ctx)
	if err != nil {
		fmt.Println("receive:", err)
		return
	}
	fmt.Println(typ, string(data))
	// Output: text hello
}

// A custom policy wraps DefaultPolicy: this application's server closes
// with 4001 when the token is revoked, which no retry can fix.
func ExampleWithPolicy() {
	url, stop := echoServer(func(ws *websocket.Conn) {
		msg := websocket.FormatCloseMessage(4001, "token revoked")
		ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		ws.ReadMessage() // wait for the client's answer
	})
	defer stop()

	policy := func(d wsreconnect.Disconnect) wsreconnect.Action {
		if d.Code == 4001 {
			return wsreconnect.Abort
		}
		return wsreconnect.DefaultPolicy(d)
	}
	c, err := wsreconnect.New(url, wsreconnect.WithPolicy(policy))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	<-c.Done()
	var ce *wsreconnect.CloseError
	if errors.As(c.Err(), &ce) {
		fmt.Println("stopped:", ce.Code, ce.Reason)
	}
	// Output: stopped: 4001 (private) token revoked
}

// Subscribe on every connection, before anything queued while the client
// was down, and watch the disconnects.
func ExampleWithOnConnect() {
	url, stop := echoServer(nil)
	defer stop()

	c, err := wsreconnect.New(url,
		wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
			return conn.Send(ctx, wsreconnect.TextMessage, []byte(`{"op":"subscribe","topic":"prices"}`))
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			fmt.Printf("lost connection (%v), will %v\n", d.Code, a)
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(data))
	// Output: {"op":"subscribe","topic":"prices"}
}

// Bad configuration is reported by New, never later.
func ExampleNew_badInput() {
	_, err := wsreconnect.New("http://example.com/", wsreconnect.WithHeartbeat(-time.Second, time.Second))
	fmt.Println(err)
	_, err = wsreconnect.New("ws://example.com/", wsreconnect.WithSendBuffer(0))
	fmt.Println(err)
	// Output:
	// wsreconnect: bad URL "http://example.com/": scheme must be ws or wss
	// wsreconnect: WithSendBuffer: size must be positive, got 0
}

// WaitState waits for a state instead of polling.
func ExampleClient_WaitState() {
	url, stop := echoServer(nil)
	defer stop()

	c, err := wsreconnect.New(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitState(ctx, wsreconnect.StateConnected); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.State())
	c.Close()
	fmt.Println(c.State())
	// Output:
	// connected
	// closed
}

// A splitter makes a message over the learned limit go out as several
// smaller ones; here the server's reason names its 8-byte limit.
func ExampleWithSplitter() {
	got := make(chan string, 8)
	url, stop := echoServer(func(ws *websocket.Conn) {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if len(data) > 100 {
				reason := fmt.Sprintf("message too big (%d > 100 bytes)", len(data))
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, reason), time.Now().Add(time.Second))
				ws.ReadMessage()
				return
			}
			got <- string(data)
		}
	})
	defer stop()

	chunks := func(data []byte, limit int) ([][]byte, error) {
		var parts [][]byte
		for len(data) > limit {
			parts, data = append(parts, data[:limit]), data[limit:]
		}
		return append(parts, data), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithSplitter(chunks))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// Refused whole, then sent again in parts after the reconnect.
	msg := strings.Repeat("0123456789", 25)
	c.Send(ctx, wsreconnect.TextMessage, []byte(msg))
	var joined string
	for len(joined) < len(msg) {
		part := <-got
		fmt.Println("part of", len(part), "bytes")
		joined += part
	}
	fmt.Println("intact:", joined == msg)
	fmt.Println("outbound limit:", c.Stats().OutboundLimit)
	// Output:
	// part of 100 bytes
	// part of 100 bytes
	// part of 50 bytes
	// intact: true
	// outbound limit: 100
}

// Handle messages as a stream on the client's own goroutine: no hand-off to
// another goroutine, the fastest way to consume.
func ExampleWithOnMessage() {
	url, stop := echoServer(nil)
	defer stop()

	got := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithOnMessage(func(typ wsreconnect.MessageType, data []byte) {
		got <- fmt.Sprintf("%v %s", typ, data)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	c.Send(ctx, wsreconnect.BinaryMessage, []byte("tick"))
	fmt.Println(<-got)
	// Output: binary tick
}

// A handshake that reads: OnConnect logs in and waits for the server's
// answer before anything queued is written.
func ExampleConn_Receive() {
	url, stop := echoServer(func(ws *websocket.Conn) {
		if _, data, err := ws.ReadMessage(); err != nil || string(data) != "login alice" {
			return
		}
		ws.WriteMessage(websocket.TextMessage, []byte("welcome alice"))
		for { // then echo
			typ, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			ws.WriteMessage(typ, data)
		}
	})
	defer stop()

	login := func(ctx context.Context, conn *wsreconnect.Conn) error {
		if err := conn.Send(ctx, wsreconnect.TextMessage, []byte("login alice")); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, reply, err := conn.Receive(ctx)
		if err != nil {
			return err // a failed attempt: the client tries again
		}
		fmt.Println("server:", string(reply))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithOnConnect(login))
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	c.Send(ctx, wsreconnect.TextMessage, []byte("hello"))
	_, echo, _ := c.Receive(ctx)
	fmt.Println("echo:", string(echo))
	// Output:
	// server: welcome alice
	// echo: hello
}

// At-least-once delivery: messages carry a sequence number, the server
// acknowledges them, and Flush waits for the acknowledgements.
func ExampleWithAcks() {
	url, stop := echoServer(func(ws *websocket.Conn) {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			seq, _ := strings.CutPrefix(string(data), "seq=")
			seq, _, _ = strings.Cut(seq, " ")
			ws.WriteMessage(websocket.TextMessage, []byte("ack="+seq))
		}
	})
	defer stop()

	number := func(prefix string) func(wsreconnect.MessageType, []byte) (uint64, bool) {
		return func(_ wsreconnect.MessageType, data []byte) (uint64, bool) {
			s, ok := strings.CutPrefix(string(data), prefix)
			if !ok {
				return 0, false
			}
			s, _, _ = strings.Cut(s, " ")
			n, err := strconv.ParseUint(s, 10, 64)
			return n, err == nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithAcks(wsreconnect.Acks{
		ID:      number("seq="),
		Acked:   number("ack="),
		Consume: true, // acks are not handed to Receive
	}))
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	for i := 1; i <= 3; i++ {
		c.Send(ctx, wsreconnect.TextMessage, []byte(fmt.Sprintf("seq=%d order #%d", i, 100+i)))
	}
	if err := c.Flush(ctx); err != nil {
		fmt.Println("flush:", err)
		return
	}
	fmt.Println("unacknowledged:", c.Stats().Unacked)
	// Output: unacknowledged: 0
}

// Reconnect rotates the connection, for example after new credentials were
// issued: the connection closes with the code given, and the client comes
// back at once, without a backoff step.
func ExampleClient_Reconnect() {
	url, stop := echoServer(nil)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	disconnected := make(chan wsreconnect.Disconnect, 1)
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
		disconnected <- d
	}))
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	c.Reconnect(4000, "credentials rotated")
	d := <-disconnected
	fmt.Println(d.Code, d.Reason, d.Local)
	fmt.Println(c.WaitState(ctx, wsreconnect.StateConnected))
	// Output:
	// 4000 (private) credentials rotated true
	// <nil>
}

// Explain puts a disconnect in words: what happened, the usual cause and
// the usual fix, with what is known of this one.
func ExampleDisconnect_Explain() {
	d := wsreconnect.Disconnect{Code: wsreconnect.CloseMessageTooBig, Reason: "max 1024 bytes", Limit: 1024}
	fmt.Println(d.Explain())
	// Output: 1009 (message too big) with reason "max 1024 bytes": the server refused a message larger than its limit; the client's outbound limit is now 1024 bytes. Fix: send smaller messages or split them with WithSplitter, set WithMaxMessageSize to the server's limit, or raise the limit on the server.
}

// Time every handshake and see what the server answered, as a diagnosis
// tool does; Stats tells whether the server pings on its own.
func ExampleWithOnHandshake() {
	url, stop := echoServer(nil)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsreconnect.Dial(ctx, url, wsreconnect.WithOnHandshake(func(h wsreconnect.Handshake) {
		if h.Err != nil {
			fmt.Println("attempt", h.Attempt, "failed:", h.Err)
			return
		}
		// h.Connect, h.TLS, h.Upgrade and h.Total say where the time went.
		fmt.Println("attempt", h.Attempt, "status", h.StatusCode, "compression", h.Compression, "timed", h.Total > 0)
	}))
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	fmt.Println("server pings so far:", c.Stats().PingsIn)
	// Output:
	// attempt 1 status 101 compression false timed true
	// server pings so far: 0
}
