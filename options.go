package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
)

// Defaults used when the corresponding option is not given.
const (
	DefaultPingInterval     = 20 * time.Second
	DefaultPongTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadLimit        = 16 << 20
	DefaultSendBuffer       = 1024
	DefaultSendBufferBytes  = 8 << 20
	DefaultReceiveBuffer    = 16
	DefaultStableAfter      = 5 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultTryAgainDelay    = 5 * time.Second
	DefaultRestartDelay     = 500 * time.Millisecond
)

// MaxServerDelay is the most the client waits because a server told it to:
// a Retry-After header on a refused handshake, or the floor set for a close
// code with WithMinDelay. Longer waits are cut to it and logged at Warn
// level. The backoff step is added to such a wait, so the whole wait is at
// most MaxServerDelay plus one backoff step.
const MaxServerDelay = time.Hour

// Maxima of the size options. New and Dial reject a larger value.
const (
	// MaxReceiveBuffer is the most messages WithReceiveBuffer accepts: 65536.
	MaxReceiveBuffer = 65536
	// MaxSendBuffer is the most messages WithSendBuffer accepts: 1 << 20.
	MaxSendBuffer = 1 << 20
	// MaxSendBufferBytes is the largest byte bound WithSendBufferBytes
	// accepts: 1 << 30 (1 GiB).
	MaxSendBufferBytes = 1 << 30
	// MaxReadLimit is the largest limit WithReadLimit accepts, in bytes:
	// 1 << 30 (1 GiB).
	MaxReadLimit = 1 << 30
	// MaxMessageSizeLimit is the largest limit WithMaxMessageSize accepts,
	// in bytes: 1 << 30 (1 GiB).
	MaxMessageSizeLimit = 1 << 30
)

// An Option configures a Client. Options are checked by New and Dial: a bad
// value is reported there, never later.
type Option func(*options) error

type options struct {
	backoff          backoff.BackOff
	policy           Policy
	closeActions     map[CloseCode]Action
	minDelays        map[CloseCode]time.Duration
	pingInterval     time.Duration
	pongTimeout      time.Duration
	handshakeTimeout time.Duration
	dialer           websocket.Dialer
	header           http.Header
	readLimit        int64
	readAhead        bool // the dialer's read buffer is the package's small one, see buffers.go
	maxMessageSize   int
	sendBuffer       int
	sendBufferBytes  int
	overflow         QueueOverflow
	maxQueueAge      time.Duration
	noQueue          bool
	acks             *Acks
	onStateChange    func(from, to State)
	urlFunc          func(ctx context.Context, attempt int) (string, error)
	shuffle          bool
	receiveBuffer    int
	onConnect        func(ctx context.Context, conn *Conn) error
	onHandshake      func(h Handshake)
	onDisconnect     func(d Disconnect, a Action)
	onMessage        func(typ MessageType, data []byte)
	logger           *slog.Logger
	stableAfter      time.Duration
	closeTimeout     time.Duration
	restartDelay     time.Duration
	budget           time.Duration
	headerFunc       func(ctx context.Context) (http.Header, error)
	urls             []string
	splitter         func(data []byte, limit int) ([][]byte, error)
	onDropped        func(typ MessageType, data []byte, err error)
	compressOnShrink bool
	skipUTF8Check    bool
	writePool        websocket.BufferPool
}

// defaultMinDelays is shared by every client until WithMinDelay copies it.
var defaultMinDelays = map[CloseCode]time.Duration{
	CloseTryAgainLater: DefaultTryAgainDelay,
	CloseBadGateway:    DefaultTryAgainDelay,
}

func defaultOptions() options {
	return options{
		policy:           DefaultPolicy,
		minDelays:        defaultMinDelays,
		pingInterval:     DefaultPingInterval,
		pongTimeout:      DefaultPongTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		dialer:           *websocket.DefaultDialer,
		readLimit:        DefaultReadLimit,
		sendBuffer:       DefaultSendBuffer,
		sendBufferBytes:  DefaultSendBufferBytes,
		receiveBuffer:    DefaultReceiveBuffer,
		logger:           slog.New(slog.DiscardHandler),
		stableAfter:      DefaultStableAfter,
		closeTimeout:     DefaultCloseTimeout,
		restartDelay:     DefaultRestartDelay,
	}
}

