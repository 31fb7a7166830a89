// Command chunked shows a 1009 that loses nothing. An embedded server
// accepts messages of at most 1 KiB and reassembles chunked ones. The
// client sends a 4 KiB message before it knows any limit; the server
// refuses it with 1009 and an empty close reason, so it does not say how
// much it accepts. The client then halves its outbound limit (to half the
// largest message it wrote on that connection), reconnects and sends the
// refused message again in chunks made by WithSplitter. Those chunks are
// still too big and are refused in turn, so the limit is halved once more;
// the smaller chunks fit and the server reassembles the message. A later
// large message is chunked at once.
//
//	go run ./examples/chunked
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
)

const serverLimit = 1024

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// The application's chunk format: "i/n|" followed by the chunk's bytes.
// Messages without the header are whole.

// split cuts data into chunks whose encoded size is at most limit.
func split(data []byte, limit int) ([][]byte, error) {
	const header = 16 // room for "i/n|" with up to 7-digit counts
	if limit <= header {
		return nil, errors.New("limit too small for a chunk header")
	}
	size := limit - header
	n := (len(data) + size - 1) / size
	parts := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		chunk := data[i*size : min(len(data), (i+1)*size)]
		parts = append(parts, append([]byte(fmt.Sprintf("%d/%d|", i+1, n)), chunk...))
	}
	return parts, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chunked:", err)
		os.Exit(1)
	}
}

func run() error {
	received := make(chan []byte, 4)
	url, stop, err := startServer(received)
	if err != nil {
		return err
	}
	defer stop()

	// The hook reads c: it runs only after a refusal, so after New returned.
	var c *wsreconnect.Client
	c, err = wsreconnect.New(url,
		wsreconnect.WithSplitter(split),
		wsreconnect.WithBackoff(backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(100*time.Millisecond), backoff.WithMaxElapsedTime(0))),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			say("client  disconnected: %s %q -> %s; outbound limit now %d; refused message of %d bytes will be re-sent in chunks",
				d.Code, d.Reason, a, c.Stats().OutboundLimit, len(d.Refused))
		}),
	)
	if err != nil {
		return err
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitState(ctx, wsreconnect.StateConnected); err != nil {
		return err
	}
	first := bytes.Repeat([]byte("0123456789abcdef"), 256)  // 4 KiB
	second := bytes.Repeat([]byte("ABCDEFGHIJKLMNOP"), 192) // 3 KiB
	for _, msg := range [][]byte{first, second} {
		// Say it before sending: the server may answer before Send returns.
		switch limit := c.Stats().OutboundLimit; {
		case limit == 0:
			say("client  sending %d bytes whole (no outbound limit yet)", len(msg))
		case len(msg) > limit:
			say("client  sending %d bytes in chunks (outbound limit %d)", len(msg), limit)
		default:
			say("client  sending %d bytes whole (outbound limit %d)", len(msg), limit)
		}
		if err := c.Send(ctx, wsreconnect.BinaryMessage, msg); err != nil {
			return err
		}
		select {
		case got := <-received:
			if !bytes.Equal(got, msg) {
				return errors.New("server reassembled a different message")
			}
			say("server  reassembled %d bytes, intact", len(got))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	st := c.Stats()
	say("client  %d messages written in all, %d dropped", st.MessagesOut, st.Dropped)
	return nil
}

// startServer refuses messages over serverLimit with 1009 and reassembles
// chunked ones.
func startServer(received chan<- []byte) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetReadLimit(serverLimit)
		var whole []byte
		for {
			_, data, err := ws.ReadMessage()
			if errors.Is(err, websocket.ErrReadLimit) {
				say("server  refused a message over %d bytes with 1009", serverLimit)
				return // gorilla has sent 1009; its reason names no size
			}
			if err != nil {
				return
			}
			head, body, ok := bytes.Cut(data, []byte("|"))
			i, n, ok2 := strings.Cut(string(head), "/")
			if !ok || !ok2 {
				received <- data
				continue
			}
			whole = append(whole, body...)
			if i == n {
				count, _ := strconv.Atoi(n)
				say("server  got the last of %d chunks", count)
				received <- whole
				whole = nil
			}
		}
	})}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/upload", func() { srv.Close() }, nil
}
