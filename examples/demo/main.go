// Command demo runs a wsreconnect Client against an embedded server that
// misbehaves on purpose: it closes with 1001, drops the TCP connection,
// refuses a large message with 1009 and finally closes with 1008. The client
// reconnects, shrinks its outbound limit and stops; one line per event.
//
// The server, the client's hooks and the main goroutine all print. So that
// the lines come in causal order, the server acts on a message only after
// the main goroutine has said it sent it, and ends a connection only after
// the main goroutine has said it received the echo (see turns).
//
//	go run ./examples/demo
package main

import (
	"context"
	"errors"
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

const peerLimit = 64 // the embedded server refuses larger messages with 1009

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// turns orders the output: the main goroutine hands a turn to the server
// after each line it prints about a message, and the server waits for it.
type turns struct {
	sent     chan struct{} // main said "sent"; the server may handle it
	received chan struct{} // main said "received echo"; the server may go on
}

// give hands the server its turn on ch, unless ctx ends first.
func give(ctx context.Context, ch chan<- struct{}) error {
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the server: %w", ctx.Err())
	}
}

func run() error {
	t := turns{sent: make(chan struct{}), received: make(chan struct{})}
	url, stopServer, err := startServer(t)
	if err != nil {
		return err
	}
	defer stopServer()
	say("server  listening on %s", url)

	connected := make(chan int, 8)
	var conns atomic.Int32
	c, err := wsreconnect.New(url,
		wsreconnect.WithBackoff(backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(200*time.Millisecond),
			backoff.WithMaxInterval(time.Second),
			backoff.WithMaxElapsedTime(0),
		)),
		wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
			n := int(conns.Add(1))
			say("client  connected (connection #%d)", n)
			connected <- n
			return nil
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			what := d.Code.String()
			if d.Reason != "" {
				what += fmt.Sprintf(" %q", d.Reason)
			}
			switch a {
			case wsreconnect.Abort:
				say("client  disconnected: %s -> abort", what)
			case wsreconnect.Shrink:
				say("client  disconnected: %s -> shrink outbound limit, reconnect in %s", what, d.Delay.Round(time.Millisecond))
			default:
				say("client  disconnected: %s -> %s in %s", what, a, d.Delay.Round(time.Millisecond))
			}
			say("          why: %s", d.Explain())
		}),
	)
	if err != nil {
		return err
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	steps := []struct {
		conn int
		size int
	}{
		{1, 16}, // echoed, then the server closes with 1001
		{2, 16}, // echoed, then the server drops the TCP connection
		{3, 32}, // echoed
		{3, 100},
		{4, 100}, // refused locally: the limit learned from the 1009
		{4, 32},  // echoed, then the server closes with 1008
	}
	current := 0
	for _, s := range steps {
		if err := waitConn(ctx, connected, &current, s.conn); err != nil {
			return err
		}
		msg := make([]byte, s.size)
		for i := range msg {
			msg[i] = 'a' + byte(i%26)
		}
		err := c.Send(ctx, wsreconnect.TextMessage, msg)
		switch {
		case errors.Is(err, wsreconnect.ErrMessageTooBig):
			say("client  send %d bytes: refused locally (%v); the connection stays up", s.size, err)
			continue
		case err != nil:
			return err
		}
		say("client  sent %d bytes", s.size)
		if err := give(ctx, t.sent); err != nil {
			return err
		}
		if s.size > peerLimit {
			continue // the server answers with 1009, not an echo
		}
		_, echo, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		say("client  received echo of %d bytes", len(echo))
		if err := give(ctx, t.received); err != nil {
			return err
		}
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	say("client  stopped for good: %v", c.Err())
	var ce *wsreconnect.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != wsreconnect.ClosePolicyViolation {
		return fmt.Errorf("expected to stop on 1008, got %v", c.Err())
	}
	return nil
}

// waitConn waits until connection number n is up; *current is the newest
// connection seen so far.
func waitConn(ctx context.Context, connected <-chan int, current *int, n int) error {
	for *current < n {
		select {
		case *current = <-connected:
		case <-ctx.Done():
			return fmt.Errorf("waiting for connection #%d: %w", n, ctx.Err())
		}
	}
	return nil
}

// startServer starts the scripted server on a loopback port.
func startServer(t turns) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var n atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		serve(int(n.Add(1)), ws, t)
	})}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/demo", func() { srv.Close() }, nil
}

// serve scripts the n-th connection. It handles each message only once
// the client has said it sent it, and goes on after an echo only once the
// client has said it received it.
func serve(n int, ws *websocket.Conn, t turns) {
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		<-t.sent
		if len(data) > peerLimit {
			say("server  refusing a %d-byte message with 1009", len(data))
			closeWith(ws, websocket.CloseMessageTooBig, fmt.Sprintf("message too big (%d > %d bytes)", len(data), peerLimit))
			return
		}
		ws.WriteMessage(typ, data)
		<-t.received
		switch n {
		case 1:
			say("server  closing with 1001")
			closeWith(ws, websocket.CloseGoingAway, "server restarting")
			return
		case 2:
			say("server  dropping the TCP connection")
			ws.NetConn().Close()
			return
		case 4:
			say("server  closing with 1008")
			closeWith(ws, websocket.ClosePolicyViolation, "demo over")
			return
		}
	}
}

func closeWith(ws *websocket.Conn, code int, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
	}
}
