package interop

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// policyRow is one row of the default policy table, reproduced by a real
// peer.
type policyRow struct {
	name string
	// peer is "node" or "python".
	peer string
	// path is the scenario path and query, without the id.
	path string
	// send, when set, is sent once connected to trigger the scenario.
	send *testMessage
	// opts are added to the client's options.
	opts []ws.Option
	// wantCode / wantStatus is what the first Disconnect must carry.
	wantCode   ws.CloseCode
	wantStatus int
	want       ws.Action
	// handshake rows count upgrades on the server, the others connections.
	handshake bool
	// minGap, when set, is the least time between the first and second
	// attempt as the server saw them (Retry-After, the 1013 floor).
	minGap time.Duration
}

func closeRow(p string, code ws.CloseCode, want ws.Action) policyRow {
	return policyRow{
		name:     fmt.Sprintf("%s/close-%d", p, code),
		peer:     p,
		path:     fmt.Sprintf("/close?code=%d&reason=row-%d&after=0", code, code),
		wantCode: code,
		want:     want,
	}
}

func refuseRow(p string, status int, want ws.Action) policyRow {
	return policyRow{
		name:       fmt.Sprintf("%s/handshake-%d", p, status),
		peer:       p,
		path:       fmt.Sprintf("/refuse?status=%d", status),
		wantStatus: status,
		want:       want,
		handshake:  true,
	}
}

// policyRows lists every row of the default policy table (issue 2) with the
// peer behaviour that produces it.
func policyRows() []policyRow {
	var rows []policyRow
	// Close codes the Node peer sends with ws.close(); 1015 and other codes
	// ws will not send go out as a raw close frame. 1014 and 1015 are codes
	// gorilla refuses to receive, which the client must map on purpose.
	for _, code := range []ws.CloseCode{1000, 1001, 1011, 1012, 1014, 3008, 4000, 4999, 3500} {
		rows = append(rows, closeRow("node", code, ws.Reconnect))
	}
	for _, code := range []ws.CloseCode{1002, 1003, 1007, 1008, 1010, 1015, 3000, 3003} {
		rows = append(rows, closeRow("node", code, ws.Abort))
	}
	// The Python peer: codes its close() accepts.
	for _, code := range []ws.CloseCode{1000, 1001, 1011, 1012, 1014, 3008, 4000} {
		rows = append(rows, closeRow("python", code, ws.Reconnect))
	}
	for _, code := range []ws.CloseCode{1002, 1003, 1007, 1008, 1010, 3000, 3003} {
		rows = append(rows, closeRow("python", code, ws.Abort))
	}

	rows = append(rows,
		// 1005: an empty close frame.
		policyRow{name: "node/close-1005-empty-frame", peer: "node", path: "/close?code=none&after=0",
			wantCode: ws.CloseNoStatusReceived, want: ws.Reconnect},
		// 1006: the connection ends without a close frame, three ways.
		policyRow{name: "node/1006-eof", peer: "node", path: "/drop?after=0",
			wantCode: ws.CloseAbnormalClosure, want: ws.Reconnect},
		policyRow{name: "node/1006-reset", peer: "node", path: "/reset?after=0",
			wantCode: ws.CloseAbnormalClosure, want: ws.Reconnect},
		policyRow{name: "node/1006-pong-timeout", peer: "node", path: "/nopong",
			opts:     []ws.Option{ws.WithHeartbeat(100*time.Millisecond, 300*time.Millisecond)},
			wantCode: ws.CloseAbnormalClosure, want: ws.Reconnect},
		// 1013: reconnect, but not before its floor.
		policyRow{name: "node/close-1013-floor", peer: "node", path: "/close?code=1013&after=0",
			opts:     []ws.Option{ws.WithMinDelay(ws.CloseTryAgainLater, 400*time.Millisecond)},
			wantCode: ws.CloseTryAgainLater, want: ws.Reconnect, minGap: 400 * time.Millisecond},
		policyRow{name: "python/close-1013-floor", peer: "python", path: "/close?code=1013&after=0",
			opts:     []ws.Option{ws.WithMinDelay(ws.CloseTryAgainLater, 400*time.Millisecond)},
			wantCode: ws.CloseTryAgainLater, want: ws.Reconnect, minGap: 400 * time.Millisecond},
		// 1007 as each peer sends it by itself: a text message that is not
		// UTF-8, written because the client's own check is off.
		policyRow{name: "node/1007-natural-invalid-utf8", peer: "node", path: "/utf8",
			opts:     []ws.Option{ws.WithoutUTF8Check()},
			send:     &testMessage{typ: ws.TextMessage, data: []byte{'o', 'k', 0xff, 0xfe}},
			wantCode: ws.CloseInvalidFramePayloadData, want: ws.Abort},
		policyRow{name: "python/1007-natural-invalid-utf8", peer: "python", path: "/echo",
			opts:     []ws.Option{ws.WithoutUTF8Check()},
			send:     &testMessage{typ: ws.TextMessage, data: []byte{'o', 'k', 0xc3, 0x28}},
			wantCode: ws.CloseInvalidFramePayloadData, want: ws.Abort},
		// 1009 as each peer sends it by itself: shrink, then reconnect.
		policyRow{name: "node/1009-natural-maxpayload", peer: "node", path: "/maxpayload?max=64",
			send:     &testMessage{typ: ws.BinaryMessage, data: make([]byte, 200)},
			wantCode: ws.CloseMessageTooBig, want: ws.Shrink},
		policyRow{name: "python/1009-natural-max-size", peer: "python", path: "/maxsize?max=64",
			send:     &testMessage{typ: ws.BinaryMessage, data: make([]byte, 200)},
			wantCode: ws.CloseMessageTooBig, want: ws.Shrink},
	)

	for _, status := range []int{408, 429, 500, 502, 503} {
		rows = append(rows, refuseRow("node", status, ws.Reconnect))
	}
	for _, status := range []int{400, 401, 403, 404, 410} {
		rows = append(rows, refuseRow("node", status, ws.Abort))
	}
	for _, status := range []int{429, 503} {
		rows = append(rows, refuseRow("python", status, ws.Reconnect))
	}
	for _, status := range []int{401, 403, 404} {
		rows = append(rows, refuseRow("python", status, ws.Abort))
	}
	// Retry-After is a minimum wait.
	for _, status := range []int{429, 503} {
		r := refuseRow("node", status, ws.Reconnect)
		r.name += "-retry-after"
		r.path += "&retry=1"
		r.minGap = time.Second
		rows = append(rows, r)
	}

	// Network errors during the handshake: the server resets the TCP
	// connection instead of answering, or never answers at all.
	rows = append(rows,
		policyRow{name: "node/handshake-reset", peer: "node", path: "/rstupgrade",
			want: ws.Reconnect, handshake: true},
		policyRow{name: "node/handshake-timeout", peer: "node", path: "/hang",
			opts: []ws.Option{ws.WithHandshakeTimeout(300 * time.Millisecond)},
			want: ws.Reconnect, handshake: true},
	)
	return rows
}

