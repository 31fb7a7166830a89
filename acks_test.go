package wsreconnect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// seqAcks is the protocol of these tests: "seq:N" carries N, "ack:N"
// acknowledges up to N.
func seqAcks(consume bool) Acks {
	parse := func(prefix string, data []byte) (uint64, bool) {
		s, ok := strings.CutPrefix(string(data), prefix)
		if !ok {
			return 0, false
		}
		if i := strings.IndexByte(s, ' '); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	return Acks{
		ID:      func(_ MessageType, data []byte) (uint64, bool) { return parse("seq:", data) },
		Acked:   func(_ MessageType, data []byte) (uint64, bool) { return parse("ack:", data) },
		Consume: consume,
	}
}

func seqMsg(n int) []byte { return []byte("seq:" + strconv.Itoa(n)) }

// receivedOn returns what the server recorded on connection conn, recorded
// as "conn/data" by the servers of these tests, without the prefix.
func receivedOn(srv *testServer, conn int) []string {
	_, _, received := srv.snapshot()
	prefix := strconv.Itoa(conn) + "/"
	var got []string
	for _, r := range received {
		if s, ok := strings.CutPrefix(string(r), prefix); ok {
			got = append(got, s)
		}
	}
	return got
}

// ackServer records what it reads and, when ack(conn) says so, answers
// each "seq:N" with "ack:N"; a connection that does not ack ends after
// dropAfter messages (if positive).
func ackServer(t *testing.T, ack func(conn int) bool, dropAfter int) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			ws, conn := c.WS, c.N
			for n := 1; ; n++ {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				c.Record(typ, []byte(fmt.Sprintf("%d/%s", conn, data)))
				if seq, ok := strings.CutPrefix(string(data), "poke:"); ok {
					ws.WriteMessage(websocket.TextMessage, []byte("ack:"+seq))
				} else if ack(conn) {
					seq, _ := strings.CutPrefix(string(data), "seq:")
					if ws.WriteMessage(websocket.TextMessage, []byte("ack:"+seq)) != nil {
						return
					}
				} else if n == dropAfter {
					drop(ws)
					return
				}
			}
		})))
	})
}

func TestAcksReplayWhatWasNotAcknowledged(t *testing.T) {
	srv := ackServer(t, func(conn int) bool { return conn > 1 }, 10)
	c, err := New(srv.url(), testOptions(WithAcks(seqAcks(true)))...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	ctx := ctxTimeout(t)
	for i := 1; i <= 10; i++ {
		require.NoError(t, c.Send(ctx, TextMessage, seqMsg(i)))
	}
	require.NoError(t, c.Flush(ctx), "Flush waits for the acks of the second connection")
	st := c.Stats()
	assert.Equal(t, 0, st.Unacked)
	assert.GreaterOrEqual(t, st.Replayed, int64(1))

	second := receivedOn(srv, 2)
	require.NotEmpty(t, second)
	// What the first connection read was never acknowledged: all ten come
	// again, in order, on the second.
	want := make([]string, 10)
	for i := range want {
		want[i] = "seq:" + strconv.Itoa(i+1)
	}
	assert.Equal(t, want, second[:min(10, len(second))])
	assert.Equal(t, int64(10), st.Replayed)
}

func TestAcksWithoutAcksLosesWhatWasInFlight(t *testing.T) {
	// The control: the same server without WithAcks loses the messages
	// the first connection swallowed.
	srv := ackServer(t, func(conn int) bool { return conn > 1 }, 10)
	c, err := New(srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	ctx := ctxTimeout(t)
	for i := 1; i <= 10; i++ {
		require.NoError(t, c.Send(ctx, TextMessage, seqMsg(i)))
	}
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(11)))
	srv.waitFor("message 11", func(s view) bool {
		return len(s.received) > 0 && strings.HasSuffix(string(s.received[len(s.received)-1]), "seq:11")
	})
	second := receivedOn(srv, 2)
	assert.Equal(t, []string{"seq:11"}, second, "nothing is written again without acks")
}

func TestAcksSequenceNumbersMustIncrease(t *testing.T) {
	srv := ackServer(t, func(int) bool { return true }, 0)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(seqAcks(true)))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(5)))
	err = c.Send(ctx, TextMessage, seqMsg(5))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not above")
	assert.Error(t, c.Send(ctx, TextMessage, seqMsg(3)))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("untracked")), "an untracked message is not checked")
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(6)))
}

func TestAcksConsumeKeepsAcksFromReceive(t *testing.T) {
	for _, consume := range []bool{true, false} {
		t.Run(fmt.Sprint("consume=", consume), func(t *testing.T) {
			srv := newTestServer(t, func(s *testServer) {
				s.handle = func(_ int, ws *websocket.Conn) {
					ws.WriteMessage(websocket.TextMessage, []byte("ack:1"))
					ws.WriteMessage(websocket.TextMessage, []byte("data"))
					hold(ws)
				}
			})
			c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(seqAcks(consume)))...)
			require.NoError(t, err)
			defer c.Close()
			_, data, err := c.Receive(ctxTimeout(t))
			require.NoError(t, err)
			if consume {
				assert.Equal(t, "data", string(data))
			} else {
				assert.Equal(t, "ack:1", string(data))
			}
		})
	}
}

