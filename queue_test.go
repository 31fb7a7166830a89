package wsreconnect

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dropLog collects what OnDropped reports.
type dropLog struct {
	mu      sync.Mutex
	msgs    []string
	errs    []error
	changed chan struct{} // closed and replaced on every report
}

func (l *dropLog) option() Option {
	l.changed = make(chan struct{})
	return WithOnDropped(func(_ MessageType, data []byte, err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.msgs = append(l.msgs, string(data))
		l.errs = append(l.errs, err)
		close(l.changed)
		l.changed = make(chan struct{})
	})
}

// wait waits until n messages were reported.
func (l *dropLog) wait(t *testing.T, n int) ([]string, []error) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		msgs, errs, changed := append([]string(nil), l.msgs...), append([]error(nil), l.errs...), l.changed
		l.mu.Unlock()
		if len(msgs) >= n {
			return msgs, errs
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%d messages dropped, want %d: %q", len(msgs), n, msgs)
		}
	}
}

// downClient is a client of a server that refuses every handshake until
// open is set.
func downClient(t *testing.T, opts ...Option) (*Client, *testServer, *atomic.Bool) {
	t.Helper()
	open := new(atomic.Bool)
	srv := gatedServer(t, open)
	c, err := New(srv.url(), testOptions(opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	srv.waitFor("a refused attempt", func(s view) bool { return s.attempts >= 1 })
	return c, srv, open
}

func TestSendBufferBytesBoundsTheQueue(t *testing.T) {
	c, srv, open := downClient(t, WithSendBufferBytes(100), WithQueueOverflow(OverflowFailFast))
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 60)))
	assert.ErrorIs(t, c.Send(ctx, BinaryMessage, make([]byte, 60)), ErrQueueFull, "60 + 60 bytes is over 100")
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 40)), "60 + 40 fits")
	assert.Equal(t, 2, c.Stats().Queued)
	open.Store(true)
	srv.waitFor("2 messages", func(s view) bool { return len(s.received) >= 2 })
}

func TestSendBufferBytesAdmitsOneLargeMessageWhenEmpty(t *testing.T) {
	c, srv, open := downClient(t, WithSendBufferBytes(100), WithQueueOverflow(OverflowFailFast))
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 500)), "the queue is empty")
	assert.ErrorIs(t, c.Send(ctx, BinaryMessage, make([]byte, 1)), ErrQueueFull)
	open.Store(true)
	srv.waitFor("the large message", func(s view) bool { return len(s.received) >= 1 })
	_, _, received := srv.snapshot()
	assert.Len(t, received[0], 500)
}

func TestOverflowFailFastAndBlock(t *testing.T) {
	t.Run("fail fast", func(t *testing.T) {
		c, _, _ := downClient(t, WithSendBuffer(2), WithQueueOverflow(OverflowFailFast))
		ctx := ctxTimeout(t)
		require.NoError(t, c.Send(ctx, TextMessage, []byte("a")))
		require.NoError(t, c.Send(ctx, TextMessage, []byte("b")))
		assert.ErrorIs(t, c.Send(ctx, TextMessage, []byte("c")), ErrQueueFull)
	})
	t.Run("block is the default", func(t *testing.T) {
		c, _, _ := downClient(t, WithSendBuffer(1))
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("a")))
		short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, c.Send(short, TextMessage, []byte("b")), context.DeadlineExceeded)
	})
}

func TestOverflowDropOldest(t *testing.T) {
	var drops dropLog
	c, srv, open := downClient(t, WithSendBuffer(2), WithQueueOverflow(OverflowDropOldest), drops.option())
	ctx := ctxTimeout(t)
	for _, m := range []string{"a", "b", "c", "d"} {
		require.NoError(t, c.Send(ctx, TextMessage, []byte(m)))
	}
	msgs, errs := drops.wait(t, 2)
	assert.Equal(t, []string{"a", "b"}, msgs)
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrQueueFull)
	}
	open.Store(true)
	srv.waitFor("2 messages", func(s view) bool { return len(s.received) >= 2 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"c", "d"}, strs(received))
	assert.Equal(t, int64(2), c.Stats().Dropped)
}