// nonNegative sets *dst to d, or reports a negative d for option name.
func nonNegative(name string, d time.Duration, dst *time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: negative duration %s", name, d)
	}
	*dst = d
	return nil
}

// positive sets *dst to d, or reports a d that is not positive.
func positive(name string, d time.Duration, dst *time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s: duration must be positive, got %s", name, d)
	}
	*dst = d
	return nil
}

// NewDefaultBackoff returns the backoff a Client uses unless WithBackoff
// replaces it: exponential from 1 s, multiplier 1.6, capped at 60 s before
// jitter, with ±50% jitter on every step including the first (so real waits
// reach 90 s), and no elapsed-time limit (MaxElapsedTime 0), so the client
// never gives up on its own.
func NewDefaultBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(time.Second),
		backoff.WithMultiplier(1.6),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(60*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	return b
}

// WithBackoff sets the delays between reconnection attempts. The Client
// owns b from then on (a BackOff is not safe for concurrent use): it calls
// Reset when it starts and after every connection that stayed up for the
// stable period (WithStableAfter). When b returns backoff.Stop the client
// aborts with ErrRetriesExhausted. Note that backoff.NewExponentialBackOff
// stops after 15 minutes unless its MaxElapsedTime is set to 0.
// Default: NewDefaultBackoff().
func WithBackoff(b backoff.BackOff) Option {
	return func(o *options) error {
		if b == nil {
			return errors.New("WithBackoff: nil BackOff")
		}
		o.backoff = b
		return nil
	}
}

// WithPolicy sets the policy that decides, per disconnect, whether to
// reconnect, abort or shrink. Default: DefaultPolicy.
func WithPolicy(p Policy) Option {
	return func(o *options) error {
		if p == nil {
			return errors.New("WithPolicy: nil Policy")
		}
		o.policy = p
		return nil
	}
}

// WithCloseAction overrides one row of the policy: a disconnect with close
// code code gets action a, whatever the policy says. It may be given several
// times. Default: none.
func WithCloseAction(code CloseCode, a Action) Option {
	return func(o *options) error {
		if code < 1000 || code > 4999 {
			return fmt.Errorf("WithCloseAction: close code %d out of range 1000-4999", code)
		}
		if a != Reconnect && a != Abort && a != Shrink {
			return fmt.Errorf("WithCloseAction: invalid action %d", a)
		}
		if o.closeActions == nil {
			o.closeActions = make(map[CloseCode]Action)
		}
		o.closeActions[code] = a
		return nil
	}
}

// WithMinDelay sets a floor on the wait before reconnecting after a close
// with code code: the client waits d plus the jittered backoff delay. It may
// be given several times; d of 0 removes a floor. Any non-negative d is
// accepted, but a floor above MaxServerDelay is cut to MaxServerDelay when
// it is used (and the cut is logged at Warn level). Default: 5 s for 1013
// (try again later) and 1014 (bad gateway), none for other codes.
func WithMinDelay(code CloseCode, d time.Duration) Option {
	return func(o *options) error {
		if code < 1000 || code > 4999 {
			return fmt.Errorf("WithMinDelay: close code %d out of range 1000-4999", code)
		}
		if d < 0 {
			return fmt.Errorf("WithMinDelay: negative delay %s", d)
		}
		delays := make(map[CloseCode]time.Duration, len(o.minDelays)+1)
		for k, v := range o.minDelays {
			delays[k] = v
		}
		delays[code] = d
		o.minDelays = delays
		return nil
	}
}

