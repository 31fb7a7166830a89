package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHookMethodMatrix checks the table of doc.go's "Hooks" section: for
// every hook, what each method returns there. Nothing called from a hook
// may wait for the client's goroutine.
func TestHookMethodMatrix(t *testing.T) {
	t.Parallel()
	// call runs every method from inside a hook and describes the results.
	type results map[string]string
	describe := func(err error) string {
		switch {
		case err == nil:
			return "nil"
		case errors.Is(err, ErrWouldBlock):
			return "ErrWouldBlock"
		case errors.Is(err, ErrNotConnected):
			return "ErrNotConnected"
		case errors.Is(err, ErrClosed):
			var ce *CloseError
			if errors.As(err, &ce) {
				return fmt.Sprintf("ErrClosed+%d", ce.Code)
			}
			return "ErrClosed"
		default:
			return "error: " + err.Error()
		}
	}
	call := func(t *testing.T, c *Client, other State) results {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		r := results{}
		r["State"] = c.State().String()
		r["Err"] = describe(c.Err())
		r["Send"] = describe(c.Send(ctx, TextMessage, []byte("from hook")))
		r["Send again"] = describe(c.Send(ctx, TextMessage, []byte("from hook")))
		var got []string
		for range 3 {
			_, data, err := c.Receive(ctx)
			if err != nil {
				got = append(got, describe(err))
				break
			}
			got = append(got, string(data))
		}
		r["Receive"] = strings.Join(got, ",")
		r["WaitState(current)"] = describe(c.WaitState(ctx, c.State()))
		r["WaitState(other)"] = describe(c.WaitState(ctx, other))
		r["WaitState(closed)"] = describe(c.WaitState(ctx, StateClosed))
		r["Flush"] = describe(c.Flush(ctx))
		_, err := c.Ping(ctx)
		r["Ping"] = describe(err)
		r["Reconnect"] = describe(c.Reconnect(4000, "from a hook"))
		select {
		case <-c.Done():
			r["Done"] = "closed"
		default:
			r["Done"] = "open"
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the calls took %s: something waited", d)
		}
		return r
	}
	type row struct {
		name   string
		server func(n int, ws *websocket.Conn)
		opts   func(hook func()) []Option
		close  bool // Close from the test once the client is up
		want   results
	}
	sendThenClose := func(code int) func(int, *websocket.Conn) {
		return func(n int, ws *websocket.Conn) {
			if n > 1 {
				hold(ws)
				return
			}
			ws.WriteMessage(websocket.TextMessage, []byte("m1"))
			closeWith(ws, code, "bye")
		}
	}
	rows := []row{
		{
			name:   "OnConnect",
			server: func(_ int, ws *websocket.Conn) { hold(ws) },
			opts: func(hook func()) []Option {
				return []Option{WithSendBuffer(1), WithOnConnect(func(context.Context, *Conn) error { hook(); return nil })}
			},
			want: results{"Flush": "ErrWouldBlock", "Ping": "ErrNotConnected", "Reconnect": "nil", "State": "connecting", "Err": "nil", "Send again": "ErrWouldBlock", "Send": "nil", "Receive": "ErrWouldBlock",
				"WaitState(current)": "nil", "WaitState(other)": "ErrWouldBlock", "WaitState(closed)": "ErrWouldBlock", "Done": "open"},
		},
		{
			name: "OnMessage",
			server: func(_ int, ws *websocket.Conn) {
				ws.ReadMessage() // the test's go-ahead, sent once connected
				ws.WriteMessage(websocket.TextMessage, []byte("m1"))
				hold(ws)
			},
			opts: func(hook func()) []Option {
				return []Option{WithOnMessage(func(MessageType, []byte) { hook() })}
			},
			want: results{"Flush": "nil", "Ping": "ErrWouldBlock", "Reconnect": "nil", "State": "connected", "Err": "nil", "Send again": "nil", "Send": "nil", "Receive": "ErrWouldBlock",
				"WaitState(current)": "nil", "WaitState(other)": "ErrWouldBlock", "WaitState(closed)": "ErrWouldBlock", "Done": "open"},
		},
		{
			name:   "Policy",
			server: sendThenClose(1001),
			opts: func(hook func()) []Option {
				return []Option{WithPolicy(func(d Disconnect) Action { hook(); return DefaultPolicy(d) })}
			},
			want: results{"Flush": "ErrWouldBlock", "Ping": "ErrNotConnected", "Reconnect": "nil", "State": "connected", "Err": "nil", "Send again": "nil", "Send": "nil", "Receive": "m1,ErrWouldBlock",
				"WaitState(current)": "nil", "WaitState(other)": "ErrWouldBlock", "WaitState(closed)": "ErrWouldBlock", "Done": "open"},
		},
		{
			name:   "OnDisconnect, reconnect",
			server: sendThenClose(1001),
			opts: func(hook func()) []Option {
				return []Option{WithOnDisconnect(func(Disconnect, Action) { hook() })}
			},
			want: results{"Flush": "ErrWouldBlock", "Ping": "ErrNotConnected", "Reconnect": "nil", "State": "waiting", "Err": "nil", "Send again": "nil", "Send": "nil", "Receive": "m1,ErrWouldBlock",
				"WaitState(current)": "nil", "WaitState(other)": "ErrWouldBlock", "WaitState(closed)": "ErrWouldBlock", "Done": "open"},
		},
		{
			name:   "OnDisconnect, abort",
			server: sendThenClose(1008),
			opts: func(hook func()) []Option {
				return []Option{WithOnDisconnect(func(Disconnect, Action) { hook() })}
			},
			want: results{"Flush": "ErrClosed+1008", "Ping": "ErrClosed+1008", "Reconnect": "ErrClosed+1008", "State": "closed", "Err": "error: close 1008 (policy violation): bye", "Send again": "ErrClosed+1008", "Send": "ErrClosed+1008", "Receive": "m1,ErrClosed+1008",
				"WaitState(current)": "nil", "WaitState(other)": "ErrClosed+1008", "WaitState(closed)": "nil", "Done": "open"},
		},
		{
			name:   "OnStateChange, to connected",
			server: func(_ int, ws *websocket.Conn) { hold(ws) },
			opts: func(hook func()) []Option {
				return []Option{WithOnStateChange(func(_, to State) {
					if to == StateConnected {
						hook()
					}
				})}
			},
			want: results{"Flush": "nil", "Ping": "ErrWouldBlock", "Reconnect": "nil", "State": "connected", "Err": "nil", "Send again": "nil", "Send": "nil", "Receive": "ErrWouldBlock",
				"WaitState(current)": "nil", "WaitState(other)": "ErrWouldBlock", "WaitState(closed)": "ErrWouldBlock", "Done": "open"},
		},
		{
			name: "OnDropped, at Close",
			opts: func(hook func()) []Option {
				return []Option{WithOnDropped(func(MessageType, []byte, error) { hook() })}
			},
			close: true,
			want: results{"Flush": "ErrClosed", "Ping": "ErrClosed", "Reconnect": "ErrClosed", "State": "closed", "Err": "nil", "Send again": "ErrClosed", "Send": "ErrClosed", "Receive": "ErrClosed",
				"WaitState(current)": "nil", "WaitState(other)": "ErrClosed", "WaitState(closed)": "nil", "Done": "open"},
		},
	}
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *testServer
			if tt.server != nil {
				srv = newTestServer(t, func(s *testServer) { s.handle = tt.server })
			} else {
				srv = newTestServer(t, func(s *testServer) {
					s.refuse = func(_ int, w http.ResponseWriter) bool {
						http.Error(w, "down", http.StatusServiceUnavailable)
						return true
					}
				})
			}
			ref := newClientRef()
			var once sync.Once
			got := make(chan results, 1)
			closed := make(chan struct{})
			hook := func() {
				once.Do(func() {
					c := ref.get()
					other := StateWaiting
					if c.State() == StateWaiting {
						other = StateConnected
					}
					got <- call(t, c, other)
					c.Close() // from a hook: returns at once
					close(closed)
				})
			}
			c, err := New(srv.url(), testOptions(tt.opts(hook)...)...)
			require.NoError(t, err)
			ref.set(c)
			if tt.name == "OnMessage" {
				require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
				require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("go")))
			}
			if tt.close {
				require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("queued")))
				require.NoError(t, c.Close())
			}
			select {
			case r := <-got:
				assert.Equal(t, tt.want, r)
			case <-time.After(10 * time.Second):
				t.Fatal("the hook did not run")
			}
			<-closed
			waitClosed(t, c)
		})
	}
}