func TestOverflowDropOldestDropsASplitMessageWhole(t *testing.T) {
	var drops dropLog
	c, srv, open := downClient(t, WithSendBuffer(1), WithQueueOverflow(OverflowDropOldest),
		WithMaxMessageSize(64), WithSplitter(chunker), drops.option())
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, []byte(strings.Repeat("x", 200))))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("after")))
	msgs, _ := drops.wait(t, 1)
	assert.Equal(t, []string{strings.Repeat("x", 200)}, msgs, "the whole message, once")
	open.Store(true)
	srv.waitFor("1 message", func(s view) bool { return len(s.received) >= 1 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"after"}, strs(received))
}

func TestMaxQueueAge(t *testing.T) {
	t.Run("expired when the queue is written", func(t *testing.T) {
		var drops dropLog
		c, srv, open := downClient(t, WithMaxQueueAge(time.Nanosecond), drops.option())
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("stale")))
		open.Store(true)
		msgs, errs := drops.wait(t, 1)
		assert.Equal(t, []string{"stale"}, msgs)
		assert.ErrorIs(t, errs[0], ErrExpired)
		require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("fresh")))
		srv.waitFor("1 message", func(s view) bool { return len(s.received) >= 1 })
		_, _, received := srv.snapshot()
		assert.Equal(t, []string{"fresh"}, strs(received), "the stale message is never written")
	})
	t.Run("expired when room is made", func(t *testing.T) {
		var drops dropLog
		c, _, _ := downClient(t, WithSendBuffer(1), WithMaxQueueAge(time.Nanosecond), drops.option())
		ctx := ctxTimeout(t)
		require.NoError(t, c.Send(ctx, TextMessage, []byte("old")))
		require.NoError(t, c.Send(ctx, TextMessage, []byte("new")), "the expired message makes room")
		msgs, errs := drops.wait(t, 1)
		assert.Equal(t, []string{"old"}, msgs)
		assert.ErrorIs(t, errs[0], ErrExpired)
	})
	t.Run("young messages are written", func(t *testing.T) {
		c, srv, open := downClient(t, WithMaxQueueAge(time.Hour))
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("young")))
		open.Store(true)
		srv.waitFor("1 message", func(s view) bool { return len(s.received) >= 1 })
		assert.Equal(t, int64(0), c.Stats().Dropped)
	})
}

func TestWithoutQueue(t *testing.T) {
	c, srv, open := downClient(t, WithoutQueue())
	err := c.Send(ctxTimeout(t), TextMessage, []byte("down"))
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.Equal(t, 0, c.Stats().Queued)
	open.Store(true)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("up")))
	srv.waitFor("1 message", func(s view) bool { return len(s.received) >= 1 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"up"}, strs(received))
}

func TestFlushWaitsUntilTheQueueIsWritten(t *testing.T) {
	c, srv, open := downClient(t)
	ctx := ctxTimeout(t)
	for _, m := range []string{"a", "b", "c"} {
		require.NoError(t, c.Send(ctx, TextMessage, []byte(m)))
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Flush(short), context.DeadlineExceeded, "nothing can be written while down")

	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	open.Store(true)
	require.NoError(t, <-flushed)
	assert.Equal(t, 0, c.Stats().Queued)
	assert.GreaterOrEqual(t, c.Stats().MessagesOut, int64(3), "Flush returned once the queue was written")
	c.Close() // a graceful drain: nothing was discarded
	assert.Equal(t, int64(0), c.Stats().Dropped)
	srv.waitFor("3 messages", func(s view) bool { return len(s.received) >= 3 })
}