// WithHeartbeat sets how often the client pings the peer and how long it
// waits for a pong (or any other frame) before declaring the connection dead
// and reconnecting (Disconnect.Code 1006, Err ErrHeartbeatTimeout).
// WithHeartbeat(0, 0) turns the heartbeat off. Default: ping every 20 s,
// timeout 10 s.
//
// Ping times are rounded down to a grid of the process's clock, a step of
// interval/200 and at most 100 ms, so that the pings of a process's many
// clients fall on few instants and the process wakes once for all that are
// due: a ping may come up to one step early, never late.
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(o *options) error {
		if interval < 0 || timeout < 0 {
			return fmt.Errorf("WithHeartbeat: negative duration (interval %s, timeout %s)", interval, timeout)
		}
		if (interval == 0) != (timeout == 0) {
			return fmt.Errorf("WithHeartbeat: interval %s and timeout %s must both be positive, or both 0 to disable", interval, timeout)
		}
		o.pingInterval, o.pongTimeout = interval, timeout
		return nil
	}
}

// WithHandshakeTimeout bounds one connection attempt: TCP connect, TLS and
// the HTTP upgrade. Default: 10 s.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) error { return positive("WithHandshakeTimeout", d, &o.handshakeTimeout) }
}

// WithDialer sets the gorilla dialer used for every attempt: TLS config,
// proxy, subprotocols, compression, buffer sizes and write buffer pool. The
// dialer is copied; its HandshakeTimeout is superseded by
// WithHandshakeTimeout. Default: a copy of websocket.DefaultDialer.
//
// Buffers: when the dialer leaves ReadBufferSize at 0, gorilla's read
// buffer is 128 bytes (enough for frame headers) and a ws:// connection
// reads ahead into a 16 KiB buffer from a pool the package shares, held
// while data is arriving; when it leaves WriteBufferSize and
// WriteBufferPool unset, writes go through pooled 64 KiB buffers (see
// WithWriteBufferPool). So an idle connection holds neither (but right
// after a burst that ended on a 16 KiB boundary, when the read ahead waits
// holding its buffer until the next bytes). Set
// ReadBufferSize or WriteBufferSize to keep gorilla's per-connection
// buffers of those sizes instead.
func WithDialer(d *websocket.Dialer) Option {
	return func(o *options) error {
		if d == nil {
			return errors.New("WithDialer: nil Dialer")
		}
		o.dialer = *d
		return nil
	}
}

// WithHeader sets HTTP headers sent with every opening handshake. The header
// is copied. Headers the handshake sets itself (Upgrade, Connection,
// Sec-WebSocket-Key, Sec-WebSocket-Version, Sec-WebSocket-Extensions) are
// rejected, in any letter case. Default: none.
func WithHeader(h http.Header) Option {
	return func(o *options) error {
		if err := checkHeader(h); err != nil {
			return fmt.Errorf("WithHeader: %w", err)
		}
		o.header = h.Clone()
		return nil
	}
}

// WithReadLimit sets the largest message the client accepts from the peer,
// in bytes. A larger message closes the connection with 1009 and, by the
// default policy, reconnects. n must be in 1..MaxReadLimit (1 GiB).
// Default: 16 MiB.
func WithReadLimit(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithReadLimit: limit must be positive, got %d", n)
		}
		if n > MaxReadLimit {
			return fmt.Errorf("WithReadLimit: limit %d over the maximum MaxReadLimit (%d bytes)", n, MaxReadLimit)
		}
		o.readLimit = n
		return nil
	}
}

// WithMaxMessageSize sets the outbound limit: Send fails fast with
// ErrMessageTooBig for a larger message. A 1009 received from the peer
// lowers it (the Shrink action). n must be in 0..MaxMessageSizeLimit
// (1 GiB). Default: 0, no limit until a 1009 teaches one.
func WithMaxMessageSize(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("WithMaxMessageSize: negative size %d", n)
		}
		if n > MaxMessageSizeLimit {
			return fmt.Errorf("WithMaxMessageSize: size %d over the maximum MaxMessageSizeLimit (%d bytes)", n, MaxMessageSizeLimit)
		}
		o.maxMessageSize = n
		return nil
	}
}

// WithSendBuffer sets how many messages Send may queue while the client is
// disconnected. When the queue is full, Send blocks until there is room or
// its context ends. messages must be in 1..MaxSendBuffer (1 << 20).
// Default: 1024.
func WithSendBuffer(messages int) Option {
	return func(o *options) error {
		if messages <= 0 {
			return fmt.Errorf("WithSendBuffer: size must be positive, got %d", messages)
		}
		if messages > MaxSendBuffer {
			return fmt.Errorf("WithSendBuffer: size %d over the maximum MaxSendBuffer (%d messages)", messages, MaxSendBuffer)
		}
		o.sendBuffer = messages
		return nil
	}
}

