package wsreconnect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// explanation is a cause and the usual fix.
type explanation struct{ cause, fix string }

func (e explanation) String() string { return e.cause + ". Fix: " + e.fix + "." }

var closeExplanations = map[CloseCode]explanation{
	CloseNormalClosure: {"the server ended the connection normally, often when it is done with this client or rotates connections",
		"nothing, the client reconnects; if the server closes every connection at once, check that the client sends what the server expects after connecting"},
	CloseGoingAway: {"the server is going away, usually for a deploy or a restart, or a proxy in front of it is shutting down",
		"nothing, reconnecting is right; if it happens all the time, look at the server's deploys or the proxy's connection limits"},
	CloseProtocolError: {"the peer saw a protocol error: a malformed frame, a bad close code, or a close reason that is not UTF-8",
		"check what is between the client and the server (a proxy that mangles frames) and the server's logs; retrying cannot fix it"},
	CloseUnsupportedData: {"the server cannot accept the kind of data sent (text where it wants binary, or the reverse)",
		"send the message type the server's protocol asks for"},
	1004: {"a reserved code that no endpoint should send",
		"report it to the server's owners; the client treats it as unknown and reconnects"},
	CloseNoStatusReceived: {"the peer sent a close frame without a code, so it gave no reason for closing",
		"nothing, the client reconnects; the server's logs say why it closed"},
	CloseAbnormalClosure: {"the connection dropped without a close frame: a network outage, a server crash, or a proxy or load balancer idle timeout shorter than the heartbeat interval",
		"check the network and the server's logs; if drops come after a fixed idle time, set WithHeartbeat's interval below the proxy's idle timeout (nginx: proxy_read_timeout, 60 s by default)"},
	CloseInvalidFramePayloadData: {"the server refused a message's content, usually text that is not valid UTF-8 or data it cannot parse",
		"send valid UTF-8 in text messages (do not use WithoutUTF8Check for unchecked data) and the format the server expects"},
	ClosePolicyViolation: {"the server's policy refused this client, most often authentication or authorization (a missing, expired or wrong token), or a rate or origin rule",
		"check the credentials and what the server's policy requires (WithHeader or WithHeaderFunc for tokens); the reason usually says which rule"},
	CloseMessageTooBig: {"the server refused a message larger than its size limit",
		"send smaller messages: set WithMaxMessageSize to the server's limit, or WithSplitter to cut large ones; the client lowers its outbound limit by itself"},
	CloseMandatoryExtension: {"the client needed an extension the server did not negotiate",
		"check the dialer's extensions and the server's support for them"},
	CloseInternalServerErr: {"the server hit an unexpected condition, often an exception in its handler, while serving this connection",
		"nothing on the client side, it reconnects; the server's logs have the error"},
	CloseServiceRestart: {"the server is restarting and said so",
		"nothing, the client comes back after a short delay (WithRestartDelay)"},
	CloseTryAgainLater: {"the server is overloaded and asked to come back later",
		"nothing, the client waits at least WithMinDelay's floor (5 s by default) before the next attempt; if it lasts, the server needs capacity"},
	CloseBadGateway: {"a gateway or proxy could not reach the server behind it",
		"check the upstream server and the proxy's configuration; the client retries after a floor (WithMinDelay)"},
	CloseTLSHandshake: {"the TLS handshake failed (certificate not trusted, wrong host name, or no common protocol)",
		"check the server's certificate and the dialer's TLS configuration (WithDialer)"},
	CloseUnauthorized: {"the server says the client is not authenticated",
		"send valid credentials (WithHeader, WithHeaderFunc for tokens that expire); the client aborts unless a header func gives fresh ones"},
	CloseForbidden: {"the server says the client is authenticated but not allowed",
		"check the account's permissions on the server; retrying with the same credentials cannot fix it"},
	CloseTimeout: {"the server timed the connection out, often for inactivity",
		"make the client send or ping more often than the server's timeout (WithHeartbeat)"},
	closePrivateUnauthorized: {"the application's server says the client is not authenticated (4401, after HTTP 401)",
		"send valid credentials (WithHeaderFunc for tokens that expire)"},
	closePrivateForbidden: {"the application's server says the client is not allowed (4403, after HTTP 403)",
		"check the account's permissions on the server"},
}

// Explain describes the close code in words for a person debugging close
// errors: the usual cause and the usual fix, in one or two sentences that
// start with the code (as String gives it). Codes 3000-3999 and 4000-4999
// without an entry are described as the application's own.
func (c CloseCode) Explain() string {
	return c.String() + ": " + c.explanation().String()
}

func (c CloseCode) explanation() explanation {
	if e, ok := closeExplanations[c]; ok {
		return e
	}
	switch {
	case c.IsRegistered():
		return explanation{"a code registered for a library or framework, whose meaning that framework defines",
			"see the server framework's documentation for this code and its reason"}
	case c.IsPrivate():
		return explanation{"a code private to the server's application, whose meaning the application defines",
			"see the server's documentation or its owners for this code; the reason may say more"}
	case c >= 1016 && c <= 2999:
		return explanation{"a code reserved for future versions of the WebSocket protocol",
			"report it to the server's owners; the client treats it as unknown and reconnects"}
	default:
		return explanation{"not a valid close code",
			"report it to the server's owners; the client treats it as a protocol error"}
	}
}

