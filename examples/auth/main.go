// Command auth shows fresh credentials on every connection attempt with
// WithHeaderFunc. An embedded issuer numbers its tokens and the embedded
// server accepts only the newest one, until it expires. The client's first
// token is a cached one that has already expired: it is refused with 401
// and the attempt is retried once with a fresh token. When that token
// expires in turn, the server closes with 3000 (unauthorized) and the
// client reconnects with a new one.
//
//	go run ./examples/auth
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
)

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// tokens issues numbered tokens; only the newest one is valid, and only
// until it expires.
type tokens struct {
	mu      sync.Mutex
	n       int
	expired bool
}

func (t *tokens) issue() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	t.expired = false
	return "token-" + strconv.Itoa(t.n)
}

// expire makes the newest token invalid and returns it.
func (t *tokens) expire() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expired = true
	return "token-" + strconv.Itoa(t.n)
}

func (t *tokens) valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.expired && tok == "token-"+strconv.Itoa(t.n)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}

func run() error {
	issuer := &tokens{}
	url, stop, err := startServer(issuer)
	if err != nil {
		return err
	}
	defer stop()

	// The application starts with a cached token that has already expired.
	cached := issuer.issue()
	say("issuer  %s, cached by the client, has expired", issuer.expire())
	headerFunc := func(ctx context.Context) (http.Header, error) {
		tok := cached
		cached = "" // use the cache once, then always fetch
		if tok == "" {
			tok = issuer.issue()
			say("client  fetched a fresh token (%s)", tok)
		} else {
			say("client  using the cached token (%s)", tok)
		}
		return http.Header{"Authorization": {"Bearer " + tok}}, nil
	}

	connected := make(chan struct{}, 4)
	c, err := wsreconnect.New(url,
		wsreconnect.WithHeaderFunc(headerFunc),
		// A connection up for 200 ms counts as stable: it proves the
		// credentials, so a later auth failure gets its own retry.
		wsreconnect.WithStableAfter(200*time.Millisecond),
		wsreconnect.WithBackoff(backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(100*time.Millisecond), backoff.WithMaxElapsedTime(0))),
		wsreconnect.WithOnConnect(func(ctx context.Context, conn *wsreconnect.Conn) error {
			say("client  connected")
			connected <- struct{}{}
			return nil
		}),
		wsreconnect.WithOnDisconnect(func(d wsreconnect.Disconnect, a wsreconnect.Action) {
			if d.StatusCode != 0 {
				say("client  handshake refused with HTTP %d -> %s (a 401 is retried once with fresh headers)", d.StatusCode, a)
				return
			}
			say("client  disconnected: %s %q -> %s", d.Code, d.Reason, a)
		}),
	)
	if err != nil {
		return err
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		select {
		case <-connected:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	say("client  reconnected with fresh credentials; closing")
	return c.Close()
}

// startServer accepts only a valid token (the newest, unexpired), and
// after a moment expires the first connection's token and closes that
// connection with 3000.
func startServer(issuer *tokens) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var mu sync.Mutex
	conns := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		if len(tok) < 7 || !issuer.valid(tok[7:]) {
			say("server  refusing an expired token with 401")
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		}
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		mu.Lock()
		conns++
		n := conns
		mu.Unlock()
		if n == 1 {
			time.AfterFunc(300*time.Millisecond, func() {
				say("issuer  %s has expired", issuer.expire())
				say("server  token expired: closing with 3000")
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(3000, "token expired"), time.Now().Add(time.Second))
			})
		}
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/feed", func() { srv.Close() }, nil
}
