package wsreconnect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Action is what the client does after a disconnect.
type Action int

const (
	// Reconnect waits for the next backoff delay and dials again.
	Reconnect Action = iota
	// Abort stops the client for good: Done is closed and Err reports why.
	Abort
	// Shrink lowers the outbound message limit to the limit the peer's close
	// reason names (e.g. "over size limit (2049 > 1024 bytes)") or else to
	// half the size of the largest message written on the connection the
	// peer refused, then reconnects like Reconnect.
	Shrink
)

// String returns "reconnect", "abort" or "shrink".
func (a Action) String() string {
	switch a {
	case Reconnect:
		return "reconnect"
	case Abort:
		return "abort"
	case Shrink:
		return "shrink"
	default:
		return "Action(" + strconv.Itoa(int(a)) + ")"
	}
}

// Disconnect describes one lost connection or one failed connection attempt.
// The client passes it to the Policy and then to the OnDisconnect hook.
type Disconnect struct {
	// Code is the close code received from the peer; 1006 when the
	// connection dropped without one (EOF, reset, heartbeat timeout); 0 if
	// the attempt failed before a connection was up.
	Code CloseCode
	// Reason is the close reason received with Code.
	Reason string
	// StatusCode is the HTTP status of a refused handshake, else 0.
	StatusCode int
	// Err is the underlying error: a *CloseError, a *HandshakeError, a
	// network or TLS error, ErrHeartbeatTimeout, or the error returned by the
	// OnConnect hook.
	Err error
	// Attempt counts consecutive failed attempts, 1 for the first. It starts
	// again from 1 after a connection stayed up for the stable period (see
	// WithStableAfter).
	Attempt int
	// Uptime is how long the connection had been up; 0 if it never was.
	Uptime time.Duration
	// Local is true when this side ended the connection: our read limit was
	// exceeded (Code 1009; the peer did not refuse anything of ours) or the
	// heartbeat declared the peer dead (Code 1006).
	Local bool
	// Delay is the wait before the next attempt, for Reconnect and Shrink
	// (0 for Abort). It is set when the OnDisconnect hook runs; the policy
	// sees 0.
	Delay time.Duration
	// URL is the endpoint, without credentials or query.
	URL string
	// Refused is the client's copy of the message the peer refused with
	// 1009, else nil. The peer does not say which message it was: the
	// client takes the first message of the largest size written in full
	// on that connection (the whole message, for a part of a split one).
	// With a splitter it is sent again, split; without one it is also
	// reported to the OnDropped hook. It is nil when a message larger than
	// any written in full failed while being written: that message is
	// still queued, and is split or dropped (and reported) like any queued
	// message over the new limit. The client keeps a copy for this only
	// when a splitter or a hook that could take it back is set. It is set
	// when the OnDisconnect hook runs; the policy sees nil.
	Refused []byte
	// Limit is the outbound message limit in bytes after this disconnect,
	// 0 for none: after a Shrink, the limit learned. It is set when the
	// OnDisconnect hook runs; the policy sees the limit before it.
	Limit int

	largest int      // largest message written on the connection
	refused *message // a copy of it
	forced  bool     // Reconnect closed the connection
}

// Policy decides what the client does after a disconnect. It runs on the
// client's goroutine, outside locks; it should return quickly. Wrap
// DefaultPolicy to change a few cases and keep the rest:
//
//	func(d wsreconnect.Disconnect) wsreconnect.Action {
//		if d.Code == 4000 {
//			return wsreconnect.Abort
//		}
//		return wsreconnect.DefaultPolicy(d)
//	}
type Policy func(Disconnect) Action

// DefaultPolicy is the policy used unless WithPolicy replaces it:
//
//	close code / event                                   action
//	1000 from the server, 1001, 1005, 1006, 1011-1014,
//	  3008, other 3000-4999, unknown codes               Reconnect
//	1002, 1003, 1007, 1008, 1010, 1015, 3000, 3003,
//	  4401, 4403                                         Abort
//	1009 received from the peer                          Shrink, then reconnect
//	1009 from our own read limit                         Reconnect
//	handshake 408, 429, 5xx; network errors              Reconnect (Retry-After is a minimum wait)
//	handshake 400, 401, 403, 404, other 4xx or status;
//	  TLS certificate errors                             Abort
//	an error wrapped by backoff.Permanent (e.g. from
//	  the OnConnect hook)                                Abort
//	any other OnConnect error                            Reconnect
func DefaultPolicy(d Disconnect) Action {
	var perm *backoff.PermanentError
	if errors.As(d.Err, &perm) {
		return Abort
	}
	if d.StatusCode != 0 {
		return handshakeAction(d.StatusCode)
	}
	if d.Code == 0 {
		if isCertificateError(d.Err) {
			return Abort
		}
		return Reconnect
	}
	switch d.Code {
	case CloseProtocolError, CloseUnsupportedData, CloseInvalidFramePayloadData,
		ClosePolicyViolation, CloseMandatoryExtension, CloseTLSHandshake,
		CloseUnauthorized, CloseForbidden, closePrivateUnauthorized, closePrivateForbidden:
		return Abort
	case CloseMessageTooBig:
		if d.Local {
			return Reconnect
		}
		return Shrink
	default:
		return Reconnect
	}
}

// 4401 and 4403 are the private-range codes many servers use for
// "unauthorized" and "forbidden", after HTTP's 401 and 403.
const (
	closePrivateUnauthorized CloseCode = 4401
	closePrivateForbidden    CloseCode = 4403
)

func handshakeAction(status int) Action {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return Reconnect
	default:
		return Abort
	}
}

// isCertificateError reports whether err is a TLS certificate verification
// failure, which a retry cannot fix.
func isCertificateError(err error) bool {
	if err == nil {
		return false
	}
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uaerr) ||
		errors.As(err, &herr) || errors.As(err, &cierr)
}