var statusExplanations = map[int]explanation{
	http.StatusBadRequest: {"the server refused the handshake as malformed: a wrong path, a missing header it requires, or a bad subprotocol",
		"check the URL's path and query, the handshake headers (WithHeader) and the subprotocols (WithDialer)"},
	http.StatusUnauthorized: {"the server requires authentication and the handshake had none, or an expired token",
		"send credentials (WithHeader, or WithHeaderFunc for tokens that expire, which the client retries once on a 401)"},
	http.StatusForbidden: {"the server refused these credentials or this origin",
		"check the token's permissions and the Origin header the server allows"},
	http.StatusNotFound: {"no WebSocket endpoint at this path",
		"check the URL's path (and that the server routes it to its WebSocket handler)"},
	http.StatusRequestTimeout: {"the server gave up waiting for the handshake",
		"nothing, the client retries; if it lasts, check the network's latency"},
	http.StatusUpgradeRequired: {"the server wants another protocol version or TLS",
		"use wss:// if the server requires TLS, and check what the server expects"},
	http.StatusTooManyRequests: {"the server is rate limiting connection attempts",
		"nothing, the client waits at least the Retry-After the server sends; with many clients, spread them (WithShuffle, jittered backoff)"},
	http.StatusServiceUnavailable: {"the server (or a proxy in front of it) is unavailable: starting, overloaded or in maintenance",
		"nothing, the client retries, waiting at least the Retry-After the server sends"},
}

func statusExplanation(status int) explanation {
	if e, ok := statusExplanations[status]; ok {
		return e
	}
	switch {
	case status >= 500:
		return explanation{"the server or a proxy failed (" + strconv.Itoa(status) + " " + http.StatusText(status) + ")",
			"nothing on the client side, it retries; the server's or proxy's logs say why"}
	case status >= 400:
		return explanation{"the server refused the handshake (" + strconv.Itoa(status) + " " + http.StatusText(status) + ")",
			"check the URL, the headers and the credentials; the client does not retry this status"}
	default:
		return explanation{"the server answered the handshake with " + strconv.Itoa(status) + " instead of 101 Switching Protocols, so it is not a WebSocket endpoint there (a redirect or a plain HTTP page)",
			"check the URL; a proxy in front of the server must pass the Upgrade and Connection headers"}
	}
}

// Explain describes the disconnect in words for a person debugging it: what
// happened, the usual cause and the usual fix, with what is known of this
// one: the close reason the peer sent, the outbound limit learned from a
// 1009, the Retry-After of a refused handshake, and the wait before the next
// attempt. It is the "explain" field of the client's log line.
func (d Disconnect) Explain() string {
	var b strings.Builder
	var e explanation
	switch {
	case d.StatusCode != 0:
		e = statusExplanation(d.StatusCode)
		fmt.Fprintf(&b, "handshake refused with HTTP %d", d.StatusCode)
		if t := http.StatusText(d.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
		var he *HandshakeError
		if errors.As(d.Err, &he) && he.RetryAfter > 0 {
			fmt.Fprintf(&b, " (Retry-After %s)", he.RetryAfter)
		}
	case d.forced:
		fmt.Fprintf(&b, "%s", d.Code)
		e = explanation{"the application closed the connection with Reconnect", "nothing, the client comes back at once"}
	case d.Code == CloseMessageTooBig && d.Local:
		b.WriteString(d.Code.String())
		e = explanation{"the server sent a message larger than this client's read limit, and the client closed the connection",
			"raise WithReadLimit (16 MiB by default) or make the server send smaller messages"}
	case d.Code == CloseAbnormalClosure && errors.Is(d.Err, ErrHeartbeatTimeout):
		b.WriteString(d.Code.String())
		e = explanation{"the peer stopped answering pings within the heartbeat timeout: it is dead or hung, or the network drops packets without closing the connection",
			"check the server and the network; lengthen WithHeartbeat's timeout only if the server is known to answer late"}
	case d.Code != 0:
		b.WriteString(d.Code.String())
		e = d.Code.explanation()
	default:
		b.WriteString("connection attempt failed")
		e = attemptExplanation(d.Err)
	}
	if d.Reason != "" && !d.forced {
		fmt.Fprintf(&b, " with reason %q", d.Reason)
	}
	b.WriteString(": ")
	b.WriteString(e.cause)
	if d.Code == CloseMessageTooBig && !d.Local && d.Limit > 0 {
		fmt.Fprintf(&b, "; the client lowered its outbound limit to %d bytes", d.Limit)
	}
	b.WriteString(". Fix: ")
	b.WriteString(e.fix)
	b.WriteString(".")
	if d.Delay > 0 {
		fmt.Fprintf(&b, " Next attempt in %s.", d.Delay.Round(time.Millisecond))
	}
	return b.String()
}

// attemptExplanation explains an attempt that failed before a connection
// was up, by its error.
func attemptExplanation(err error) explanation {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case err == nil:
		return explanation{"no connection came up", "check the server and the URL"}
	case strings.Contains(err.Error(), "OnConnect"):
		return explanation{"the OnConnect hook returned an error: " + err.Error(),
			"look at what the hook waits for (a login answer, a subscription ack)"}
	case errors.As(err, &dnsErr):
		return explanation{"the server's host name could not be resolved",
			"check the host name in the URL and the machine's DNS"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return explanation{"nothing listens on the server's port: the server is down or starting, or the port is wrong",
			"check that the server runs and the URL's port"}
	case isCertificateError(err) || errors.As(err, &certErr):
		return explanation{"the server's TLS certificate was not trusted or does not match the host name",
			"fix the certificate, or give the dialer the CA that signed it (WithDialer's TLSClientConfig.RootCAs)"}
	case errors.As(err, &recordErr):
		return explanation{"the server does not speak TLS on this port",
			"use ws:// for a plain server, or the server's TLS port for wss://"}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return explanation{"the handshake did not complete in time: the server or the network is slow, or a firewall drops the packets",
			"check the network path to the server; raise WithHandshakeTimeout for slow links"}
	default:
		return explanation{"the attempt failed: " + err.Error(), "check the server, the URL and the network"}
	}
}
