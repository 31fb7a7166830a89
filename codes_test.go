package wsreconnect

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloseFromErrorKeepsCodesInRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		code   CloseCode
		reason string
		local  bool
	}{
		{&websocket.CloseError{Code: 1008, Text: "no"}, ClosePolicyViolation, "no", false},
		{&websocket.CloseError{Code: 4999, Text: "x"}, 4999, "x", false},
		{&websocket.CloseError{Code: 1006, Text: "unexpected EOF"}, CloseAbnormalClosure, "", false},
		{&websocket.CloseError{Code: 999, Text: "x"}, CloseProtocolError, "x", false},
		{&websocket.CloseError{Code: 5000}, CloseProtocolError, "", false},
		{&websocket.CloseError{Code: 0}, CloseProtocolError, "", false},
		{fmt.Errorf("read: %w", &websocket.CloseError{Code: 1013}), CloseTryAgainLater, "", false},
		{errors.New("websocket: bad close code 1004"), 1004, "", false},
		{fmt.Errorf("read: %w", errors.New("websocket: bad close code 1004")), 1004, "", false},
		{fmt.Errorf("read: %w", errors.New("websocket: invalid utf8 payload in close frame")), CloseProtocolError, "invalid UTF-8 in close reason", false},
		{errors.New("websocket: bad close code 2999"), 2999, "", false},
		{errors.New("websocket: bad close code 1000"), CloseNormalClosure, "", false},
		{errors.New("websocket: bad close code 4999"), 4999, "", false},
		{errors.New("websocket: bad close code 0"), CloseProtocolError, "", false},
		{errors.New("websocket: bad close code 999"), CloseProtocolError, "", false},
		{errors.New("websocket: bad close code 5000"), CloseProtocolError, "", false},
		{errors.New("websocket: bad close code 65535"), CloseProtocolError, "", false},
		{errors.New("websocket: bad close code 99999999999999999999999"), CloseProtocolError, "", false},
		{errors.New("websocket: bad close code -1"), CloseAbnormalClosure, "", false},
		{errors.New("websocket: invalid utf8 payload in close frame"), CloseProtocolError, "invalid UTF-8 in close reason", false},
		{websocket.ErrReadLimit, CloseMessageTooBig, "read limit exceeded", true},
		{io.EOF, CloseAbnormalClosure, "", false},
	}
	for _, tt := range tests {
		code, reason, local := closeFromError(tt.err)
		assert.Equal(t, tt.code, code, tt.err.Error())
		assert.Equal(t, tt.reason, reason, tt.err.Error())
		assert.Equal(t, tt.local, local, tt.err.Error())
	}
}

// TestCloseFromErrorOnTheWire feeds close frames to a real gorilla
// connection, so that a change in gorilla's error texts shows up here.
func TestCloseFromErrorOnTheWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload []byte
		code    CloseCode
		reason  string
	}{
		{closePayload(1008, "policy"), ClosePolicyViolation, "policy"},
		{closePayload(4001, ""), 4001, ""},
		{closePayload(1004, "x"), 1004, ""},
		{closePayload(2500, ""), 2500, ""},
		{closePayload(0, ""), CloseProtocolError, ""},
		{closePayload(999, "x"), CloseProtocolError, ""},
		{closePayload(5000, "x"), CloseProtocolError, ""},
		{closePayload(65535, "x"), CloseProtocolError, ""},
		{closePayload(1008, "bad \xff reason"), CloseProtocolError, "invalid UTF-8 in close reason"},
		{closePayload(4000, "\xc3"), CloseProtocolError, "invalid UTF-8 in close reason"},
		{nil, CloseNoStatusReceived, ""},
	}
	for _, tt := range tests {
		code, reason, local := closeFromError(readCloseFrame(t, tt.payload))
		assert.Equal(t, tt.code, code, "%q", tt.payload)
		assert.Equal(t, tt.reason, reason, "%q", tt.payload)
		assert.False(t, local, "%q", tt.payload)
	}
}

// closePayload is the payload of a close frame with code and reason, which
// may be anything: nothing is checked.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// readCloseFrame has a gorilla client connection, over an in-memory pipe,
// receive a close frame with payload (at most 125 bytes) and returns the
// error its read gives.
func readCloseFrame(t testing.TB, payload []byte) error {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- servePipe(server, payload)
	}()
	d := websocket.Dialer{
		NetDialContext:   func(context.Context, string, string) (net.Conn, error) { return client, nil },
		HandshakeTimeout: 10 * time.Second,
	}
	ws, resp, err := d.Dial("ws://pipe.test/", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _, readErr := ws.ReadMessage()
	ws.Close()
	require.NoError(t, <-done)
	return readErr
}

// servePipe answers the opening handshake on conn, sends a close frame with
// payload and drains conn until the client closes it.
func servePipe(conn net.Conn, payload []byte) error {
	defer conn.Close()
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	h := sha1.New()
	h.Write([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := base64.StdEncoding.EncodeToString(h.Sum(nil))
	msg := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + accept + "\r\n\r\n"
	frame := append([]byte(msg), 0x88, byte(len(payload))) // FIN + close, unmasked
	frame = append(frame, payload...)
	if _, err := conn.Write(frame); err != nil {
		return fmt.Errorf("write close frame of %d bytes: %w", len(payload), err)
	}
	_, _ = io.Copy(io.Discard, br) // the client's answer, until it closes
	return nil
}
