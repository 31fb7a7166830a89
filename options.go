package wsreconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	DefaultReceiveBuffer    = 16
	DefaultStableAfter      = 5 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultTryAgainDelay    = 5 * time.Second
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
	maxMessageSize   int
	sendBuffer       int
	receiveBuffer    int
	onConnect        func(ctx context.Context, conn *Conn) error
	onDisconnect     func(d Disconnect, a Action)
	logger           *slog.Logger
	stableAfter      time.Duration
	closeTimeout     time.Duration
}

func defaultOptions() options {
	return options{
		policy:           DefaultPolicy,
		minDelays:        map[CloseCode]time.Duration{CloseTryAgainLater: DefaultTryAgainDelay},
		pingInterval:     DefaultPingInterval,
		pongTimeout:      DefaultPongTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		dialer:           *websocket.DefaultDialer,
		readLimit:        DefaultReadLimit,
		sendBuffer:       DefaultSendBuffer,
		receiveBuffer:    DefaultReceiveBuffer,
		logger:           slog.New(slog.DiscardHandler),
		stableAfter:      DefaultStableAfter,
		closeTimeout:     DefaultCloseTimeout,
	}
}

// NewDefaultBackoff returns the backoff a Client uses unless WithBackoff
// replaces it: exponential from 1 s, multiplier 1.6, capped at 60 s, with
// ±50% jitter on every step including the first, and no elapsed-time limit
// (MaxElapsedTime 0), so the client never gives up on its own.
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
// be given several times; d of 0 removes a floor. Default: 5 s for 1013
// (try again later), none for other codes.
func WithMinDelay(code CloseCode, d time.Duration) Option {
	return func(o *options) error {
		if code < 1000 || code > 4999 {
			return fmt.Errorf("WithMinDelay: close code %d out of range 1000-4999", code)
		}
		if d < 0 {
			return fmt.Errorf("WithMinDelay: negative delay %s", d)
		}
		o.minDelays[code] = d
		return nil
	}
}

// WithHeartbeat sets how often the client pings the peer and how long it
// waits for a pong (or any other frame) before declaring the connection dead
// and reconnecting (Disconnect.Code 1006, Err ErrHeartbeatTimeout).
// WithHeartbeat(0, 0) turns the heartbeat off. Default: ping every 20 s,
// timeout 10 s.
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
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithHandshakeTimeout: duration must be positive, got %s", d)
		}
		o.handshakeTimeout = d
		return nil
	}
}

// WithDialer sets the gorilla dialer used for every attempt: TLS config,
// proxy, subprotocols, compression, buffer sizes and write buffer pool. The
// dialer is copied; its HandshakeTimeout is superseded by
// WithHandshakeTimeout. Default: a copy of websocket.DefaultDialer.
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
// is copied. Default: none.
func WithHeader(h http.Header) Option {
	return func(o *options) error {
		o.header = h.Clone()
		return nil
	}
}

// WithReadLimit sets the largest message the client accepts from the peer,
// in bytes. A larger message closes the connection with 1009 and, by the
// default policy, reconnects. Default: 16 MiB.
func WithReadLimit(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithReadLimit: limit must be positive, got %d", n)
		}
		o.readLimit = n
		return nil
	}
}

// WithMaxMessageSize sets the outbound limit: Send fails fast with
// ErrMessageTooBig for a larger message. A 1009 received from the peer
// lowers it (the Shrink action). Default: 0, no limit until a 1009 teaches
// one.
func WithMaxMessageSize(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("WithMaxMessageSize: negative size %d", n)
		}
		o.maxMessageSize = n
		return nil
	}
}

// WithSendBuffer sets how many messages Send may queue while the client is
// disconnected. When the queue is full, Send blocks until there is room or
// its context ends. Default: 1024.
func WithSendBuffer(messages int) Option {
	return func(o *options) error {
		if messages <= 0 {
			return fmt.Errorf("WithSendBuffer: size must be positive, got %d", messages)
		}
		o.sendBuffer = messages
		return nil
	}
}

// WithReceiveBuffer sets how many received messages wait for Receive. When
// the buffer is full the client stops reading from the connection until
// Receive takes one (TCP backpressure); the heartbeat does not count that
// time against the peer. Default: 16.
func WithReceiveBuffer(messages int) Option {
	return func(o *options) error {
		if messages <= 0 {
			return fmt.Errorf("WithReceiveBuffer: size must be positive, got %d", messages)
		}
		o.receiveBuffer = messages
		return nil
	}
}

// WithOnConnect sets a hook run after every successful handshake, before
// queued messages are written and before the client reports
// StateConnected. Messages written with conn.Send go out on this connection
// ahead of anything queued: the place for authentication and subscriptions.
// ctx ends when the client is closed. Returning an error closes the
// connection and counts as a failed attempt (Disconnect.Err is the error);
// wrap it with backoff.Permanent to make the default policy abort.
// Received messages are read after the hook returns. Default: none.
func WithOnConnect(f func(ctx context.Context, conn *Conn) error) Option {
	return func(o *options) error {
		o.onConnect = f
		return nil
	}
}

// WithOnDisconnect sets a hook called once per disconnect, after the policy
// decided and the action's effects hold, and, for an abort, before Done is
// closed. Hooks run one at a time on the client's goroutine, outside locks,
// and may call any method of the Client. Default: none.
func WithOnDisconnect(f func(d Disconnect, a Action)) Option {
	return func(o *options) error {
		o.onDisconnect = f
		return nil
	}
}

// WithLogger sets where the client logs its decisions (debug and info
// level). Header values and URL credentials or query strings are never
// logged. Default: nothing is logged.
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
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("WithStableAfter: negative duration %s", d)
		}
		o.stableAfter = d
		return nil
	}
}

// WithCloseTimeout bounds how long Close waits for the peer to answer the
// close frame before it drops the connection. Default: 5 s.
func WithCloseTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithCloseTimeout: duration must be positive, got %s", d)
		}
		o.closeTimeout = d
		return nil
	}
}
