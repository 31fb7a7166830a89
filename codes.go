package wsreconnect

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
)

// CloseCode is a WebSocket close status code (RFC 6455 §7.4).
//
// The named constants follow gorilla/websocket's names. Codes 3000-3999 are
// registered with IANA for libraries and frameworks; 4000-4999 are private to
// an application.
type CloseCode int

// Close codes defined by RFC 6455 and the IANA registry.
const (
	CloseNormalClosure           CloseCode = 1000
	CloseGoingAway               CloseCode = 1001
	CloseProtocolError           CloseCode = 1002
	CloseUnsupportedData         CloseCode = 1003
	CloseNoStatusReceived        CloseCode = 1005
	CloseAbnormalClosure         CloseCode = 1006
	CloseInvalidFramePayloadData CloseCode = 1007
	ClosePolicyViolation         CloseCode = 1008
	CloseMessageTooBig           CloseCode = 1009
	CloseMandatoryExtension      CloseCode = 1010
	CloseInternalServerErr       CloseCode = 1011
	CloseServiceRestart          CloseCode = 1012
	CloseTryAgainLater           CloseCode = 1013
	CloseBadGateway              CloseCode = 1014
	CloseTLSHandshake            CloseCode = 1015

	// CloseUnauthorized (3000), CloseForbidden (3003) and CloseTimeout (3008)
	// are registered with IANA for use by libraries and frameworks.
	CloseUnauthorized CloseCode = 3000
	CloseForbidden    CloseCode = 3003
	CloseTimeout      CloseCode = 3008
)

var closeCodeNames = map[CloseCode]string{
	CloseNormalClosure:           "normal closure",
	CloseGoingAway:               "going away",
	CloseProtocolError:           "protocol error",
	CloseUnsupportedData:         "unsupported data",
	1004:                         "reserved",
	CloseNoStatusReceived:        "no status received",
	CloseAbnormalClosure:         "abnormal closure",
	CloseInvalidFramePayloadData: "invalid payload data",
	ClosePolicyViolation:         "policy violation",
	CloseMessageTooBig:           "message too big",
	CloseMandatoryExtension:      "mandatory extension",
	CloseInternalServerErr:       "internal server error",
	CloseServiceRestart:          "service restart",
	CloseTryAgainLater:           "try again later",
	CloseBadGateway:              "bad gateway",
	CloseTLSHandshake:            "TLS handshake",
	CloseUnauthorized:            "unauthorized",
	CloseForbidden:               "forbidden",
	CloseTimeout:                 "timeout",
}

// String returns the code and its name, for example "1008 (policy violation)".
// Codes without a registered name are described by their range, for example
// "4001 (private)".
func (c CloseCode) String() string {
	name, ok := closeCodeNames[c]
	if !ok {
		switch {
		case c.IsRegistered():
			name = "registered"
		case c.IsPrivate():
			name = "private"
		case c == 0:
			name = "none"
		default:
			name = "invalid"
		}
	}
	return strconv.Itoa(int(c)) + " (" + name + ")"
}

// IsRegistered reports whether c is in 3000-3999, the range registered with
// IANA for libraries, frameworks and applications.
func (c CloseCode) IsRegistered() bool { return c >= 3000 && c <= 3999 }

// IsPrivate reports whether c is in 4000-4999, the range reserved for private
// use by applications.
func (c CloseCode) IsPrivate() bool { return c >= 4000 && c <= 4999 }

// IsSendable reports whether an endpoint may put c in a close frame. 1005,
// 1006 and 1015 only describe events and never travel on the wire; 1004 and
// 1016-2999 are reserved.
func (c CloseCode) IsSendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	default:
		return c >= 3000 && c <= 4999
	}
}

// badCloseCodePrefix is how gorilla/websocket reports a received close frame
// whose code it does not accept (1004, 1014, 1015, 1016-2999, and anything
// outside 1000-4999).
const badCloseCodePrefix = "websocket: bad close code "

// badCloseUTF8 is gorilla/websocket's error for a received close frame whose
// reason is not valid UTF-8. Gorilla answers such a frame with 1002 and
// drops its code.
const badCloseUTF8 = "websocket: invalid utf8 payload in close frame"

// closeFromError converts an error returned by a read on a gorilla connection
// into a close code and reason. It is the one place where gorilla's errors are
// interpreted, and the code it returns is always in 1000-4999:
//
//   - a *websocket.CloseError gives its code and text;
//   - gorilla refuses to receive 1004, 1014, 1015, 1016-2999 and codes
//     outside 1000-4999 and returns a plain "bad close code N" error
//     instead: N is recovered from it;
//   - a code outside 1000-4999, from either, is reported as 1002 (protocol
//     error): the peer broke the protocol;
//   - a close frame whose reason is not valid UTF-8 reaches us as gorilla's
//     plain "invalid utf8 payload in close frame" error, without its code.
//     It is reported as 1002 with the reason "invalid UTF-8 in close reason"
//     and local false, as gorilla answered it: the safer reading, since the
//     default policy aborts on 1002, so a server that closed with, say, 1008
//     and a bad reason is not hammered with reconnects;
//   - websocket.ErrReadLimit (our own read limit) is reported as 1009, and
//     local is true: the peer did not refuse anything of ours;
//   - anything else (EOF, reset, timeout) is a drop without a close frame,
//     1006.
func closeFromError(err error) (code CloseCode, reason string, local bool) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.CloseAbnormalClosure {
			return CloseAbnormalClosure, "", false // gorilla's text for EOF, not a received reason
		}
		if ce.Code < 1000 || ce.Code > 4999 {
			return CloseProtocolError, ce.Text, false
		}
		return CloseCode(ce.Code), ce.Text, false
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return CloseMessageTooBig, "read limit exceeded", true
	}
	for e := err; e != nil; e = errors.Unwrap(e) { // gorilla's plain errors, possibly wrapped
		msg := e.Error()
		if digits, ok := strings.CutPrefix(msg, badCloseCodePrefix); ok && isDigits(digits) {
			if n, convErr := strconv.Atoi(digits); convErr == nil && n >= 1000 && n <= 4999 {
				return CloseCode(n), "", false
			}
			return CloseProtocolError, "", false
		}
		if msg == badCloseUTF8 {
			return CloseProtocolError, "invalid UTF-8 in close reason", false
		}
	}
	return CloseAbnormalClosure, "", false
}
