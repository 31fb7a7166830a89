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
// waits for the first connection. Receive blocks across reconnects; with a
// context that cannot be canceled (context.Background) it reads the
// connection on the caller's goroutine while it is the one waiting.
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
//	1002, 1003, 1007, 1008, 1010, 1015, 3000, 3003,
//	  4401, 4403                                         Abort
//	1009 received from the peer                          Shrink, then reconnect
//	1009 from our own read limit (Disconnect.Local)      Reconnect
//	handshake 408, 429, 5xx; network errors (refused,
//	  reset, timeout, DNS)                               Reconnect
//	handshake 400, 401, 403, 404, other 4xx;
//	  TLS certificate errors                             Abort
//	an error wrapped by backoff.Permanent (OnConnect,
//	  header func)                                       Abort
//
// gorilla/websocket refuses to receive some codes (1004, 1005, 1006, 1014,
// 1015, 1016-2999, and anything outside 1000-4999): it answers the peer
// with 1002 and reports a plain "bad close code" error. The client recovers
// the code from that error and the table decides: 1014 reconnects, 1015
// aborts, 1004 and 1016-2999 are unknown codes and reconnect; a code
// outside 1000-4999 is reported as 1002 and aborts. A close frame whose
// reason is not valid UTF-8 loses its code the same way; the client reads
// it as 1002 (and aborts) rather than as a drop, so that a server that
// closed with 1008 and a bad reason is not dialed again and again.
// WithCloseAction overrides one row; WithPolicy replaces the table (wrap
// DefaultPolicy to keep the rest). With several endpoints (WithURLs) a
// refused handshake aborts only once every endpoint refused in a row.
//
// Delays come from a backoff.BackOff (github.com/cenkalti/backoff/v4): by
// default exponential from 1 s, capped at 60 s before ±50% jitter (so a
// wait reaches 90 s), with jitter on every step, the first one included,
// and no elapsed-time limit. The backoff is reset
// only after a connection stayed up for the stable period (WithStableAfter,
// default 5 s), so a server that accepts and then closes at once is not
// hammered. A Retry-After header on a refused handshake and the floor of a
// close code (WithMinDelay; 5 s for 1013 and 1014) are minimum waits: the
// client waits the floor plus the jittered backoff delay. A floor longer
// than MaxServerDelay (1 h) is cut to it and logged at Warn level, and all
// delay arithmetic saturates: no input makes a wait negative. After a 1012
// (service restart) that ends a connection that had been stable (Attempt
// 1), the next attempt comes soon instead, after a short jittered delay
// (WithRestartDelay, 500 ms); a server that keeps answering 1012 gets the
// ordinary backoff. If a BackOff given with
// WithBackoff returns backoff.Stop the client aborts with ErrRetriesExhausted;
// WithReconnectBudget gives up with ErrReconnectBudget when no connection
// could be had for that long.
//
// Shrink handles a 1009 received from the peer, which means the peer refused
// a message of ours: the outbound limit drops to the size the close reason
// names ("over size limit (2049 > 1024 bytes)", "max 1 MB", "limit 64KiB";
// a named limit under 64 bytes, under a thousandth of the refused size, or
// not below it, is ignored) or else to half the size of the largest
// message written on that connection, and each further 1009 keeps lowering
// it. Send then fails fast with ErrMessageTooBig for anything larger while
// the connection stays up, or, with WithSplitter, sends it as several
// smaller messages. WithCompressionOnShrink tries compression first. Our
// own read limit (WithReadLimit, which counts decompressed bytes) is a
// local event and shrinks nothing.
//
// Which message was refused: the peer does not say, so the client takes it
// to be the first message of the largest size written in full on that
// connection (the earliest of equal size; the parts of a split message
// count by their own size and stand for their whole message). A message
// whose write failed midway is still queued; if it is larger than any
// written in full, it is the one taken to be refused, and it is split again
// or dropped like any queued message over the new limit. The refused
// message is never silently lost: it is in Disconnect.Refused, sent again
// (split, ahead of the queue) when there is a splitter, and otherwise
// reported to the OnDropped hook and counted in Stats. Other messages
// written on that connection after it are in flight on a connection that
// ended (see Delivery guarantees).
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
// one long-lived goroutine, which dials, reads, decides and runs the hooks,
// plus short-lived ones: each dial, the reading of a new connection
// while it is set up, the heartbeat's timer callbacks, and the header func. All but
// a header func that ignores its ctx have ended when Done is closed.
//
// # Hooks
//
// The hooks are the Policy, OnConnect, OnMessage, OnDisconnect, OnDropped,
// OnStateChange and OnHandshake. They run only on the client's goroutine, one at a
// time, outside locks, in the order of the events. The header func and the
// URL func are not hooks (each runs on a goroutine of its own, and Close
// does not wait for it), nor are the splitter and Acks.ID and Acks.Acked
// (they run where the parts are written or the messages read, and must not
// call the Client). A hook may run before New returns.
//
// Close called from any other goroutine returns after Done is closed: no
// hook is running and none will start. Close called from a hook returns at
// once, and the client stops when the hook returns; so a hook must not wait
// for another goroutine that calls Close. A panic in a hook, the policy,
// the splitter or the header func is not recovered: it would hide a bug and
// leave the application's own locks in an unknown state.
//
// A hook may call any method of the Client. Nothing a hook calls waits for
// the client's goroutine (which is busy running the hook): what would wait
// returns ErrWouldBlock instead. In each hook:
//
//	method          Policy      OnConnect   OnMessage   OnDisconnect       OnDisconnect    OnDropped
//	                                                    (reconnect/shrink) (abort)         (at stop)
//	State           as before   connecting  current     waiting            closed          closed
//	Err             nil         nil         nil         nil                the reason      nil or reason
//	Send            queues (a)  queues (a)  writes (b)  queues (a)         ErrClosed+reason ErrClosed
//	Receive         (c)         (c)         (c)         (c)                (d)             ErrClosed (e)
//	WaitState(s)    nil if in s, else ErrWouldBlock; WaitState(StateClosed) after an abort: nil
//	Close           returns nil at once; the client stops when the hook returns
//	CloseWith       as Close
//	Flush           nil if nothing is queued (or unacknowledged), else ErrWouldBlock
//	Reconnect       as anywhere: it never waits (in OnConnect: nothing to do)
//	Ping            while connected ErrWouldBlock (the pong needs the reader,
//	                which the hook holds), else as anywhere: ErrNotConnected while
//	                down (OnConnect included), ErrClosed after the stop
//	Stats           a snapshot, as anywhere
//	Done            open: it is closed after the last hook returned
//
// OnStateChange runs right after the change it reports, and OnHandshake
// right after each attempt's handshake; the methods answer in them as in
// the hook that follows (for a change to StateClosed, as in
// OnDropped at stop). In OnConnect, conn.Receive waits for the next
// message of that connection, bounded by its ctx.
//
//	(a) into the queue while it has room, else ErrWouldBlock at once.
//	(b) on the live connection; while the queue is being written after a
//	    reconnect, as (a).
//	(c) a message already waiting for Receive, else ErrWouldBlock at once.
//	(d) the messages that arrived before the abort, then an error wrapping
//	    ErrClosed and the reason, without waiting for Done.
//	(e) after Close; after an abort, as (d).
//
// "As before" is the state when the disconnect happened: connected for a
// connection that ended, connecting for a failed attempt.
//
// # Delivery guarantees
//
// The default is at most once; WithAcks gives at least once (below). Send returns nil once the message is written
// to a live connection, or once it is queued while the client is down.
// Queued messages are written in order, after the OnConnect hook, when the
// next connection is up. The queue is bounded (WithSendBuffer, default 1024
// messages); when it is full Send blocks until there is room or its context
// ends, and a Send whose context ended never writes its message later. A
// message whose write fails because the connection broke is queued again at
// the head. Written means handed to the operating system: messages written
// just before a connection ends may still be lost in flight; confirm
// delivery at the application level where that matters. Messages still
// queued when the client stops are discarded and reported to the OnDropped
// hook before Close returns.
//
// The queue is bounded by messages and by bytes (WithSendBufferBytes,
// default 8 MiB; one larger message is admitted when the queue is empty).
// WithQueueOverflow chooses what a Send finding it full does: wait (the
// default), fail at once with ErrQueueFull, or drop the oldest queued
// message, whole, to OnDropped. WithMaxQueueAge drops, instead of writing
// after the reconnect, queued messages older than a bound (OnDropped gets
// ErrExpired). WithoutQueue turns the queue off: Send fails fast with an
// error wrapping ErrNotConnected while the client is down. Flush waits
// until everything queued so far has been written; Flush then Close is a
// graceful drain.
//
// At least once, with WithAcks: the application's messages carry sequence
// numbers (Acks.ID) and the peer acknowledges them cumulatively
// (Acks.Acked). A tracked message Send accepted is, from then on, either
// acknowledged by the peer, or reported to OnDropped (older than
// WithMaxQueueAge, over a limit it cannot be split to, or unacknowledged
// when the client stopped; the error wraps ErrUnacknowledged when the
// message had been written, so it may have arrived), or still in the client, queued or in the
// replay window. Nothing accepted is lost silently, whatever the
// connection does: after every reconnect the unacknowledged messages are
// written again, in order, before the queue. A message may therefore
// reach the peer more than once (its sequence number lets the peer drop
// the duplicate), and the window is in memory: a crash of the application
// loses it. Untracked messages (Acks.ID reports false) stay at most once.
//
// A split message (WithSplitter) goes out on one connection as a complete,
// contiguous series. If that connection ends midway, the whole message is
// sent again on the next connection: the peer must discard a series left
// incomplete when its connection ended. Whatever drops queued messages
// drops whole messages, never a tail of parts.
//
// Received messages wait for Receive in a bounded buffer (WithReceiveBuffer,
// default 16). When it is full the client reads on into an overflow of at
// most 64 messages or 64 KiB (plus the message that did not fit), which
// keeps pings answered and lets a close frame shortly behind the backlog
// end the connection; a close frame behind more unread data than that is
// seen when the application catches up. Then the client stops reading,
// which pushes back on the peer through TCP. The heartbeat is paused while
// the application holds the reader up, and a stall of any length does not
// end the connection by itself (a slow consumer must not cause reconnect
// loops; the peer's own timeouts decide); a failed write or Close ends it
// at once, and the waiting messages stay first in line for Receive. After
// an abort, Receive returns the messages that had already arrived, then
// the reason.
//
// Text messages must be valid UTF-8: Send fails fast with ErrInvalidUTF8
// and keeps the connection, rather than letting the peer close with 1007
// (WithoutUTF8Check skips the check).
//
// # Limits
//
// Messages from the peer are limited to 16 MiB (WithReadLimit, at most
// MaxReadLimit, 1 GiB). Outgoing messages have no limit until
// WithMaxMessageSize sets one (at most MaxMessageSizeLimit, 1 GiB) or a
// 1009 teaches one. The send queue holds at most MaxSendBuffer messages and
// the receive buffer MaxReceiveBuffer; New rejects larger sizes. Each
// attempt, TCP connect, TLS and upgrade together, is bounded by the
// handshake timeout (WithHandshakeTimeout, default 10 s), and Close waits
// at most the close timeout (WithCloseTimeout, default 5 s) for the peer to
// answer its close frame.
package wsreconnect
