// Package wstest provides a scriptable WebSocket server for testing
// clients, in the spirit of net/http/httptest: a peer on a loopback
// address that misbehaves on cue, so that a test can check how an
// application reconnects, resubscribes, backs off and resends.
//
//	s := wstest.NewServer(t,
//		wstest.Script(1, wstest.Close(1012, "restart")), // the first connection
//		wstest.RefuseHandshake(3, 503, "1"),             // the third handshake
//	)
//	// connect a client to s.URL ...
//	if err := s.WaitConnections(ctx, 2); err != nil {
//		t.Fatal(err)
//	}
//	for _, m := range s.Received() {
//		t.Logf("connection %d sent %q", m.Conn, m.Data)
//	}
//
// By default the server accepts every handshake, echoes every data message
// back with the same type, answers pings and closing handshakes, and
// records what it reads. Options change that per connection (Script, and
// Default for the connections without a Script) with Actions that run in
// order: send a message (Send), wait for messages (AfterMessages) or time
// (Delay), stop answering pings (NoPong) or reading (StopReading), limit
// the message size (ReadLimit, a natural 1009), and end the connection
// with a close frame (Close), a TCP drop (Drop) or a reset (Reset), or
// hand it to a function (Handle). Handshakes are refused with
// RefuseHandshake or WithHandshakeFunc; WithAcks acknowledges sequence
// numbers for at-least-once tests.
//
// # Numbering
//
// Handshakes are numbered from 1 in the order they arrive, and accepted
// connections separately, also from 1: with the first handshake refused,
// connection 1 is the second handshake. Script and Message.Conn use
// connection numbers, RefuseHandshake and WithHandshakeFunc handshake
// numbers.
//
// # Waiting
//
// Wait, WaitConnections and WaitReceived block on the server's own events
// (no polling) until a condition holds, the context ends or the server
// closes; give them a context with a deadline.
//
// # Resources
//
// A connection uses two goroutines (one with Handle) and no buffer beyond
// gorilla/websocket's, except for what the server records: Received keeps
// every message for the life of the server unless WithRecordLimit caps
// it. Close ends every connection and waits for every goroutine the server
// started.
//
// The package imports only the standard library and
// github.com/gorilla/websocket; close codes and message types are plain
// ints (websocket.TextMessage, websocket.CloseServiceRestart, or 1012).
package wstest
