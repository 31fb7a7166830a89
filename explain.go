package wsreconnect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fixMark separates what happened from the usual remedy in every text that
// Explain returns.
const fixMark = ". Fix: "

// explanation is the cause of one kind of event and its usual fix, each a
// clause without a final period.
type explanation struct {
	cause, fix string
}

// text joins event, cause, details and fix into "event: cause; details.
// Fix: fix."
func (e explanation) text(event string, details ...string) string {
	var b strings.Builder
	b.WriteString(event)
	b.WriteString(": ")
	b.WriteString(e.cause)
	for _, d := range details {
		if d != "" {
			b.WriteString("; ")
			b.WriteString(d)
		}
	}
	b.WriteString(fixMark)
	b.WriteString(e.fix)
	b.WriteString(".")
	return b.String()
}

// Explain says what a close with code c usually means and what usually
// fixes it, in one or two sentences: the code (as String gives it), its
// usual cause, then "Fix: " and the usual remedy, for example
//
//	1012 (service restart): the server is restarting, typically during a deploy, and asks clients to come back. Fix: none needed, reconnecting is right; if it repeats for minutes, the server may be failing to start, so check its logs.
//
// The text has no trailing newline. Disconnect.Explain adds what is known
// of one disconnect: the reason the server sent, the limit learned, the
// wait.
func (c CloseCode) Explain() string {
	return closeExplanation(c).text(c.String())
}

// Explain says what happened in d and what usually fixes it, in one or two
// sentences for a person reading logs: the event (the close code as
// CloseCode.String gives it, the HTTP status of a refused handshake, or the
// kind of network or TLS failure found in d.Err), its usual cause with what
// is known of this disconnect (the quoted close reason, the outbound limit
// learned from a 1009, the server's Retry-After, whether this side ended
// the connection, the wait before the next attempt), then "Fix: " and the
// usual remedy. For example:
//
//	1009 (message too big) with reason "over size limit (2049 > 1024 bytes)": the server refused a message larger than its limit; the client's outbound limit is now 1024 bytes; next attempt in 1.5s. Fix: send smaller messages or split them with WithSplitter, set WithMaxMessageSize to the server's limit, or raise the limit on the server.
//
// The text has no trailing newline. It is logged as the "explain"
// attribute of every decision (see WithLogger).
func (d Disconnect) Explain() string {
	var details []string
	var he *HandshakeError
	hasHE := errors.As(d.Err, &he)
	if d.StatusCode != 0 {
		event := "handshake refused with HTTP " + strconv.Itoa(d.StatusCode)
		if t := http.StatusText(d.StatusCode); t != "" {
			event += " (" + t + ")"
		}
		if hasHE && he.RetryAfter > 0 {
			details = append(details, "the server asked to wait "+formatDuration(he.RetryAfter)+" (Retry-After)")
		}
		details = append(details, d.delayDetail())
		return statusExplanation(d.StatusCode).text(event, details...)
	}
	if d.Code == 0 {
		event, e := attemptExplanation(d.Err)
		return e.text(event, d.delayDetail())
	}

	event := d.Code.String()
	if d.Reason != "" && !d.Local {
		event += " with reason " + strconv.Quote(d.Reason)
	}
	var e explanation
	switch {
	case d.Code == CloseMessageTooBig && d.Local:
		e = explanation{
			cause: "the server sent a message larger than this client's read limit, so this client ended the connection (local, not the server's doing)",
			fix:   "raise WithReadLimit above the largest message the server sends, or have the server send smaller messages",
		}
	case d.Code == CloseAbnormalClosure && errors.Is(d.Err, ErrHeartbeatTimeout):
		e = explanation{
			cause: "heartbeat timeout: the server stopped answering pings, so this client declared it dead and ended the connection (local); the server is dead or hung, or the network silently drops packets (a black hole such as lost NAT or firewall state or a broken VPN)",
			fix:   "check the server's health and the network path between the two; if the server is only slow to answer, raise the timeout of WithHeartbeat",
		}
	case d.Code == CloseMessageTooBig && d.Limit > 0:
		e = closeExplanation(d.Code)
		e.cause = "the server refused a message larger than its limit"
		details = append(details, "the client's outbound limit is now "+strconv.Itoa(d.Limit)+" bytes")
	default:
		e = closeExplanation(d.Code)
		if d.Local {
			details = append(details, "ended by this client (local)")
		}
	}
	details = append(details, d.delayDetail())
	return e.text(event, details...)
}

// delayDetail names the wait before the next attempt, if there is one.
func (d Disconnect) delayDetail() string {
	if d.Delay <= 0 {
		return ""
	}
	return "next attempt in " + formatDuration(d.Delay)
}

