package wstest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/wstest"
)

// My application subscribes in OnConnect; it must subscribe again after
// the server restarts (close 1012). In a test, pass t instead of nil: the
// server closes when the test ends.
func Example() {
	s := wstest.NewServer(nil, wstest.Script(1, wstest.AfterMessages(1), wstest.Close(1012, "restart")))
	defer s.Close()

	c, _ := wsreconnect.New(s.URL,
		wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
			return conn.Send(ctx, wsreconnect.TextMessage, []byte("subscribe prices"))
		}),
		wsreconnect.WithBackoff(backoff.NewConstantBackOff(time.Millisecond)),
		wsreconnect.WithRestartDelay(time.Millisecond))
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitReceived(ctx, 2); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range s.Received() {
		fmt.Printf("connection %d: %s\n", m.Conn, m.Data)
	}
	// Output:
	// connection 1: subscribe prices
	// connection 2: subscribe prices
}

// Refuse the first handshake with 503 and a Retry-After, then greet every
// connection.
func ExampleRefuseHandshake() {
	s := wstest.NewServer(nil,
		wstest.RefuseHandshake(1, http.StatusServiceUnavailable, "0"),
		wstest.Default(wstest.Send(websocket.TextMessage, []byte("welcome"))),
	)
	defer s.Close()

	status := 0
	c, _ := wsreconnect.New(s.URL,
		wsreconnect.WithBackoff(backoff.NewConstantBackOff(time.Millisecond)),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, _ wsreconnect.Action) {
			var he *wsreconnect.HandshakeError
			if errors.As(d.Err, &he) {
				status = he.StatusCode
			}
		}))
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, greeting, err := c.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(greeting))
	fmt.Println("the client saw", status)
	fmt.Println("refused:", s.Refused(), "accepted:", s.Connections())
	// Output:
	// welcome
	// the client saw 503
	// refused: 1 accepted: 1
}

// Acknowledge "seq N" messages with "ack N", for at-least-once tests: the
// server acks the highest sequence number it has seen, on any connection.
func ExampleWithAcks() {
	id := func(typ int, data []byte) (uint64, bool) {
		n, err := strconv.ParseUint(strings.TrimPrefix(string(data), "seq "), 10, 64)
		return n, err == nil
	}
	ack := func(seq uint64) (int, []byte) {
		return websocket.TextMessage, []byte("ack " + strconv.FormatUint(seq, 10))
	}
	s := wstest.NewServer(nil, wstest.WithAcks(id, ack), wstest.WithoutEcho())
	defer s.Close()

	ws, _, err := websocket.DefaultDialer.Dial(s.URL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	for _, m := range []string{"seq 1", "seq 3", "seq 2"} {
		ws.WriteMessage(websocket.TextMessage, []byte(m))
		_, data, _ := ws.ReadMessage()
		fmt.Println(m, "->", string(data))
	}
	// Output:
	// seq 1 -> ack 1
	// seq 3 -> ack 3
	// seq 2 -> ack 3
}

// Close the first connection after its second message; the wait returns
// as soon as the client is back, without polling.
func ExampleServer_WaitConnections() {
	s := wstest.NewServer(nil, wstest.Script(1, wstest.AfterMessages(2), wstest.Close(1001, "going away")))
	defer s.Close()

	c, _ := wsreconnect.New(s.URL, wsreconnect.WithBackoff(backoff.NewConstantBackOff(time.Millisecond)))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Send(ctx, wsreconnect.TextMessage, []byte("one"))
	c.Send(ctx, wsreconnect.TextMessage, []byte("two"))

	if err := s.WaitConnections(ctx, 2); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connections:", s.Connections())
	for _, m := range s.Received() {
		fmt.Printf("connection %d: %s\n", m.Conn, m.Data)
	}
	// Output:
	// connections: 2
	// connection 1: one
	// connection 1: two
}
