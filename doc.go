// Package wsreconnect is a WebSocket client that stays connected. It dials,
// sends and receives like a plain gorilla/websocket connection, and on every
// disconnect asks a close-code-aware Policy whether to reconnect with
// backoff, abort, or shrink outgoing messages.
//
// # Overview
//
//	c, err := wsreconnect.Dial(ctx, "wss://example.com/feed")
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	err = c.Send(ctx, wsreconnect.TextMessage, []byte(`{"op":"subscribe"}`))
//	typ, data, err := c.Receive(ctx)
//
// New starts connecting in the background and returns at once; Dial also
// waits for the first connection. Receive blocks across reconnects;
// WithOnMessage instead hands each message to a function on the client's
// own goroutine, with no hand-off between goroutines. Done is
// closed when the client stops for good, and Err says why: nil after Close,
// the abort reason otherwise. State and WaitState tell where the client is;
// Stats counts connections, disconnects by code, traffic, queued and dropped
// messages; WithLogger records every decision with slog.
//
// # Authentication and endpoints
//
// WithHeaderFunc supplies fresh handshake headers (tokens) before every
// attempt; with it, an authentication failure (401, 403, close 3000, 3003,
// 4401, 4403) is retried once with fresh headers before the client aborts.
// WithURLs gives more endpoints: a failed attempt moves to the next, and the
// client returns to the one that worked.
//
// # Reconnection and the policy table
//
// Each disconnect, whether a connection that dropped or an attempt that
// failed, is described by one Disconnect and gets one Policy call and one
// OnDisconnect call. DefaultPolicy decides:
//
//	close code / event                                   action
//	1000 from the server, 1001, 1005, 1006 (drop, EOF,
//	  reset, pong timeout), 1011, 1012, 1013, 1014,
//	  3008, other 3000-4999, unknown codes               Reconnect
//	1002, 1003, 1007, 1008, 1010, 1015, 3000, 3003       Abort
//	1009 received from the peer                          Shrink, then reconnect
//	1009 from our own read limit (Disconnect.Local)      Reconnect
//	handshake 408, 429, 5xx; network errors (refused,
//	  reset, timeout, DNS)                               Reconnect
//	handshake 400, 401, 403, 404, other 4xx;
//	  TLS certificate errors                             Abort
//
// gorilla/websocket refuses to receive 1004, 1014, 1015 and 1016-2999 and
// reports a protocol error instead; the client recovers the code from that
// error, so those rows work like any other. WithCloseAction overrides one row;
// WithPolicy replaces the table (wrap DefaultPolicy to keep the rest).
//
// Delays come from a backoff.BackOff (github.com/cenkalti/backoff/v4): by
// default exponential from 1 s to 60 s with ±50% jitter on every step,
// the first one included, and no elapsed-time limit. The backoff is reset
// only after a connection stayed up for the stable period (WithStableAfter,
// default 5 s), so a server that accepts and then closes at once is not
// hammered. A Retry-After header on a refused handshake and the floor of a
// close code (WithMinDelay; 5 s for 1013 and 1014) are minimum waits: the
// client waits the floor plus the jittered backoff delay. After 1012
// (service restart) the first attempt comes soon instead, after a short
// jittered delay (WithRestartDelay, 500 ms). If a BackOff given with
// WithBackoff returns backoff.Stop the client aborts with ErrRetriesExhausted;
// WithReconnectBudget gives up with ErrReconnectBudget when no connection
// could be had for that long.
//
// Shrink handles a 1009 received from the peer, which means the peer refused
// a message of ours: the outbound limit drops to the size the close reason
// names ("over size limit (2049 > 1024 bytes)") or else to half the size of
// the largest message written on that connection, and each further 1009
// keeps lowering it. Send then fails fast with ErrMessageTooBig for anything
// larger while the connection stays up, or, with WithSplitter, sends it as
// several smaller messages. The refused message is never silently lost: it
// is in Disconnect.Refused, sent again split when there is a splitter, and
// otherwise reported to the OnDropped hook and counted in Stats.
// WithCompressionOnShrink tries compression first. Our own read limit
// (WithReadLimit, which counts decompressed bytes) is a local event and
// shrinks nothing.
//
// The heartbeat pings every 20 s and declares the peer dead when no frame
// arrives within 10 s of a ping (WithHeartbeat); that is a 1006 disconnect
// with Err wrapping ErrHeartbeatTimeout.
//
// # Concurrency
//
// All methods of Client are safe for concurrent use. Writes are serialized
// by one lock: while connected, Send writes directly under it, without
// copying the message or handing it to another goroutine. The client runs
// one long-lived goroutine, which reads and decides, plus short-lived ones:
// each dial, the writing of the queue after a reconnect, and the
// heartbeat's timer callbacks. All have ended when Close returns or, after
// an abort, when Done is closed.
//
// Hooks (WithOnConnect, WithOnMessage, WithOnDisconnect, WithOnDropped) and
// the Policy run one at a time on the client's goroutine, outside locks, and
// may call any method, Close included. A hook may run before New returns.
//
// # Delivery guarantees
//
// Send returns nil once the message is written to a live connection, or
// once it is queued while the client is down. Queued messages are written in
// order, after the OnConnect hook, when the next connection is up. The queue
// is bounded (WithSendBuffer, default 1024 messages); when it is full Send
// blocks until there is room or its context ends, and a Send whose context
// ended never writes its message later. A message whose write fails because
// the connection broke is queued again at the head. Written means handed to
// the operating system: a message written just before the connection drops
// may still be lost; confirm delivery at the application level where that
// matters. Messages still queued when the client stops are discarded and
// reported to the OnDropped hook.
//
// Received messages wait for Receive in a bounded buffer (WithReceiveBuffer,
// default 16); when it is full the client stops reading, which pushes back on
// the peer through TCP. After an abort, Receive returns the messages that
// had already arrived, then the reason.
//
// Text messages must be valid UTF-8: Send fails fast with ErrInvalidUTF8
// and keeps the connection, rather than letting the peer close with 1007
// (WithoutUTF8Check skips the check).
//
// # Limits
//
// Messages from the peer are limited to 16 MiB (WithReadLimit). Outgoing
// messages have no limit until WithMaxMessageSize sets one or a 1009 teaches
// one. Each attempt, TCP connect, TLS and upgrade together, is bounded by the
// handshake timeout (WithHandshakeTimeout, default 10 s), and Close waits at
// most the close timeout (WithCloseTimeout, default 5 s) for the peer to
// answer its close frame.
package wsreconnect