// formatDuration rounds d to the millisecond, or to the microsecond below
// one millisecond.
func formatDuration(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// unauthorized and forbidden explain 3000 and 3003, and 4401 and 4403.
var (
	unauthorized = explanation{
		cause: "the server rejected the credentials as unauthorized: missing, expired or invalid",
		fix:   "check the credentials sent with the handshake (WithHeader), or send a fresh token on every attempt with WithHeaderFunc",
	}
	forbidden = explanation{
		cause: "the server refused access as forbidden: the credentials are valid but lack the permission or scope for this resource",
		fix:   "check the account's permissions and the token's scope; with WithHeaderFunc, send credentials that carry the right scope",
	}
)

// closeExplanation is the usual cause and fix of a close with code c.
func closeExplanation(c CloseCode) explanation {
	switch c {
	case CloseNormalClosure:
		return explanation{
			cause: "the server closed the connection normally, without an error, for example at the end of a session, on a graceful shutdown or to rebalance its clients",
			fix:   "none needed when it is expected, reconnecting is right; if it happens often, check the server's logs and documentation for why it ends connections",
		}
	case CloseGoingAway:
		return explanation{
			cause: "the server is going away, usually for a deploy, a restart or a shutdown, or a proxy in front of it is draining connections",
			fix:   "none needed, reconnecting is right; if it happens outside deploys, check the logs of the server and of any proxy in front of it",
		}
	case CloseProtocolError:
		return explanation{
			cause: "one side broke the WebSocket protocol: the server received a frame it considers malformed, or the client received a close frame it could not read (a bad close code or invalid UTF-8 in the reason), which points to a bug or to a proxy that rewrites WebSocket traffic",
			fix:   "check the server's logs and any proxy between the two; a retry would fail the same way",
		}
	case CloseUnsupportedData:
		return explanation{
			cause: "the server cannot accept the type of data it received, typically a binary message where it expects text, or text where it expects binary",
			fix:   "send the message type the server expects (TextMessage or BinaryMessage), as its documentation says",
		}
	case CloseNoStatusReceived:
		return explanation{
			cause: "the server sent a close frame without a status code, so it gave no reason",
			fix:   "usually none, reconnecting is right; if it repeats, check the server's logs for why it closes",
		}
	case CloseAbnormalClosure:
		return explanation{
			cause: "the connection dropped without a close frame: a network outage, a server crash or restart, or a proxy or load balancer that closed it as idle because its idle timeout is shorter than the heartbeat interval",
			fix:   "check the network and the server's logs; with a proxy or load balancer in the path, set the interval of WithHeartbeat below its idle timeout",
		}
	case CloseInvalidFramePayloadData:
		return explanation{
			cause: "the server received a message whose content it cannot accept, most often a text message that is not valid UTF-8 or data it cannot parse",
			fix:   "send valid UTF-8 as text (keep the client's UTF-8 check, do not use WithoutUTF8Check) or send the data as BinaryMessage, in the format the server expects",
		}
	case ClosePolicyViolation:
		return explanation{
			cause: "the server closed the connection because something broke its policy, often failed authentication or authorization (a missing, expired or revoked token, no access to the resource) or a usage rule such as a rate limit",
			fix:   "check the credentials the handshake sends and the server's documentation for its rules, starting from the close reason; a retry with the same request would fail the same way",
		}
	case CloseMessageTooBig:
		return explanation{
			cause: "the server refused a message larger than its limit, so the client lowers its outbound limit to the limit the close reason names, or else to half the refused size",
			fix:   "send smaller messages or split them with WithSplitter, set WithMaxMessageSize to the server's limit, or raise the limit on the server",
		}
	case CloseMandatoryExtension:
		return explanation{
			cause: "an endpoint required a WebSocket extension that the other did not agree to in the handshake",
			fix:   "make the extensions match: compression (EnableCompression in the dialer given to WithDialer) and any extension the server's documentation requires",
		}
	case CloseInternalServerErr:
		return explanation{
			cause: "the server hit an unexpected error while handling the connection, a bug or a failing dependency on its side",
			fix:   "check the server's logs; reconnecting with backoff is right when the failure is transient",
		}
	case CloseServiceRestart:
		return explanation{
			cause: "the server is restarting, typically during a deploy, and asks clients to come back",
			fix:   "none needed, reconnecting is right; if it repeats for minutes, the server may be failing to start, so check its logs",
		}
	case CloseTryAgainLater:
		return explanation{
			cause: "the server is overloaded or temporarily unable to serve and asks clients to come back later",
			fix:   "none needed, the client waits at least the floor of WithMinDelay (5s by default) plus the backoff before it reconnects; if it persists, the server needs more capacity",
		}
	case CloseBadGateway:
		return explanation{
			cause: "a gateway or proxy in front of the server got an invalid answer from the server behind it",
			fix:   "check the upstream server and the gateway's logs; the client waits at least the floor of WithMinDelay (5s by default) plus the backoff before it reconnects",
		}
	case CloseTLSHandshake:
		return explanation{
			cause: "the TLS handshake failed, usually a certificate that could not be verified (self-signed, expired, for another host name, or missing an intermediate)",
			fix:   "fix the server's certificate chain, or give the client the right root CAs in the TLSClientConfig of the dialer given to WithDialer",
		}
	case CloseUnauthorized:
		return unauthorized
	case closePrivateUnauthorized:
		return explanation{
			cause: "by common convention (after HTTP 401) unauthorized, " + unauthorized.cause,
			fix:   unauthorized.fix,
		}
	case CloseForbidden:
		return forbidden
	case closePrivateForbidden:
		return explanation{
			cause: "by common convention (after HTTP 403) forbidden, " + forbidden.cause,
			fix:   forbidden.fix,
		}
	case CloseTimeout:
		return explanation{
			cause: "the server closed the connection on a timeout of its own, typically no message or no answer within its idle or request time limit",
			fix:   "send messages or heartbeats more often than the server's timeout (the interval of WithHeartbeat), or check the server's timeout settings",
		}
	}
	switch {
	case c.IsRegistered():
		return explanation{
			cause: "an application-defined code registered for a library or framework, whose meaning the server's framework defines",
			fix:   "see the documentation of the server or its framework for this code, together with the close reason",
		}
	case c.IsPrivate():
		return explanation{
			cause: "an application-defined code private to the server's application",
			fix:   "see the server's documentation for what this code means, together with the close reason",
		}
	case c == 0:
		return explanation{
			cause: "no close code, the attempt failed before a WebSocket connection was up",
			fix:   "look at the error: a refused handshake (its HTTP status), a network failure or a TLS failure",
		}
	case c >= 1000 && c <= 2999:
		return explanation{
			cause: "the server used a code that the WebSocket standard reserves and no endpoint should send, which points to a bug or a nonstandard server",
			fix:   "check the server's implementation and documentation for this code; reconnecting is usually harmless",
		}
	default:
		return explanation{
			cause: "a close code outside the range WebSocket allows, a protocol error by the server",
			fix:   "check the server's implementation; a retry would likely fail the same way",
		}
	}
}

// statusExplanation is the usual cause and fix of a handshake refused with
// an HTTP status.
func statusExplanation(status int) explanation {
	switch status {
	case http.StatusBadRequest:
		return explanation{
			cause: "the server rejected the upgrade request as malformed, often a wrong path or query, a missing or unexpected header or subprotocol, or an HTTP endpoint at this URL that does not speak WebSocket",
			fix:   "check the URL, the headers (WithHeader, WithHeaderFunc) and the subprotocols of the dialer (WithDialer) against the server's documentation",
		}
	case http.StatusUnauthorized:
		return explanation{
			cause: "the server requires authentication and the credentials were missing, expired or invalid",
			fix:   "send valid credentials with WithHeader, or a fresh token on every attempt with WithHeaderFunc",
		}
	case http.StatusForbidden:
		return explanation{
			cause: "the server denies access: the credentials lack permission, the Origin is not allowed, or the client's address is blocked",
			fix:   "check the account's permissions and the Origin the server accepts; with WithHeaderFunc, send credentials that carry the right scope",
		}
	case http.StatusNotFound:
		return explanation{
			cause: "there is no WebSocket endpoint at this path on the server",
			fix:   "check the URL's host and path, and any proxy route in front of the server, against its documentation",
		}
	case http.StatusRequestTimeout:
		return explanation{
			cause: "the server timed out waiting for the upgrade request, usually a slow or congested network",
			fix:   "none needed when rare, the client retries; if it repeats, check the network path and the request timeout of the server or proxy",
		}
	case http.StatusUpgradeRequired:
		return explanation{
			cause: "the server requires a different protocol at this URL, often TLS (wss://) or another WebSocket version or subprotocol",
			fix:   "check the URL's scheme (ws:// or wss://) and the subprotocols of the dialer (WithDialer) against the server's documentation",
		}
	case http.StatusTooManyRequests:
		return explanation{
			cause: "the server is rate-limiting this client: too many connection attempts or requests",
			fix:   "none needed, the client waits at least the Retry-After before it retries; if it persists, open fewer connections per address or use a slower WithBackoff",
		}
	case http.StatusServiceUnavailable:
		return explanation{
			cause: "the server or a proxy in front of it is unavailable: overloaded, starting up or in maintenance",
			fix:   "none needed, the client retries with backoff and waits at least the Retry-After; if it lasts, check the server's health and the load balancer's backends",
		}
	}
	switch {
	case status >= 500:
		return explanation{
			cause: "the server or a proxy in front of it failed while handling the upgrade request",
			fix:   "check the logs of the server and of any proxy or load balancer in front of it; the client retries with backoff",
		}
	case status >= 400:
		return explanation{
			cause: "the server rejected the upgrade request as a client error, which a retry does not fix by itself",
			fix:   "check the URL, the headers and the credentials against the server's documentation, and the server's logs for this status",
		}
	case status >= 300 && status < 400:
		return explanation{
			cause: "the server answered with a redirect, which WebSocket clients do not follow",
			fix:   "use the URL the redirect points to (its Location header)",
		}
	default:
		return explanation{
			cause: "the server answered the upgrade request without switching protocols, so the URL likely points to a plain HTTP endpoint",
			fix:   "check the URL's host and path, and that no proxy in front of the server strips the Upgrade header",
		}
	}
}

// attemptExplanation names a failed attempt that got no HTTP status and
// gives its usual cause and fix, from the error.
func attemptExplanation(err error) (event string, e explanation) {
	var (
		dnsErr    *net.DNSError
		recordErr tls.RecordHeaderError
		hostErr   x509.HostnameError
		opErr     *net.OpError
	)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case err == nil:
		return "disconnected", explanation{
			cause: "no close code, HTTP status or error was recorded",
			fix:   "look at the client's log records around this one for the connection's history",
		}
	case isCertificateError(err):
		cause := "the server's TLS certificate could not be verified: self-signed, expired, issued for another host name or by an authority this machine does not trust"
		if errors.As(err, &hostErr) {
			cause = "the server's TLS certificate is not valid for the host name in the URL"
		}
		return "TLS certificate rejected", explanation{
			cause: cause,
			fix:   "fix the server's certificate chain, or add its CA to the RootCAs of the TLSClientConfig of the dialer given to WithDialer; a retry fails the same way",
		}
	case errors.As(err, &recordErr):
		return "TLS handshake failed", explanation{
			cause: "the server at this address does not speak TLS, often a wss:// URL pointing to a plain HTTP port",
			fix:   "use ws:// for a plain port, or the port where the server serves TLS",
		}
	case errors.As(err, &dnsErr):
		event := "DNS lookup failed"
		if dnsErr.Name != "" {
			event += " for " + strconv.Quote(dnsErr.Name)
		}
		cause := "the host name could not be resolved"
		if dnsErr.IsNotFound {
			cause = "the host name does not exist"
		} else if dnsErr.IsTimeout || dnsErr.IsTemporary {
			cause = "the DNS server did not answer in time or failed temporarily"
		}
		return event, explanation{
			cause: cause,
			fix:   "check the host name in the URL and the machine's DNS settings; a temporary DNS failure clears on its own and the client retries",
		}
	case errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &opErr) && opErr.Op == "dial" && strings.Contains(msg, "refused")):
		return "connection refused", explanation{
			cause: "nothing accepts connections on that address and port, usually because the server is down or restarting, or the port is wrong",
			fix:   "check that the server runs and listens on the URL's host and port; the client retries with backoff",
		}
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset", explanation{
			cause: "the server or something in between (a proxy, a firewall) reset the TCP connection during the handshake",
			fix:   "check the server's logs and any proxy or firewall in the path; the client retries with backoff",
		}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "connection attempt timed out", explanation{
			cause: "the TCP, TLS or WebSocket handshake did not complete within the handshake timeout: an overloaded server, a firewall that drops packets, or a slow network",
			fix:   "check that the server's address is reachable from this machine (firewall, VPN, proxy); raise WithHandshakeTimeout for a slow link",
		}
	case strings.Contains(msg, "wsreconnect: OnConnect: "):
		return "OnConnect hook failed", explanation{
			cause: "the connection came up but the OnConnect hook returned an error (" + msg + "), so the attempt counts as failed",
			fix:   "see the hook's error; wrap it with backoff.Permanent to stop retrying when a retry cannot help",
		}
	case strings.Contains(msg, "wsreconnect: header func: "):
		return "header func failed", explanation{
			cause: "the function given to WithHeaderFunc returned an error or a header the handshake cannot carry (" + msg + ")",
			fix:   "see the function's error, for example a token service that is down; wrap it with backoff.Permanent to stop retrying when a retry cannot help",
		}
	case errors.As(err, &opErr):
		return "network error", explanation{
			cause: "the connection attempt failed in the network (" + msg + ")",
			fix:   "check the network between this machine and the server; the client retries with backoff",
		}
	default:
		return "connection attempt failed", explanation{
			cause: "the attempt ended with an error before a connection was up (" + msg + ")",
			fix:   "see the error; the client retries with backoff unless the error is wrapped with backoff.Permanent",
		}
	}
}
