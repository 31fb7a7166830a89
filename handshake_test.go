package wsreconnect

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// handshakes collects what the OnHandshake hook sees.
func handshakes() (Option, <-chan Handshake) {
	ch := make(chan Handshake, 16)
	return WithOnHandshake(func(h Handshake) { ch <- h }), ch
}

func nextHandshake(t *testing.T, ch <-chan Handshake) Handshake {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no OnHandshake call within 10s")
		return Handshake{}
	}
}

func TestOnHandshakeTimesEachAttemptAndSeesRefusals(t *testing.T) {
	srv := wstest.NewServer(t,
		wstest.RefuseHandshake(1, http.StatusServiceUnavailable, "1"),
		wstest.WithUpgrader(websocket.Upgrader{Subprotocols: []string{"chat.v2"}}),
	)
	opt, ch := handshakes()
	d := *websocket.DefaultDialer
	d.Subprotocols = []string{"chat.v1", "chat.v2"}
	var resp *http.Response
	c, err := Dial(ctxTimeout(t), srv.URL+"/feed?token=SECRET", testOptions(opt, WithDialer(&d),
		WithOnConnect(func(_ context.Context, conn *Conn) error {
			resp = conn.Response()
			return nil
		}))...)
	require.NoError(t, err)
	defer c.Close()

	refused := nextHandshake(t, ch)
	assert.Equal(t, 1, refused.Attempt)
	assert.Equal(t, http.StatusServiceUnavailable, refused.StatusCode)
	var he *HandshakeError
	require.True(t, errors.As(refused.Err, &he), "Err = %v", refused.Err)
	assert.Equal(t, time.Second, he.RetryAfter)
	assert.Equal(t, "1", refused.Header.Get("Retry-After"))
	assert.NotContains(t, refused.URL, "SECRET")
	assert.Equal(t, strings.TrimPrefix(srv.URL, "ws://"), strings.TrimPrefix(strings.TrimSuffix(refused.URL, "/feed"), "ws://"))

	ok := nextHandshake(t, ch)
	assert.Equal(t, 2, ok.Attempt, "the attempt after a failed one")
	assert.NoError(t, ok.Err)
	assert.Equal(t, http.StatusSwitchingProtocols, ok.StatusCode)
	assert.Equal(t, "chat.v2", ok.Subprotocol)
	assert.False(t, ok.Compression, "not offered")
	assert.Nil(t, ok.TLSState, "ws://")
	assert.Zero(t, ok.DNS, "an IP address needs no lookup")
	assert.Zero(t, ok.TLS)
	assert.Positive(t, ok.Connect)
	assert.Positive(t, ok.Upgrade)
	assert.GreaterOrEqual(t, ok.Total, ok.Connect+ok.Upgrade)
	assert.False(t, ok.Start.IsZero())
	assert.Equal(t, "websocket", strings.ToLower(ok.Header.Get("Upgrade")))

	require.NotNil(t, resp, "Conn.Response in OnConnect")
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "chat.v2", resp.Header.Get("Sec-Websocket-Protocol"))
}

func TestOnHandshakeSeesCompressionAndTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{EnableCompression: true}
		if ws, err := up.Upgrade(w, r, nil); err == nil {
			hold(ws)
			ws.Close()
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	opt, ch := handshakes()
	d := *websocket.DefaultDialer
	d.TLSClientConfig = &tls.Config{RootCAs: poolOf(srv)}
	d.EnableCompression = true
	c, err := Dial(ctxTimeout(t), "wss"+strings.TrimPrefix(srv.URL, "https"), testOptions(opt, WithDialer(&d))...)
	require.NoError(t, err)
	defer c.Close()
	h := nextHandshake(t, ch)
	require.NoError(t, h.Err)
	assert.True(t, h.Compression)
	require.NotNil(t, h.TLSState)
	assert.True(t, h.TLSState.HandshakeComplete)
	assert.Positive(t, h.TLS)
	assert.Positive(t, h.Upgrade)
	assert.GreaterOrEqual(t, h.Total, h.Connect+h.TLS+h.Upgrade)
}

func TestOnHandshakeSeesANetworkError(t *testing.T) {
	opt, ch := handshakes()
	c, err := New(deadURL(t), testOptions(opt)...)
	require.NoError(t, err)
	defer c.Close()
	h := nextHandshake(t, ch)
	assert.Equal(t, 1, h.Attempt)
	assert.Zero(t, h.StatusCode)
	assert.Nil(t, h.Header)
	assert.Error(t, h.Err)
	h = nextHandshake(t, ch)
	assert.Equal(t, 2, h.Attempt)
}

func TestStatsCountsThePeersPings(t *testing.T) {
	const pings = 3
	pongs := make(chan string, pings)
	srv := wstest.NewServer(t, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
		c.WS.SetPongHandler(func(data string) error {
			pongs <- data
			return nil
		})
		for i := 0; i < pings; i++ {
			if err := c.WS.WriteControl(websocket.PingMessage, []byte{byte('a' + i)}, time.Now().Add(time.Second)); err != nil {
				return
			}
		}
		for {
			if _, _, err := c.WS.ReadMessage(); err != nil {
				return
			}
		}
	})))
	before := time.Now()
	c, err := Dial(ctxTimeout(t), srv.URL, testOptions(WithHeartbeat(0, 0))...)
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < pings; i++ {
		select {
		case got := <-pongs:
			assert.Equal(t, string(rune('a'+i)), got, "each ping is still answered, with its payload")
		case <-time.After(10 * time.Second):
			t.Fatalf("pong %d not seen within 10s", i+1)
		}
	}
	s := c.Stats()
	assert.EqualValues(t, pings, s.PingsIn)
	assert.False(t, s.LastPingIn.Before(before), "LastPingIn %v before the dial at %v", s.LastPingIn, before)
	assert.False(t, s.LastPingIn.After(time.Now()))
}

func TestStatsWithoutPeerPings(t *testing.T) {
	srv := wstest.NewServer(t)
	c, err := Dial(ctxTimeout(t), srv.URL, testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	s := c.Stats()
	assert.Zero(t, s.PingsIn)
	assert.True(t, s.LastPingIn.IsZero())
}
