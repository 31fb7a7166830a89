package wsreconnect

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// checkURL reports why raw is not a usable WebSocket URL: it must parse,
// have the scheme ws or wss, a non-empty host name, no port or a port in
// 1-65535, and no credentials. The error never contains the URL's
// credentials or query.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL, credentials and query included
		}
		return fmt.Errorf("bad URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("bad URL %q: scheme must be ws or wss", redactURL(u))
	}
	if u.User != nil {
		return fmt.Errorf("bad URL %q: credentials in the URL are not sent by WebSocket clients; use WithHeader or WithHeaderFunc", redactURL(u))
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", redactURL(u))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bad URL %q: empty host name", redactURL(u))
	}
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("bad URL %q: empty port", redactURL(u))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || !isDigits(p) {
			return fmt.Errorf("bad URL %q: port must be a number in 1-65535", redactURL(u))
		}
	}
	return nil
}

// redactRaw is redactURL for a URL checked by checkURL.
func redactRaw(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return redactURL(u)
}

// redactURL returns u without credentials, query or fragment, for logs and
// error messages.
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// reservedHeaders are the handshake headers gorilla's Dialer sets itself and
// refuses to take from the caller (as duplicates).
var reservedHeaders = []string{
	"Upgrade",
	"Connection",
	"Sec-WebSocket-Key",
	"Sec-WebSocket-Version",
	"Sec-WebSocket-Extensions",
}

// checkHeader reports a handshake header that the WebSocket handshake sets
// itself, whatever its letter case. The error names the header, never its
// values.
func checkHeader(h http.Header) error {
	for k := range h {
		for _, r := range reservedHeaders {
			if strings.EqualFold(k, r) {
				return fmt.Errorf("header %q is set by the WebSocket handshake and cannot be given", k)
			}
		}
	}
	return nil
}