// WithSendBufferBytes bounds the send queue by bytes as well as by
// messages: Send finds the queue full when the message would take it over n
// bytes. One message larger than n is admitted when the queue is empty, so
// that no Send waits for ever. n must be in 1..MaxSendBufferBytes (1 GiB).
// Default: 8 MiB (DefaultSendBufferBytes).
func WithSendBufferBytes(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithSendBufferBytes: size must be positive, got %d", n)
		}
		if n > MaxSendBufferBytes {
			return fmt.Errorf("WithSendBufferBytes: size %d over the maximum MaxSendBufferBytes (%d bytes)", n, MaxSendBufferBytes)
		}
		o.sendBufferBytes = n
		return nil
	}
}

// QueueOverflow is what Send does when the send queue is full.
type QueueOverflow int

const (
	// OverflowBlock makes Send wait until there is room or its ctx ends.
	// It is the default.
	OverflowBlock QueueOverflow = iota
	// OverflowFailFast makes Send return ErrQueueFull at once.
	OverflowFailFast
	// OverflowDropOldest drops the oldest queued message, whole (all its
	// parts), to make room; it goes to the OnDropped hook with
	// ErrQueueFull. While more dropped messages wait for OnDropped than
	// the queue holds, Send waits as with OverflowBlock.
	OverflowDropOldest
)

// String returns "block", "fail-fast" or "drop-oldest".
func (q QueueOverflow) String() string {
	switch q {
	case OverflowBlock:
		return "block"
	case OverflowFailFast:
		return "fail-fast"
	case OverflowDropOldest:
		return "drop-oldest"
	default:
		return "QueueOverflow(" + strconv.Itoa(int(q)) + ")"
	}
}

// WithQueueOverflow sets what Send does when the send queue is full.
// Default: OverflowBlock.
func WithQueueOverflow(mode QueueOverflow) Option {
	return func(o *options) error {
		if mode < OverflowBlock || mode > OverflowDropOldest {
			return fmt.Errorf("WithQueueOverflow: invalid mode %d", mode)
		}
		o.overflow = mode
		return nil
	}
}

// WithMaxQueueAge drops queued messages older than d instead of writing
// them after the reconnect (stale orders, stale cursor moves): each goes to
// the OnDropped hook with ErrExpired. Ages are checked when the queue is
// written and when Send needs room, not by a timer per message. With
// WithAcks it applies to the replay of unacknowledged messages too (their
// age counts from Send). Default: 0, no maximum.
func WithMaxQueueAge(d time.Duration) Option {
	return func(o *options) error { return nonNegative("WithMaxQueueAge", d, &o.maxQueueAge) }
}

// WithoutQueue turns the send queue off: while the client is down, Send
// fails at once with an error wrapping ErrNotConnected instead of queuing,
// and so does a Send whose write fails on a connection that broke. For
// applications that rebuild their state in OnConnect. A message the peer
// refused with 1009 is still sent again after the reconnect when a
// splitter is set, and, with WithAcks, unacknowledged messages are still
// written again. Default: off; messages sent while down are queued.
func WithoutQueue() Option {
	return func(o *options) error {
		o.noQueue = true
		return nil
	}
}

// WithReceiveBuffer sets how many received messages wait for Receive. When
// the buffer is full the client reads on into a small overflow (64
// messages or 64 KiB, whichever comes first, plus the message that did not
// fit), so that pings are answered and a close frame shortly behind the
// backlog is seen; when that is full too it stops reading until Receive
// takes one (TCP backpressure on the peer). The heartbeat does not count
// that time against the peer, and a stall of any length does not end the
// connection by itself; a failed write or Close still ends it at once.
// messages must be in 1..MaxReceiveBuffer (65536). Default: 16.
func WithReceiveBuffer(messages int) Option {
	return func(o *options) error {
		if messages <= 0 {
			return fmt.Errorf("WithReceiveBuffer: size must be positive, got %d", messages)
		}
		if messages > MaxReceiveBuffer {
			return fmt.Errorf("WithReceiveBuffer: size %d over the maximum MaxReceiveBuffer (%d messages)", messages, MaxReceiveBuffer)
		}
		o.receiveBuffer = messages
		return nil
	}
}