func TestAcksWindowFullMakesSendWait(t *testing.T) {
	srv := ackServer(t, func(int) bool { return false }, 0)
	a := seqAcks(true)
	a.Window = 2
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(a))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(1)))
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(2)))
	assert.Equal(t, 2, c.Stats().Unacked)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Send(short, TextMessage, seqMsg(3)), context.DeadlineExceeded, "the window is full")

	sent := make(chan error, 1)
	go func() { sent <- c.Send(ctx, TextMessage, seqMsg(4)) }()
	require.NoError(t, c.Send(ctx, TextMessage, []byte("poke:2")), "untracked messages do not wait")
	require.NoError(t, <-sent, "the ack of 2 made room")
	srv.waitFor("seq:4", func(s view) bool { return len(s.received) >= 4 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"1/seq:1", "1/seq:2", "1/poke:2", "1/seq:4"}, strs(received), "seq:3 was never written")
}

func TestAcksUnacknowledgedAtCloseGoToOnDropped(t *testing.T) {
	srv := ackServer(t, func(int) bool { return false }, 0)
	var drops dropLog
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(seqAcks(true)), drops.option())...)
	require.NoError(t, err)
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(1)))
	require.NoError(t, c.Send(ctx, TextMessage, seqMsg(2)))
	srv.waitFor("2 messages", func(s view) bool { return len(s.received) >= 2 })
	c.Close()
	msgs, errs := drops.wait(t, 2)
	assert.Equal(t, []string{"seq:1", "seq:2"}, msgs)
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, err, ErrUnacknowledged, "written, so it may have arrived")
	}
}

func TestAcksOptionValidates(t *testing.T) {
	good := seqAcks(false)
	for name, a := range map[string]Acks{
		"no ID":          {Acked: good.Acked},
		"no Acked":       {ID: good.ID},
		"negative win":   {ID: good.ID, Acked: good.Acked, Window: -1},
		"negative bytes": {ID: good.ID, Acked: good.Acked, WindowBytes: -1},
	} {
		c, err := New("ws://127.0.0.1:1/", WithAcks(a))
		assert.Nil(t, c, name)
		assert.Error(t, err, name)
	}
}

func TestAcksMaxQueueAgeAppliesToReplays(t *testing.T) {
	srv := ackServer(t, func(conn int) bool { return conn > 1 }, 3)
	var drops dropLog
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(seqAcks(true)), WithMaxQueueAge(time.Nanosecond), drops.option())...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	for i := 1; i <= 3; i++ {
		require.NoError(t, c.Send(ctx, TextMessage, seqMsg(i)))
	}
	msgs, errs := drops.wait(t, 3)
	assert.Equal(t, []string{"seq:1", "seq:2", "seq:3"}, msgs, "too old to be written again")
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrExpired)
		assert.ErrorIs(t, err, ErrUnacknowledged, "written once, so it may have arrived")
	}
	assert.Zero(t, c.Stats().Replayed)
}

func TestAcksCallIDOnEachPart(t *testing.T) {
	srv := ackServer(t, func(int) bool { return false }, 0)
	var ids []string
	a := seqAcks(true)
	id := a.ID
	a.ID = func(typ MessageType, data []byte) (uint64, bool) {
		ids = append(ids, string(data))
		return id(typ, data)
	}
	split := func(data []byte, limit int) ([][]byte, error) {
		return [][]byte{[]byte("seq:1 a"), []byte("seq:2 b")}, nil
	}
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(a), WithMaxMessageSize(8), WithSplitter(split))...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("a long message")))
	assert.Equal(t, []string{"seq:1 a", "seq:2 b"}, ids)
	assert.Equal(t, 1, c.Stats().Unacked, "one message, tracked by its last part")
}

func TestAcksRefusedMessageIsWrittenAgainOnce(t *testing.T) {
	// A tracked message the peer refuses with 1009 stays in the replay
	// window, which splits it again: it must not also be queued again, or
	// the next connection gets it twice (and an untracked copy).
	srv := newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			ws, conn := c.WS, c.N
			if conn == 1 {
				ws.SetReadLimit(30) // gorilla answers a larger message with 1009
			}
			for {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				c.Record(typ, []byte(fmt.Sprintf("%d/%s", conn, data)))
				if conn > 1 {
					seq, _, _ := strings.Cut(strings.TrimPrefix(string(data), "seq:"), " ")
					if ws.WriteMessage(websocket.TextMessage, []byte("ack:"+seq)) != nil {
						return
					}
				}
			}
		})))
	})
	// The parts of "seq:N body" carry N-k+1 ... N.
	split := func(data []byte, limit int) ([][]byte, error) {
		head, body, _ := strings.Cut(string(data), " ")
		n, _ := strconv.Atoi(strings.TrimPrefix(head, "seq:"))
		chunk := limit - len("seq:99 ")
		var chunks []string
		for len(body) > 0 {
			k := min(chunk, len(body))
			chunks = append(chunks, body[:k])
			body = body[k:]
		}
		parts := make([][]byte, len(chunks))
		for i, ch := range chunks {
			parts[i] = []byte(fmt.Sprintf("seq:%d %s", n-len(chunks)+1+i, ch))
		}
		return parts, nil
	}
	var drops dropLog
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithAcks(seqAcks(true)), WithSplitter(split), drops.option())...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, []byte("seq:10 a")))
	big := "seq:20 " + strings.Repeat("x", 40)
	require.NoError(t, c.Send(ctx, TextMessage, []byte(big)))
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("seq:30 b")))
	require.NoError(t, c.Flush(ctx))

	second := receivedOn(srv, 2)
	require.NotEmpty(t, second)
	assert.Equal(t, "seq:10 a", second[0], "the unacknowledged message comes first")
	var body strings.Builder
	for _, s := range second[1 : len(second)-1] {
		_, chunk, _ := strings.Cut(s, " ")
		body.WriteString(chunk)
	}
	assert.Equal(t, strings.Repeat("x", 40), body.String(), "the refused message, split, once: %q", second)
	assert.Equal(t, "seq:30 b", second[len(second)-1])
	assert.Empty(t, drops.msgs, "nothing dropped")
}
