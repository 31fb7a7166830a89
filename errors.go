package wsreconnect

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

var (
	// ErrClosed is returned by Send, Receive and WaitState once the client has
	// stopped, after Close or after an abort. After an abort the error also
	// wraps the reason, so errors.As finds a *CloseError or *HandshakeError.
	ErrClosed = errors.New("wsreconnect: client closed")

	// ErrMessageTooBig is returned by Send for a message larger than the
	// outbound limit (see WithMaxMessageSize and the Shrink action). The
	// connection stays up.
	ErrMessageTooBig = errors.New("wsreconnect: message exceeds the outbound size limit")

	// ErrRetriesExhausted is the reason the client stopped when the BackOff
	// given to WithBackoff returned backoff.Stop. The default backoff never
	// stops. The error returned by Err also wraps the last disconnect's error.
	ErrRetriesExhausted = errors.New("wsreconnect: retries exhausted")

	// ErrHeartbeatTimeout is why a connection was declared dead: no pong
	// (nor any other frame) arrived within the heartbeat timeout.
	// Disconnect.Err wraps it (test with errors.Is) in a *CloseError with
	// code 1006, and Disconnect.Code is 1006.
	ErrHeartbeatTimeout = errors.New("wsreconnect: no pong within the heartbeat timeout")

	// ErrReconnectBudget is the reason the client stopped when no
	// connection could be had within the budget set by WithReconnectBudget.
	// The error returned by Err also wraps the last disconnect's error.
	ErrReconnectBudget = errors.New("wsreconnect: reconnect budget exhausted")

	// ErrInvalidUTF8 is returned by Send for a text message that is not
	// valid UTF-8 (see WithoutUTF8Check). The connection stays up.
	ErrInvalidUTF8 = errors.New("wsreconnect: text message is not valid UTF-8")

	// ErrQueueFull is returned by Send when the send queue is full and
	// WithQueueOverflow(OverflowFailFast) is set, and is the error
	// OnDropped gets for a message dropped to make room
	// (OverflowDropOldest).
	ErrQueueFull = errors.New("wsreconnect: send queue full")

	// ErrExpired is the error OnDropped gets for a queued (or, with
	// WithAcks, unacknowledged) message older than WithMaxQueueAge allows:
	// it was not written after the reconnect.
	ErrExpired = errors.New("wsreconnect: message older than the maximum queue age")

	// ErrNotConnected is wrapped by the error Send returns while the
	// client is down with WithoutQueue set, also when its write failed on
	// a connection that broke, and by Ping while the client is down.
	ErrNotConnected = errors.New("wsreconnect: not connected")

	// ErrUnacknowledged is wrapped, with WithAcks, by the error OnDropped
	// gets for a tracked message that was written at least once but never
	// acknowledged, so it may or may not have reached the peer. The same
	// error wraps the reason it is not written again: ErrClosed (the
	// client stopped), or, at a replay, ErrExpired or ErrMessageTooBig.
	ErrUnacknowledged = errors.New("wsreconnect: written but not acknowledged")
)

// CloseError is a close frame received from the peer, or 1006 for a
// connection that ended without one. It is found with errors.As in the
// errors returned by Err, Send and Receive and in Disconnect.Err.
type CloseError struct {
	Code   CloseCode
	Reason string

	cause error // the read or write error behind a 1006, if any
}

func (e *CloseError) Error() string {
	s := "close " + e.Code.String()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.cause != nil && e.Code == CloseAbnormalClosure {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the error behind a connection that ended without a close
// frame (for example ErrHeartbeatTimeout or a network error), else nil.
func (e *CloseError) Unwrap() error { return e.cause }

// HandshakeError is an opening handshake that the server refused with an HTTP
// status other than 101 Switching Protocols.
type HandshakeError struct {
	StatusCode int
	// RetryAfter is the server's Retry-After header as a duration, zero if
	// absent or unreadable, and at most MaxServerDelay. The client waits at
	// least this long (plus the backoff step) before the next attempt.
	RetryAfter time.Duration

	retryCut bool // the header asked for more than MaxServerDelay
}

func (e *HandshakeError) Error() string {
	s := "wsreconnect: handshake refused with HTTP " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// closedError is what operations return once the client stopped: ErrClosed,
// wrapping the abort reason when there is one.
func closedError(reason error) error {
	if reason == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, reason)
}
