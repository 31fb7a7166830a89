package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wsreconnect/wsreconnect"
)

// schemaVersion is the version of the -json output (see the package
// documentation). It changes when a field is removed or changes meaning;
// new fields may be added within a version.
const schemaVersion = 1

// Verdicts, and the exit status each gives.
const (
	verdictHealthy     = "healthy"     // exit 0
	verdictUnreachable = "unreachable" // exit 1: no handshake answer
	verdictRefused     = "refused"     // exit 1: the handshake was refused
	verdictAborted     = "aborted"     // exit 1: a close the SDK would not reconnect after
	verdictIncomplete  = "incomplete"  // exit 1: a probe could not finish
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Report is the result of a probe, the -json output (type "report").
type Report struct {
	SchemaVersion int                 `json:"schema_version"`
	Type          string              `json:"type"` // "report"
	Mode          string              `json:"mode"` // "probe" or "watch"
	URL           string              `json:"url"`
	Started       time.Time           `json:"started"`
	DurationMs    float64             `json:"duration_ms"`
	Verdict       string              `json:"verdict"`
	ExitCode      int                 `json:"exit_code"`
	RequestHeader map[string][]string `json:"request_headers"`
	Handshake     *HandshakeReport    `json:"handshake"`
	Ping          *RTTReport          `json:"ping,omitempty"`
	Echo          *RTTReport          `json:"echo,omitempty"`
	Keepalive     *KeepaliveReport    `json:"keepalive,omitempty"`
	Idle          *IdleReport         `json:"idle,omitempty"`
	SizeLimit     *SizeReport         `json:"size_limit,omitempty"`
	Watch         *WatchReport        `json:"watch,omitempty"`
	Disconnects   []DisconnectReport  `json:"disconnects"`
	Problems      []string            `json:"problems"`
}

// HandshakeReport is the first handshake of the probe.
type HandshakeReport struct {
	OK                 bool                `json:"ok"`
	Status             int                 `json:"status"`
	DNSMs              float64             `json:"dns_ms"`
	ConnectMs          float64             `json:"connect_ms"`
	TLSMs              float64             `json:"tls_ms"`
	UpgradeMs          float64             `json:"upgrade_ms"`
	TotalMs            float64             `json:"total_ms"`
	TLSVersion         string              `json:"tls_version,omitempty"`
	Subprotocol        string              `json:"subprotocol"`
	CompressionOffered bool                `json:"compression_offered"`
	Compression        string              `json:"compression"`
	Server             string              `json:"server,omitempty"`
	Header             map[string][]string `json:"response_headers"`
	RetryAfterSeconds  float64             `json:"retry_after_s,omitempty"`
	Error              string              `json:"error,omitempty"`
	Explain            string              `json:"explain,omitempty"`
}

// RTTReport is a series of round trips.
type RTTReport struct {
	Count    int     `json:"count"`
	Failed   int     `json:"failed"`
	MinMs    float64 `json:"min_ms"`
	MedianMs float64 `json:"median_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// KeepaliveReport is what was seen of the server's own pings.
type KeepaliveReport struct {
	ServerPings int64   `json:"server_pings"`
	WatchedMs   float64 `json:"watched_ms"`
	IntervalMs  float64 `json:"interval_ms,omitempty"`
}

// IdleReport is the idle timeout probe.
type IdleReport struct {
	MaxMs               float64 `json:"max_ms"`
	Cut                 bool    `json:"cut"`
	AfterMs             float64 `json:"after_ms"`
	Code                int     `json:"code,omitempty"`
	CodeName            string  `json:"code_name,omitempty"`
	Reason              string  `json:"reason,omitempty"`
	KeptAliveByServer   bool    `json:"kept_alive_by_server"`
	HeartbeatIntervalMs float64 `json:"suggested_heartbeat_interval_ms,omitempty"`
	Finding             string  `json:"finding"`
}

// SizeReport is the message size limit probe.
type SizeReport struct {
	MaxTried    int    `json:"max_tried_bytes"`
	Found       bool   `json:"found"`
	LimitBytes  int    `json:"limit_bytes"`
	RefusedAt   int    `json:"refused_at_bytes,omitempty"`
	Code        int    `json:"code,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Connections int    `json:"connections"`
	Tries       int    `json:"tries"`
	Finding     string `json:"finding"`
}

// WatchReport sums up -watch.
type WatchReport struct {
	Handshakes  int              `json:"handshakes"`
	Connects    int64            `json:"connects"`
	Disconnects map[string]int64 `json:"disconnects_by_code"`
	Aborted     bool             `json:"aborted"`
	Abort       string           `json:"abort_reason,omitempty"`
}

// DisconnectReport is one disconnect or failed attempt.
type DisconnectReport struct {
	Phase    string    `json:"phase"` // handshake, ping, echo, idle, size, watch, close
	At       time.Time `json:"at"`
	Code     int       `json:"code"`
	CodeName string    `json:"code_name,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Local    bool      `json:"local"`
	Status   int       `json:"status,omitempty"`
	UptimeMs float64   `json:"uptime_ms"`
	Action   string    `json:"action"` // what the SDK's default policy does
	DelayMs  float64   `json:"delay_ms,omitempty"`
	Error    string    `json:"error,omitempty"`
	Explain  string    `json:"explain"`
}

// Event is one line of -watch -json output (type "event").
type Event struct {
	SchemaVersion int               `json:"schema_version"`
	Type          string            `json:"type"`  // "event"
	Event         string            `json:"event"` // handshake, connected, disconnect
	At            time.Time         `json:"at"`
	Handshake     *HandshakeReport  `json:"handshake,omitempty"`
	Disconnect    *DisconnectReport `json:"disconnect,omitempty"`
}

func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

func fromMs(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// showURL is raw without credentials, and with "?[redacted]" for a query.
func showURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	s := r.String()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?[redacted]"
	}
	return s
}

const redacted = "[redacted]"

// secretHeader reports whether the values of header name may hold a
// credential.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "set-cookie2":
		return true
	case "www-authenticate", "proxy-authenticate", "sec-websocket-key", "sec-websocket-accept":
		return false
	}
	for _, w := range []string{"token", "secret", "auth", "session", "key", "password", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redactHeader copies h, with the values of secret headers replaced.
func redactHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		if secretHeader(k) {
			r := make([]string, len(vs))
			for i := range r {
				r[i] = redacted
			}
			out[k] = r
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// scrubber removes secrets from output, whatever text carried them there:
// a belt to the braces of showURL and redactHeader.
type scrubber struct{ secrets []string }

func (s *scrubber) add(v string) {
	v = strings.TrimSpace(v)
	if len(v) < 4 {
		return // too short to find without mangling the rest
	}
	s.secrets = append(s.secrets, v)
	// The same text as it appears inside a JSON string.
	if b, err := json.Marshal(v); err == nil {
		if j := string(b[1 : len(b)-1]); j != v {
			s.secrets = append(s.secrets, j)
		}
	}
	if e := url.QueryEscape(v); e != v {
		s.secrets = append(s.secrets, e)
	}
}

// addURL takes the query of raw, and each of its values, as secrets.
func (s *scrubber) addURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	s.add(u.RawQuery)
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 { // a token, not a small parameter like max=1024
				s.add(v)
			}
		}
	}
}

// addHeader takes the values of h's secret headers as secrets, and for
// cookies each name=value pair and value.
func (s *scrubber) addHeader(h http.Header) {
	for k, vs := range h {
		if !secretHeader(k) {
			continue
		}
		for _, v := range vs {
			s.add(v)
			for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
				if _, val, ok := strings.Cut(part, "="); ok {
					s.add(val)
				}
				if _, tok, ok := strings.Cut(part, " "); ok {
					s.add(tok)
				}
			}
			if _, tok, ok := strings.Cut(v, " "); ok { // "Bearer TOKEN"
				s.add(tok)
			}
		}
	}
}

func (s *scrubber) scrub(b []byte) []byte {
	for _, v := range s.secrets {
		b = bytes.ReplaceAll(b, []byte(v), []byte(redacted))
	}
	return b
}

// writeJSON writes v as one line of JSON, scrubbed.
func writeJSON(w io.Writer, sc *scrubber, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(sc.scrub(buf.Bytes()))
	return err
}

// fmtMs formats a duration given in milliseconds.
func fmtMs(f float64) string {
	d := fromMs(f)
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func headerLine(h map[string][]string) string {
	var parts []string
	for _, k := range sortedKeys(h) {
		parts = append(parts, k+": "+strings.Join(h[k], ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// handshakeLine is the one-line summary of a handshake.
func handshakeLine(h *HandshakeReport) string {
	var b strings.Builder
	if h.Status != 0 {
		b.WriteString(strconv.Itoa(h.Status) + " " + http.StatusText(h.Status))
	} else {
		b.WriteString("no answer")
	}
	fmt.Fprintf(&b, " in %s (dns %s, tcp %s, tls %s, upgrade %s)", fmtMs(h.TotalMs), fmtMs(h.DNSMs), fmtMs(h.ConnectMs), tlsText(h), fmtMs(h.UpgradeMs))
	return b.String()
}

func tlsText(h *HandshakeReport) string {
	if h.TLSMs == 0 && h.TLSVersion == "" {
		return "-"
	}
	s := fmtMs(h.TLSMs)
	if h.TLSVersion != "" {
		s += " " + h.TLSVersion
	}
	return s
}

func disconnectLine(d DisconnectReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s ", d.Phase)
	if d.UptimeMs > 0 {
		fmt.Fprintf(&b, "after %s up: ", fmtMs(d.UptimeMs))
	}
	b.WriteString(d.Explain)
	fmt.Fprintf(&b, " [default policy: %s]", d.Action)
	return b.String()
}

// writeText writes the report for a person, scrubbed.
func writeText(w io.Writer, sc *scrubber, r *Report) error {
	var b bytes.Buffer
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-13s %s\n", label, fmt.Sprintf(format, args...))
	}
	more := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "wsprobe %s\n\n", r.URL)
	if len(r.RequestHeader) > 0 {
		line("Sent", "%s", headerLine(r.RequestHeader))
	}
	if h := r.Handshake; h != nil {
		line("Handshake", "%s", handshakeLine(h))
		if h.OK {
			more("subprotocol", "%s", orNone(h.Subprotocol))
			switch {
			case h.Compression != "":
				more("compression", "%s", h.Compression)
			case h.CompressionOffered:
				more("compression", "offered, declined by the server")
			default:
				more("compression", "not offered (-compress offers it)")
			}
		}
		if h.Server != "" {
			more("server", "%s", h.Server)
		}
		if h.Header != nil {
			more("headers", "%s", headerLine(h.Header))
		}
		if h.RetryAfterSeconds > 0 {
			more("retry after", "%s", fmtMs(h.RetryAfterSeconds*1000))
		}
		if h.Error != "" {
			more("error", "%s", h.Error)
		}
		if h.Explain != "" {
			more("explain", "%s", h.Explain)
		}
	}
	rtt := func(label string, x *RTTReport) {
		if x == nil {
			return
		}
		if x.Count == 0 {
			line(label, "no answer (%d failed)", x.Failed)
			return
		}
		s := fmt.Sprintf("%d round trips: min %s, median %s, p99 %s, max %s", x.Count, fmtMs(x.MinMs), fmtMs(x.MedianMs), fmtMs(x.P99Ms), fmtMs(x.MaxMs))
		if x.Failed > 0 {
			s += fmt.Sprintf(" (%d failed)", x.Failed)
		}
		line(label, "%s", s)
	}
	rtt("Ping", r.Ping)
	rtt("Echo", r.Echo)
	if k := r.Keepalive; k != nil {
		switch {
		case k.ServerPings == 0:
			line("Keepalive", "the server sent no ping in %s", fmtMs(k.WatchedMs))
		case k.IntervalMs > 0:
			line("Keepalive", "the server pings, every %s (%d pings in %s)", fmtMs(k.IntervalMs), k.ServerPings, fmtMs(k.WatchedMs))
		default:
			line("Keepalive", "the server pings (%d ping in %s)", k.ServerPings, fmtMs(k.WatchedMs))
		}
	}
	if i := r.Idle; i != nil {
		line("Idle timeout", "%s", i.Finding)
	}
	if s := r.SizeLimit; s != nil {
		line("Size limit", "%s", s.Finding)
	}
	if wr := r.Watch; wr != nil {
		s := fmt.Sprintf("%d handshakes, %d connections", wr.Handshakes, wr.Connects)
		if len(wr.Disconnects) > 0 {
			var parts []string
			for _, k := range sortedKeys(wr.Disconnects) {
				parts = append(parts, fmt.Sprintf("%s ×%d", k, wr.Disconnects[k]))
			}
			s += "; disconnects: " + strings.Join(parts, ", ")
		}
		if wr.Aborted {
			s += "; aborted: " + wr.Abort
		}
		line("Watch", "%s", s)
	}
	if len(r.Disconnects) > 0 && r.Mode != "watch" {
		line("Disconnects", "%d", len(r.Disconnects))
		// Alike ones in a row (the size probe's 1009s) make one line.
		for i := 0; i < len(r.Disconnects); {
			d, n := r.Disconnects[i], 1
			for i+n < len(r.Disconnects) && alike(d, r.Disconnects[i+n]) {
				n++
			}
			if n > 1 {
				d.UptimeMs = 0
				fmt.Fprintf(&b, "  %s (×%d)\n", disconnectLine(d), n)
			} else {
				fmt.Fprintf(&b, "  %s\n", disconnectLine(d))
			}
			i += n
		}
	}
	for _, p := range r.Problems {
		line("Problem", "%s", p)
	}
	line("Verdict", "%s (exit %d) after %s", r.Verdict, r.ExitCode, fmtMs(r.DurationMs))
	_, err := w.Write(sc.scrub(b.Bytes()))
	return err
}

func alike(a, b DisconnectReport) bool {
	return a.Phase == b.Phase && a.Code == b.Code && a.Status == b.Status && a.Explain == b.Explain && a.Action == b.Action
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// disconnectReport describes d, seen during phase.
func disconnectReport(phase string, d wsreconnect.Disconnect, at time.Time, action wsreconnect.Action) DisconnectReport {
	r := DisconnectReport{
		Phase:    phase,
		At:       at,
		Code:     int(d.Code),
		Reason:   d.Reason,
		Local:    d.Local,
		Status:   d.StatusCode,
		UptimeMs: ms(d.Uptime),
		Action:   action.String(),
		DelayMs:  ms(d.Delay),
		Explain:  d.Explain(),
	}
	if d.Code != 0 {
		r.CodeName = d.Code.String()
	}
	if d.Err != nil {
		r.Error = d.Err.Error()
	}
	return r
}

// handshakeReport describes h; offered says whether compression was
// offered.
func handshakeReport(h wsreconnect.Handshake, offered bool) *HandshakeReport {
	r := &HandshakeReport{
		OK:                 h.Err == nil,
		Status:             h.StatusCode,
		DNSMs:              ms(h.DNS),
		ConnectMs:          ms(h.Connect),
		TLSMs:              ms(h.TLS),
		UpgradeMs:          ms(h.Upgrade),
		TotalMs:            ms(h.Total),
		Subprotocol:        h.Subprotocol,
		CompressionOffered: offered,
	}
	if h.Compression {
		r.Compression = "permessage-deflate"
	}
	if h.TLSState != nil {
		r.TLSVersion = tlsVersionName(h.TLSState.Version)
	}
	if h.Header != nil {
		r.Header = redactHeader(h.Header)
		r.Server = h.Header.Get("Server")
	}
	if h.Err != nil {
		r.Error = h.Err.Error()
		var he *wsreconnect.HandshakeError
		if errors.As(h.Err, &he) && he.RetryAfter > 0 {
			r.RetryAfterSeconds = he.RetryAfter.Seconds()
		}
	}
	return r
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return "TLS 0x" + strconv.FormatUint(uint64(v), 16)
}