// TestDefaultPolicyTable reproduces every row of the default policy table
// with a real peer. A reconnect row must bring a new connection (or upgrade
// request) to the server; an abort row must bring none, and Err() must hold
// the close code (*CloseError) or the HTTP status (*HandshakeError).
func TestDefaultPolicyTable(t *testing.T) {
	leakCheck(t)
	peers := map[string]*peer.Process{
		"node":   peer.StartNode(t, peer.NodeOptions{}),
		"python": peer.StartPython(t, peer.PythonOptions{}),
	}
	for i, row := range policyRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			p := peers[row.peer]
			key := "policy-" + strconv.Itoa(i)
			sep := "?"
			if strings.Contains(row.path, "?") {
				sep = "&"
			}
			runPolicyRow(t, p, p.URL(row.path+sep+"id="+key), key, row)
		})
	}
}

func runPolicyRow(t *testing.T, p *peer.Process, url, key string, row policyRow) {
	rec := newRecorder()
	opts := append([]ws.Option{ws.WithHandshakeTimeout(3 * time.Second)}, row.opts...)
	c := newClient(t, url, rec, opts...)
	if row.send != nil {
		waitConnected(t, c, 10*time.Second)
		ctx := ctxFor(t, 5*time.Second)
		if err := c.Send(ctx, row.send.typ, row.send.data); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	e := rec.nextDisconnect(t, 10*time.Second)
	if row.wantCode != 0 && e.D.Code != row.wantCode {
		t.Errorf("Disconnect.Code = %d, want %d (%s)", e.D.Code, row.wantCode, describe(e))
	}
	if row.wantStatus != 0 && e.D.StatusCode != row.wantStatus {
		t.Errorf("Disconnect.StatusCode = %d, want %d (%s)", e.D.StatusCode, row.wantStatus, describe(e))
	}
	if row.handshake && row.wantStatus == 0 && (e.D.Code != 0 || e.D.StatusCode != 0 || e.D.Err == nil) {
		t.Errorf("network error during the handshake: got %s, want Code 0, StatusCode 0 and an error", describe(e))
	}
	if e.A != row.want {
		t.Errorf("action = %v, want %v (%s)", e.A, row.want, describe(e))
	}

	count := func(s peer.Stats) int {
		if row.handshake {
			return s.Upgrades
		}
		return s.Connections
	}
	switch row.want {
	case ws.Reconnect, ws.Shrink:
		snap := peer.WaitStats(t, p, key, 10*time.Second, "a new attempt arrives", func(s peer.Stats) bool {
			return count(s) >= 2
		})
		if row.minGap > 0 {
			times := snap.Stats.ConnectTimes
			if row.handshake {
				times = snap.Stats.UpgradeTimes
			}
			// Server clocks tick in milliseconds: allow one.
			if gap := time.Duration(times[1]-times[0]) * time.Millisecond; gap < row.minGap-time.Millisecond {
				t.Errorf("second attempt %v after the first, want at least %v", gap, row.minGap)
			} else {
				t.Logf("second attempt %v after the first (floor %v)", gap, row.minGap)
			}
		}
		select {
		case <-c.Done():
			t.Errorf("client stopped on a reconnect row: Err = %v", c.Err())
		default:
		}
	case ws.Abort:
		waitDone(t, c, 10*time.Second)
		err := c.Err()
		if row.wantCode != 0 && closeCode(err) != row.wantCode {
			t.Errorf("Err() = %v, want a *CloseError with code %d", err, row.wantCode)
		}
		if row.wantStatus != 0 && handshakeStatus(err) != row.wantStatus {
			t.Errorf("Err() = %v, want a *HandshakeError with status %d", err, row.wantStatus)
		}
		// Done is closed and the client's goroutine has ended: no attempt can
		// follow, so the server's count is final.
		snap := peer.ReadStats(t, p, key)
		if got := count(snap.Stats); got != 1 {
			t.Errorf("server saw %d attempts, want exactly 1 (no reconnect after an abort)", got)
		}
		if d, _ := rec.count(); d != 1 {
			t.Errorf("%d OnDisconnect calls, want 1: %v", d, rec.all())
		}
	}
}

// TestNetworkErrorConnectionRefused: nothing listens on the port. Every
// attempt is a network error and a reconnect; once a peer listens there the
// client connects.
func TestNetworkErrorConnectionRefused(t *testing.T) {
	leakCheck(t)
	port := peer.FreePort(t)
	rec := newRecorder()
	c := newClient(t, "ws://127.0.0.1:"+strconv.Itoa(port)+"/echo?id=refused", rec)
	for i := 1; i <= 3; i++ {
		e := rec.nextDisconnect(t, 5*time.Second)
		if e.D.Code != 0 || e.D.StatusCode != 0 || e.D.Err == nil || e.A != ws.Reconnect || e.D.Attempt != i {
			t.Errorf("attempt %d: got %s, want a network error, Attempt %d and Reconnect", i, describe(e), i)
		}
	}
	n := peer.StartNode(t, peer.NodeOptions{Port: port})
	waitConnected(t, c, 5*time.Second)
	roundTrip(t, c, ws.TextMessage, []byte("finally"))
	peer.WaitStats(t, n, "refused", 5*time.Second, "one connection", func(s peer.Stats) bool {
		return s.Connections == 1 && s.Messages == 1
	})
}

// TestInvalidUTF8FailsFast: with its UTF-8 check on (the default), the
// client refuses a text message that is not UTF-8 with ErrInvalidUTF8 before
// writing it, so the peer never sees it and the connection stays up.
func TestInvalidUTF8FailsFast(t *testing.T) {
	leakCheck(t)
	for _, name := range []string{"node", "python"} {
		t.Run(name, func(t *testing.T) {
			var p *peer.Process
			if name == "node" {
				p = peer.StartNode(t, peer.NodeOptions{})
			} else {
				p = peer.StartPython(t, peer.PythonOptions{})
			}
			rec := newRecorder()
			c := dial(t, p.URL("/echo?id=utf8"), rec)
			ctx := ctxFor(t, 5*time.Second)
			if err := c.Send(ctx, ws.TextMessage, []byte{'o', 'k', 0xff}); !errors.Is(err, ws.ErrInvalidUTF8) {
				t.Errorf("Send(invalid UTF-8 text) = %v, want ErrInvalidUTF8", err)
			}
			// The same bytes as a binary message are fine.
			roundTrip(t, c, ws.BinaryMessage, []byte{'o', 'k', 0xff})
			roundTrip(t, c, ws.TextMessage, []byte("still connected: é€😀"))
			s := peer.ReadStats(t, p, "utf8").Stats
			if s.Connections != 1 || s.Messages != 2 || s.TextMessages != 1 {
				t.Errorf("server saw %d connections, %d messages (%d text); want 1, 2 (1 text)", s.Connections, s.Messages, s.TextMessages)
			}
			if d, _ := rec.count(); d != 0 {
				t.Errorf("%d disconnects, want none: %v", d, rec.all())
			}
		})
	}
}
