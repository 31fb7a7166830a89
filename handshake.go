package wsreconnect

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Handshake describes one connection attempt's opening handshake, as the
// OnHandshake hook (WithOnHandshake) sees it: how long each phase took,
// what the server answered, and what was negotiated. The phase durations
// come from net/http/httptrace; a phase that did not happen is 0 (DNS for
// an IP address, TLS for ws://), as is a phase cut short by a failure.
type Handshake struct {
	// Attempt counts like Disconnect.Attempt: 1 for the first attempt
	// after a connection that stayed up (or the very first one), 2 for
	// the one after it failed, and so on.
	Attempt int
	// URL is the endpoint dialed, without credentials or query.
	URL string
	// Start is when the dial began (after the URL and header funcs).
	Start time.Time
	// DNS is the host name lookup, Connect the TCP connect, TLS the TLS
	// handshake, and Upgrade the HTTP upgrade: from the connection being
	// ready (after TLS, for wss) to the first byte of the server's answer.
	DNS, Connect, TLS, Upgrade time.Duration
	// Total is the whole attempt, from Start until the handshake completed
	// or failed.
	Total time.Duration
	// StatusCode is the HTTP status of the server's answer: 101 when the
	// handshake succeeded, the status of a refusal, 0 when no answer came
	// (a network or TLS error, a timeout).
	StatusCode int
	// Header is the header of the server's answer, nil when none came. It
	// is the response's own map: do not modify it.
	Header http.Header
	// Subprotocol is the subprotocol the server selected, "" for none.
	Subprotocol string
	// Compression reports that permessage-deflate was negotiated.
	Compression bool
	// TLSState is the state of the TLS connection for wss (version,
	// cipher, the server's certificates), nil for ws or when the TLS
	// handshake failed.
	TLSState *tls.ConnectionState
	// Err is why the attempt failed (a *HandshakeError for a refusal, a
	// network or TLS error), nil when the handshake succeeded. An attempt
	// whose handshake succeeded can still fail in OnConnect; that is
	// reported to the policy and OnDisconnect, not here.
	Err error
}

// WithOnHandshake sets a hook called after the opening handshake of every
// connection attempt, failed or not, with its timings and the server's
// answer: a diagnosis tool's view of each attempt. It runs on the client's
// goroutine like the other hooks (see "Hooks" in the package
// documentation): after a successful handshake, before OnConnect; after a
// failed one, before the policy and OnDisconnect; also for an attempt that
// failed before dialing (a URL or header func error), with zero timings.
// It is not called for an attempt that Close cut short. The timings are measured with
// net/http/httptrace only when the hook is set; without it the dial path
// costs nothing more. Default: none.
func WithOnHandshake(f func(h Handshake)) Option {
	return func(o *options) error {
		o.onHandshake = f
		return nil
	}
}

// Response returns the server's answer to this connection's opening
// handshake: status 101 Switching Protocols and its header (the body is
// empty). It stays valid after the OnConnect hook returned; do not modify
// it.
func (cn *Conn) Response() *http.Response { return cn.resp }

// handshakeTrace gathers one attempt's timings. Its httptrace callbacks may
// run on goroutines of the net package (a racing dial of happy eyeballs may
// report after the attempt is over), hence the lock.
type handshakeTrace struct {
	mu                                 sync.Mutex
	h                                  Handshake
	dnsStart, connStart, tlsStart, rdy time.Time
	firstByte                          time.Time
	tlsState                           *tls.ConnectionState
}

// newTrace returns a trace for the attempt, or nil when no OnHandshake hook
// wants one.
func (c *Client) newTrace(attempt int) *handshakeTrace {
	if c.opts.onHandshake == nil {
		return nil
	}
	return &handshakeTrace{h: Handshake{Attempt: attempt}}
}

// attach starts the clock and returns ctx carrying the trace's callbacks;
// a nil trace returns ctx unchanged.
func (t *handshakeTrace) attach(ctx context.Context) context.Context {
	if t == nil {
		return ctx
	}
	t.h.Start = time.Now()
	at := func(p *time.Time) {
		t.mu.Lock()
		if p.IsZero() {
			*p = time.Now()
		}
		t.mu.Unlock()
	}
	since := func(d *time.Duration, from *time.Time) {
		now := time.Now()
		t.mu.Lock()
		if !from.IsZero() {
			*d = now.Sub(*from)
		}
		t.mu.Unlock()
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { at(&t.dnsStart) },
		DNSDone:           func(httptrace.DNSDoneInfo) { since(&t.h.DNS, &t.dnsStart) },
		ConnectStart:      func(string, string) { at(&t.connStart) },
		ConnectDone:       func(_, _ string, err error) { since(&t.h.Connect, &t.connStart) },
		GotConn:           func(httptrace.GotConnInfo) { at(&t.rdy) },
		TLSHandshakeStart: func() { at(&t.tlsStart) },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			since(&t.h.TLS, &t.tlsStart)
			t.mu.Lock()
			if err == nil {
				t.tlsState = &cs
			}
			t.rdy = time.Now() // the upgrade starts once TLS is done
			t.mu.Unlock()
		},
		GotFirstResponseByte: func() { at(&t.firstByte) },
	})
}

// reportHandshake runs the OnHandshake hook for a finished attempt, unless
// the client stopped meanwhile.
func (c *Client) reportHandshake(t *handshakeTrace, ws *websocket.Conn, resp *http.Response, url string, err error) {
	if t == nil || c.ctx.Err() != nil {
		return
	}
	end := time.Now()
	t.mu.Lock()
	h := t.h
	if !t.rdy.IsZero() {
		upTo := t.firstByte
		if upTo.IsZero() {
			upTo = end
		}
		h.Upgrade = max(upTo.Sub(t.rdy), 0)
	}
	h.TLSState = t.tlsState
	t.mu.Unlock()
	h.URL = redactRaw(url)
	if !h.Start.IsZero() {
		h.Total = end.Sub(h.Start)
	}
	if resp != nil {
		h.StatusCode = resp.StatusCode
		h.Header = resp.Header
		for _, ext := range resp.Header.Values("Sec-Websocket-Extensions") {
			if strings.Contains(ext, "permessage-deflate") {
				h.Compression = true
			}
		}
	}
	if ws != nil {
		h.Subprotocol = ws.Subprotocol()
	}
	if err != nil {
		h.Err = dialFailure(resp, err).Err
	}
	c.hook(func() { c.opts.onHandshake(h) })
}

// countPings counts the peer's pings on ws (Stats.PingsIn, LastPingIn) and
// still answers them as ws did.
func (c *Client) countPings(ws *websocket.Conn) {
	answer := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		c.stats.pingsIn.Add(1)
		c.stats.lastPingIn.Store(time.Now().UnixNano())
		return answer(data)
	})
}