// WithOnConnect sets a hook run after every successful handshake, before
// unacknowledged and queued messages are written and before the client
// reports StateConnected. Messages written with conn.Send go out on this
// connection ahead of anything queued: the place for authentication and
// subscriptions. conn.Receive reads this connection's messages meanwhile
// (a reader runs while the hook does, so the heartbeat works), for a
// handshake that waits for the server's answers; messages the hook does not
// take go, in order, to Receive or OnMessage once it returns. conn is valid
// only until the hook returns. ctx ends when the client is closed.
// Returning an error closes the connection and counts as a failed attempt
// (Disconnect.Err is the error, Uptime 0; the next attempt goes to the next
// endpoint); wrap it with backoff.Permanent to make the default policy
// abort. The hook runs on the client's goroutine (see "Hooks" in the
// package documentation for what it may call). Default: none.
func WithOnConnect(f func(ctx context.Context, conn *Conn) error) Option {
	return func(o *options) error {
		o.onConnect = f
		return nil
	}
}

// WithOnMessage hands every received message to f instead of Receive: f
// runs on the client's goroutine, one message at a time and in order, right
// after the message is read, with no hand-off to another goroutine (the
// fastest way to consume a stream). While f runs nothing more is read,
// which pushes back on the peer; the heartbeat does not count that time
// against the peer. f may call any method of the Client, Send and Close
// included (see "Hooks" in the package documentation), and may keep data.
// After Close, f is not called any more. With f set, Receive returns no
// messages: it blocks until the client stops. Default: none; messages go
// to Receive.
func WithOnMessage(f func(typ MessageType, data []byte)) Option {
	return func(o *options) error {
		o.onMessage = f
		return nil
	}
}

// WithOnDisconnect sets a hook called once per disconnect, after the policy
// decided and the action's effects hold (State is the state the decision
// leads to; after an abort Err is the reason), and, for an abort, before
// Done is closed. It is not called for the connection that Close ends.
// Hooks run one at a time on the client's goroutine, outside locks, and
// may call any method of the Client (see "Hooks" in the package
// documentation). Default: none.
func WithOnDisconnect(f func(d Disconnect, a Action)) Option {
	return func(o *options) error {
		o.onDisconnect = f
		return nil
	}
}

// WithLogger sets where the client logs: its decisions and connections at
// Info level; aborts, waits cut to MaxServerDelay and messages the splitter
// failed to split at Warn level. Header values and URL credentials or
// query strings are never logged. Default: nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("WithLogger: nil Logger")
		}
		o.logger = l
		return nil
	}
}

// WithStableAfter sets how long a connection must stay up before the
// backoff is reset and Disconnect.Attempt starts again from 1. A server that
// accepts and then closes at once is thus not hammered. Default: 5 s.
func WithStableAfter(d time.Duration) Option {
	return func(o *options) error { return nonNegative("WithStableAfter", d, &o.stableAfter) }
}

// WithCloseTimeout bounds how long Close waits for the peer to answer the
// close frame before it drops the connection. Default: 5 s.
func WithCloseTimeout(d time.Duration) Option {
	return func(o *options) error { return positive("WithCloseTimeout", d, &o.closeTimeout) }
}

// WithRestartDelay sets the typical wait after a 1012 (service restart): the
// server says it is coming back soon, so the first attempt after it waits
// d with ±50% jitter instead of the next backoff step. A server that keeps
// answering 1012 without staying up gets the ordinary backoff. 0 makes 1012
// use the ordinary backoff. Default: 500 ms.
func WithRestartDelay(d time.Duration) Option {
	return func(o *options) error { return nonNegative("WithRestartDelay", d, &o.restartDelay) }
}