func TestFlushAfterCloseAndFromAHook(t *testing.T) {
	var open atomic.Bool
	srv := gatedServer(t, &open)
	fromHook := make(chan error, 1)
	var c *Client
	ref := newClientRef()
	c, err := New(srv.url(), testOptions(WithOnDisconnect(func(Disconnect, Action) {
		c := ref.get()
		if c.Send(context.Background(), TextMessage, []byte("queued")) == nil {
			select {
			case fromHook <- c.Flush(context.Background()):
			default:
			}
		}
	}))...)
	require.NoError(t, err)
	ref.set(c)
	assert.ErrorIs(t, <-fromHook, ErrWouldBlock, "a hook cannot wait for its own goroutine")
	open.Store(true)
	require.NoError(t, c.Flush(ctxTimeout(t)))
	c.Close()
	assert.ErrorIs(t, c.Flush(ctxTimeout(t)), ErrClosed)
}

func TestQueueOptionsValidate(t *testing.T) {
	url := "ws://127.0.0.1:1/"
	for name, opt := range map[string]Option{
		"zero bytes":     WithSendBufferBytes(0),
		"too many bytes": WithSendBufferBytes(MaxSendBufferBytes + 1),
		"bad overflow":   WithQueueOverflow(QueueOverflow(9)),
		"negative age":   WithMaxQueueAge(-time.Second),
	} {
		c, err := New(url, opt)
		assert.Nil(t, c, name)
		assert.Error(t, err, name)
	}
	assert.Equal(t, "drop-oldest", OverflowDropOldest.String())
}

// breakableConn fails every write once broken is set, like a connection
// whose peer went away.
type breakableConn struct {
	net.Conn
	broken *atomic.Bool
}

func (b breakableConn) Write(p []byte) (int, error) {
	if b.broken.Load() {
		return 0, errors.New("broken pipe (test)")
	}
	return b.Conn.Write(p)
}

// TestWithoutQueueLiveWriteFails: with WithoutQueue, a Send whose write
// fails on a connection that broke returns an error wrapping
// ErrNotConnected, and its message is not written later.
func TestWithoutQueueLiveWriteFails(t *testing.T) {
	srv := newTestServer(t, nil)
	broken := new(atomic.Bool)
	dialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return breakableConn{nc, broken}, nil
	}}
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithoutQueue(), WithDialer(dialer))...)
	require.NoError(t, err)
	defer c.Close()
	broken.Store(true)
	err = c.Send(ctxTimeout(t), TextMessage, []byte("lost"))
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.Equal(t, 0, c.Stats().Queued, "not queued")
	broken.Store(false)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("after")))
	srv.waitFor("1 message", func(s view) bool { return len(s.received) >= 1 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"after"}, strs(received), "the failed message is never written")
}

// TestOverflowDropOldestWaitsForOnDropped: while OnDropped is behind,
// dropped messages wait for it in a list as long as the queue; when that
// is full, drop-oldest waits like block mode instead of keeping more.
func TestOverflowDropOldestWaitsForOnDropped(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var drops []string
	c, srv, open := downClient(t, WithSendBuffer(2), WithQueueOverflow(OverflowDropOldest),
		WithOnDropped(func(_ MessageType, data []byte, _ error) {
			once.Do(func() {
				close(entered)
				<-release
			})
			mu.Lock()
			drops = append(drops, string(data))
			mu.Unlock()
		}))
	ctx := ctxTimeout(t)
	for _, m := range []string{"1", "2", "3"} {
		require.NoError(t, c.Send(ctx, TextMessage, []byte(m)))
	}
	<-entered // OnDropped("1") holds the client's goroutine
	require.NoError(t, c.Send(ctx, TextMessage, []byte("4")), "drops 2: one waits for OnDropped")
	require.NoError(t, c.Send(ctx, TextMessage, []byte("5")), "drops 3: two wait, as many as the queue holds")
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Send(short, TextMessage, []byte("6")), context.DeadlineExceeded, "no third")
	assert.Equal(t, 2, c.Stats().Queued)
	close(release)
	require.NoError(t, c.Send(ctx, TextMessage, []byte("6")), "room once OnDropped caught up")
	open.Store(true)
	srv.waitFor("2 messages", func(s view) bool { return len(s.received) >= 2 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"5", "6"}, strs(received))
	require.NoError(t, c.Close())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"1", "2", "3", "4"}, drops)
}
