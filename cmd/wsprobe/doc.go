// Command wsprobe diagnoses a WebSocket endpoint: it connects with the
// wsreconnect SDK and measures what makes connections to it close.
//
//	go run github.com/wsreconnect/wsreconnect/cmd/wsprobe@latest [flags] ws(s)://host/path
//
// Flags go before the URL. By default it reports the handshake (status,
// DNS, TCP, TLS and upgrade times, the subprotocol and compression
// negotiated, the server's answer headers; for a refusal the status,
// Retry-After and an explanation), the ping/pong round trip over -pings
// pings (min, median, p99, max), and whether the server pinged meanwhile.
// Optional probes:
//
//   - -echo: the endpoint echoes; echo round trips are timed too.
//   - -idle: stay connected sending nothing and no pings of our own (the
//     server's pings are answered) until the connection is cut or -idle-max
//     (default 5m) passes; reports when and how it was cut and a heartbeat
//     interval below it, or that the server's keepalive keeps it alive.
//   - -max-size[=SIZE]: find the message size limit to the byte, by binary
//     search with binary messages of up to SIZE bytes (bare: 16MiB; 0, the
//     default, is off), in at most ceil(log2(SIZE)) + 2 connections. It
//     sends real data to the endpoint, and says so on stderr. Give a value
//     with "=": "-max-size 1MiB" reads 1MiB as the URL.
//   - -watch: run the SDK's reconnecting client with its default policy and
//     a heartbeat of -heartbeat (default 20s, timeout half of it), one line
//     per handshake, connection and disconnect (with the decision, the
//     delay and an explanation), until interrupted (Ctrl-C); then a
//     summary. It runs alone: not with -idle, -max-size or -echo.
//
// Options mirror the SDK's: -H "Name: value" (repeatable), -subprotocol
// (comma-separated, repeatable), -compress (offer permessage-deflate),
// -insecure, -ca FILE, -timeout (default 10s: the handshake, and each
// wait for a pong, an echo or a close).
//
// Secrets never appear in the output, text or JSON: the URL's query is
// shown as "?[redacted]", and the values of Authorization, Cookie,
// Set-Cookie and other credential headers (sent or received) as
// "[redacted]"; any text that still carries one of those values (an error,
// a close reason) has it replaced too.
//
// # Exit status
//
//	0  healthy: the handshake succeeded and every probe finished; an idle
//	   timeout or a size limit is a finding, not a failure. With -watch:
//	   interrupted, and the client never aborted.
//	1  unreachable (no answer to the handshake), refused (an HTTP status
//	   other than 101), a close that the SDK's default policy aborts on
//	   (1008, 1002, 4403, ...), or a probe that could not finish (no pong,
//	   no echo, a size probe cut by something other than 1009, interrupted).
//	   With -watch: the client aborted.
//	2  bad usage: unknown flag, bad value, not exactly one ws:// or wss:// URL.
//
// # JSON output, schema_version 1
//
// With -json the probe prints one JSON object; -watch prints one object
// per line, an event for each handshake, connection and disconnect, then
// the report. Every object has "schema_version" (1) and "type" ("report"
// or "event"). Within version 1 fields are only ever added; a field
// removed or changing meaning makes version 2. Durations are float
// milliseconds (names ending in _ms), times RFC 3339.
//
// A report:
//
//	schema_version      1
//	type                "report"
//	mode                "probe" or "watch"
//	url                 the URL, query shown as "?[redacted]"
//	started             when the probe started
//	duration_ms         how long it ran
//	verdict             "healthy", "unreachable", "refused", "aborted" or "incomplete"
//	exit_code           0 for healthy, else 1
//	request_headers     the -H headers, name to values, secret values "[redacted]"
//	handshake           the first handshake, null in watch mode:
//	  ok                  the upgrade succeeded
//	  status              HTTP status, 101 on success, 0 without an answer
//	  dns_ms, connect_ms, tls_ms, upgrade_ms, total_ms
//	  tls_version         "TLS 1.3" for wss, omitted for ws
//	  subprotocol         selected by the server, "" for none
//	  compression_offered  -compress was given
//	  compression         "permessage-deflate" or ""
//	  server              the Server header, omitted when none
//	  response_headers    name to values, secret values "[redacted]"; null without an answer
//	  retry_after_s       a refusal's Retry-After, omitted when none
//	  error               why the handshake failed, omitted on success
//	  explain             the SDK's explanation of a failure (Disconnect.Explain)
//	ping, echo          round trips, omitted when not measured:
//	  count, failed       answered and failed round trips
//	  min_ms, median_ms, p99_ms, max_ms
//	keepalive           the server's pings on the first connection, omitted without one:
//	  server_pings        how many the server sent
//	  watched_ms          for how long the probe watched
//	  interval_ms         mean time between them, omitted below two
//	idle                the -idle probe, omitted without it:
//	  max_ms              -idle-max
//	  cut                 the connection was cut
//	  after_ms            idle time until the cut (or until -idle-max)
//	  code, code_name, reason   the close, omitted when not cut
//	  kept_alive_by_server      not cut, and the server pinged meanwhile
//	  suggested_heartbeat_interval_ms   half the idle timeout, omitted when not cut
//	  finding             one sentence for a person
//	size_limit          the -max-size probe, omitted without it:
//	  max_tried_bytes     the bound given
//	  found               a limit was found below it
//	  limit_bytes         the largest message accepted
//	  refused_at_bytes    the smallest refused (limit_bytes + 1), omitted when not found
//	  code, reason        the refusal's close (1009), omitted when not found
//	  connections, tries  connections opened, messages sent
//	  finding             one sentence for a person
//	watch               the -watch summary, omitted without it:
//	  handshakes, connects
//	  disconnects_by_code   close code (or "failed attempt") to count
//	  aborted, abort_reason
//	disconnects         every disconnect seen, in order (empty in watch mode):
//	  phase               handshake, connect, ping, echo, idle, size, close or watch
//	  at                  when
//	  code, code_name, reason, local   the close (code 0 for a failed attempt)
//	  status              HTTP status of a refused handshake, omitted otherwise
//	  uptime_ms           how long the connection had been up
//	  action              what the SDK's default policy does: reconnect, abort, shrink
//	  delay_ms            the wait before the next attempt (watch mode), omitted when 0
//	  error               the error behind it, omitted when none
//	  explain             the SDK's explanation (Disconnect.Explain)
//	problems            why a probe could not finish, one sentence each (empty when none)
//
// An event (-watch -json):
//
//	schema_version      1
//	type                "event"
//	event               "handshake", "connected" or "disconnect"
//	at                  when
//	handshake           for "handshake": as in the report
//	disconnect          for "disconnect": as an entry of disconnects
package main