// WithReconnectBudget bounds how long the client keeps trying to get a
// connection back: when no connection has been up for d, it aborts with
// an error wrapping ErrReconnectBudget and the last disconnect's error.
// Default: 0, no budget (the client never gives up on its own).
func WithReconnectBudget(d time.Duration) Option {
	return func(o *options) error { return nonNegative("WithReconnectBudget", d, &o.budget) }
}

// WithHeaderFunc sets a function called before every connection attempt for
// the handshake headers, for example to fetch a fresh token. Its headers are
// added to those of WithHeader. If it fails, the attempt fails with its
// error (wrap it with backoff.Permanent to abort). With a header func set, an
// authentication failure (handshake 401 or 403, close 3000, 3003, 4401 or
// 4403) that the policy would abort on is retried once, with fresh headers,
// before the client aborts; a connection that stays up for the stable
// period (WithStableAfter) earns a new retry. f is not a hook: it runs on a
// goroutine of its own, bounded by ctx (the handshake timeout, and Close).
// The client does not wait for a func that ignores ctx: the attempt fails,
// Close returns, and the func's result is discarded whenever it returns.
// Headers the WebSocket handshake sets itself (Upgrade, Connection,
// Sec-WebSocket-Key, -Version, -Extensions) make the client abort.
// Default: none.
func WithHeaderFunc(f func(ctx context.Context) (http.Header, error)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("WithHeaderFunc: nil function")
		}
		o.headerFunc = f
		return nil
	}
}

// WithURLFunc sets a function called before every connection attempt for
// the URL to dial: for a token in the query string, a signed URL, or a
// service-discovery lookup. attempt is 1-based and counts like
// Disconnect.Attempt (the attempt made after a stable connection is 1
// again). The URL given to New is checked but never dialed while a URL func
// is set, and WithURLs cannot be combined with it. A result that is not a
// valid ws or wss URL, or an error, is a failed attempt (wrap the error
// with backoff.Permanent to abort). f is not a hook: it runs on a goroutine
// of its own, bounded by ctx (the handshake timeout, and Close), before the
// header func; the client does not wait for one that ignores ctx. The URL's
// credentials, query and fragment never appear in errors, Disconnect,
// Stats or logs. Default: none; the URLs of New and WithURLs are dialed.
func WithURLFunc(f func(ctx context.Context, attempt int) (string, error)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("WithURLFunc: nil function")
		}
		if len(o.urls) > 0 {
			return errors.New("WithURLFunc: cannot be combined with WithURLs")
		}
		o.urlFunc = f
		return nil
	}
}

// WithShuffle makes the client start at an endpoint picked at random among
// the URL given to New and those of WithURLs, so that a fleet of clients
// does not all dial the first one; it then goes round robin as usual.
// Default: off; the client starts at the URL given to New.
func WithShuffle() Option {
	return func(o *options) error {
		o.shuffle = true
		return nil
	}
}

// WithOnStateChange sets a hook called on every state change, in order,
// none missed: unlike polling State or WaitState, it sees a state held
// only briefly. It is a hook: it runs on the client's goroutine, one call
// at a time and never at the same time as another hook (see "Hooks" in the
// package documentation), right after the change: before OnConnect returns
// nothing is reported connected, and the change to StateClosed is reported
// before Done is closed, after Close too. Default: none.
func WithOnStateChange(f func(from, to State)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("WithOnStateChange: nil function")
		}
		o.onStateChange = f
		return nil
	}
}

// WithURLs adds endpoints after the one given to New or Dial. A failed
// attempt moves to the next endpoint, in order and round robin; after a
// connection was up, the client tries the endpoint that worked first. A
// handshake refused with a status the policy aborts on (400, 401, 403, 404,
// ...) moves on too: the client aborts only when every endpoint refused so,
// one after the other. Disconnect.URL tells which endpoint a disconnect was
// on. Default: only the URL given to New.
func WithURLs(urls ...string) Option {
	return func(o *options) error {
		if o.urlFunc != nil {
			return errors.New("WithURLs: cannot be combined with WithURLFunc")
		}
		for _, u := range urls {
			if err := checkURL(u); err != nil {
				return fmt.Errorf("WithURLs: %w", err)
			}
		}
		o.urls = append(o.urls, urls...)
		return nil
	}
}

