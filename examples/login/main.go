// Command login shows a connection handshake that reads: on every
// connection, OnConnect logs in, waits for the server's OK, subscribes and
// waits for the subscription's ack; only then are the messages queued while
// the client was down written. The embedded server refuses the first
// attempt, so the first message is queued, and it drops the first
// connection after the handshake, so the second one logs in again.
//
//	go run ./examples/login
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
)

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "login:", err)
		os.Exit(1)
	}
}

// server refuses its first handshake, then expects "login" and
// "subscribe" before anything else on every connection. It drops its first
// connection after the first data message.
func server(got chan<- string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var attempts, conns atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			http.Error(w, "starting up", http.StatusServiceUnavailable)
			return
		}
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		n := conns.Add(1)
		for _, step := range []struct{ want, answer string }{{"login", "ok"}, {"subscribe", "subscribed"}} {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if string(data) != step.want {
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1008, "log in first"), time.Now().Add(time.Second))
				return
			}
			ws.WriteMessage(websocket.TextMessage, []byte(step.answer))
		}
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			got <- fmt.Sprintf("connection %d got %q", n, data)
			if n == 1 {
				return // drop the first connection
			}
		}
	})}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/feed", func() { srv.Close() }, nil
}

func run() error {
	got := make(chan string, 16)
	url, stop, err := server(got)
	if err != nil {
		return err
	}
	defer stop()

	// ask sends a request on the new connection and waits for its answer.
	ask := func(ctx context.Context, conn *wsreconnect.Conn, request, want string) error {
		if err := conn.Send(ctx, wsreconnect.TextMessage, []byte(request)); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, answer, err := conn.Receive(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", request, err)
		}
		if string(answer) != want {
			return fmt.Errorf("%s: server said %q", request, answer)
		}
		say("client: %s -> %s", request, answer)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := wsreconnect.New(url,
		wsreconnect.WithBackoff(backoff.NewConstantBackOff(50*time.Millisecond)),
		wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
			if err := ask(ctx, conn, "login", "ok"); err != nil {
				return err
			}
			return ask(ctx, conn, "subscribe", "subscribed")
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			if d.StatusCode != 0 {
				say("client: handshake refused with %d: %s", d.StatusCode, a)
				return
			}
			say("client: connection ended (%s): %s", d.Code, a)
		}),
	)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := c.Send(ctx, wsreconnect.TextMessage, []byte("queued while down")); err != nil {
		return err
	}
	say("client: queued a message while down")
	say("server: %s", <-got)
	if err := c.WaitState(ctx, wsreconnect.StateWaiting); err != nil {
		return err
	}
	if err := c.Send(ctx, wsreconnect.TextMessage, []byte("sent after the drop")); err != nil {
		return err
	}
	say("server: %s", <-got)
	return nil
}