// WithSplitter sets how a message larger than the outbound limit is cut into
// several messages, each at most limit bytes, that the peer reassembles (the
// protocol is the application's). With a splitter, Send splits such a
// message instead of failing with ErrMessageTooBig, and a message the peer
// refused with 1009 is split and sent again after the reconnect, ahead of
// anything queued, so nothing is lost (when a part is refused, the whole
// message is split again to the lower limit). The parts of a message go
// out together, in order, on one connection; if that connection ends
// midway, the whole message is sent again on the next one, so the peer
// must discard a series left incomplete by a connection that ended. Each
// part of a text message must be valid UTF-8 (unless WithoutUTF8Check):
// otherwise Send fails with ErrInvalidUTF8 before writing any part, and a
// message that cannot be split again after a 1009 goes to OnDropped. f runs
// on the goroutine that needs the parts (Send's or the client's) and must
// not call the Client: it may run while the client holds its write lock.
// Default: none.
func WithSplitter(f func(data []byte, limit int) ([][]byte, error)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("WithSplitter: nil function")
		}
		o.splitter = f
		return nil
	}
}

// WithOnDropped sets a hook called for every message the client accepted
// but will not write: the message a peer refused with 1009 when no splitter
// is set (err wraps a *CloseError with code 1009), a queued message over a
// limit learned after it was queued (err wraps ErrMessageTooBig), and the
// messages still queued when the client stops (err wraps ErrClosed). With
// WithAcks, a tracked message written but never acknowledged, which may
// thus have reached the peer, is reported with an error that also wraps
// ErrUnacknowledged: at the stop, or when the replay drops it (expired,
// or over a limit it cannot be split to). data is
// the client's copy and may be kept. A split message is reported once,
// whole. The hook runs on the client's goroutine, like OnDisconnect; the
// messages discarded by Close are reported before Close returns. Default:
// none; dropped messages are counted in Stats.
func WithOnDropped(f func(typ MessageType, data []byte, err error)) Option {
	return func(o *options) error {
		o.onDropped = f
		return nil
	}
}

// WithCompressionOnShrink offers permessage-deflate (RFC 7692) on every
// handshake but writes uncompressed until the peer refuses a message with
// 1009. Then, instead of lowering the outbound limit, the client writes
// compressed from the next connection on (if the peer accepted the
// extension) and sends the refused message again, whole; a further 1009
// lowers the limit as usual. Received compressed messages always count
// against the read limit by their decompressed size. Default: off
// (compression is as the dialer sets it).
func WithCompressionOnShrink() Option {
	return func(o *options) error {
		o.compressOnShrink = true
		o.dialer.EnableCompression = true
		return nil
	}
}

// WithWriteBufferPool makes the client's connections take their write
// buffers from p while writing and give them back when done, instead of
// each holding its own buffer. Give many clients the same pool (a
// *sync.Pool will do); its buffers are the dialer's WriteBufferSize. It
// sets the dialer's WriteBufferPool, whichever order it is given in with
// WithDialer.
//
// Default: when the dialer sets neither WriteBufferSize nor
// WriteBufferPool (as websocket.DefaultDialer does not), the client writes
// through 64 KiB buffers from a pool inside the package, shared by every
// Client in the process and held only while a message is written: a message
// up to 64 KiB goes out as one frame in one write call, and an idle
// connection holds no write buffer. A dialer that sets WriteBufferSize
// without a pool keeps a buffer of that size per connection.
func WithWriteBufferPool(p websocket.BufferPool) Option {
	return func(o *options) error {
		if p == nil {
			return errors.New("WithWriteBufferPool: nil pool")
		}
		o.writePool = p
		return nil
	}
}

// WithoutUTF8Check turns off the check that text messages are valid UTF-8.
// By default Send fails fast with ErrInvalidUTF8 for such a message and the
// connection stays up; without the check the message is written and the
// peer is expected to close with 1007, on which the default policy aborts.
// Use it when text is known to be valid and every nanosecond counts.
func WithoutUTF8Check() Option {
	return func(o *options) error {
		o.skipUTF8Check = true
		return nil
	}
}
