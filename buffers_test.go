package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

func TestReadBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 16, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 65537, 1 << 20, 1<<20 + 1, 3<<20 + 7}
	hints := []int{0, 16, 4096, 65536, 1 << 20, 8 << 20}
	wrap := map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"eofdata": iotest.DataErrReader,
	}
	var kept [][]byte
	var want [][]byte
	for _, n := range sizes {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		for _, hint := range hints {
			for name, w := range wrap {
				if name == "onebyte" && n > 9000 {
					continue // slow, and says nothing the smaller sizes do not
				}
				got, over, err := readBody(w(bytes.NewReader(msg)), hint, math.MaxInt64)
				require.NoError(t, err, "size %d hint %d %s", n, hint, name)
				require.False(t, over)
				require.NotNil(t, got, "an empty message is an empty slice, not nil")
				require.Equal(t, n, len(got), "size %d hint %d %s", n, hint, name)
				require.Equal(t, n, cap(got), "the copy is exactly the message's size")
				require.True(t, bytes.Equal(msg, got), "size %d hint %d %s", n, hint, name)
				kept = append(kept, got)
				want = append(want, msg)
			}
		}
	}
	// A message handed out is the caller's: later reads through the same
	// pooled buffers do not touch it.
	for i := range kept {
		require.True(t, bytes.Equal(want[i], kept[i]), "message %d changed after later reads", i)
	}
}

func TestReadBodyLimit(t *testing.T) {
	for _, limit := range []int64{0, 1, 4096, 4097, 65536, 1<<20 + 3} {
		for _, n := range []int64{limit - 1, limit, limit + 1, limit + 5000} {
			if n < 0 {
				continue
			}
			got, over, err := readBody(bytes.NewReader(make([]byte, n)), int(n), limit)
			require.NoError(t, err)
			if n > limit {
				require.True(t, over, "limit %d, size %d", limit, n)
				require.Nil(t, got)
			} else {
				require.False(t, over, "limit %d, size %d", limit, n)
				require.Len(t, got, int(n))
			}
		}
	}
}

func TestReadBodyError(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{0, 100, 4096, 70000, 2 << 20} {
		r := io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(boom))
		got, over, err := readBody(r, 0, math.MaxInt64)
		require.ErrorIs(t, err, boom, "size %d", n)
		require.False(t, over)
		require.Nil(t, got)
	}
}

func TestReadClass(t *testing.T) {
	for _, c := range []struct{ n, class int }{
		{0, 0}, {1, 0}, {4096, 0}, {4097, 1}, {8192, 1}, {8193, 2}, {65536, 4}, {65537, 5}, {1 << 20, numClasses - 1}, {1 << 30, numClasses - 1},
	} {
		require.Equal(t, c.class, readClass(c.n), "n=%d", c.n)
	}
}

func TestBufferPoolKeepsWhatACollectionWouldClear(t *testing.T) {
	p := bufferPool{keep: 2}
	a, b, c := &readBuf{}, &readBuf{}, &readBuf{}
	p.Put(a)
	p.Put(b)
	p.Put(c) // past keep: into the sync.Pool
	require.Len(t, p.free, 2)
	require.Same(t, b, p.Get())
	require.Same(t, a, p.Get())
}

// scriptConn is a net.Conn whose reads return the chunks of a script, one
// per call (at most what the caller asks for), then err.
type scriptConn struct {
	net.Conn
	chunks [][]byte
	err    error
}

func (s *scriptConn) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, s.err
	}
	n := copy(p, s.chunks[0])
	if n == len(s.chunks[0]) {
		s.chunks = s.chunks[1:]
	} else {
		s.chunks[0] = s.chunks[0][n:]
	}
	if len(s.chunks) == 0 && s.err != nil {
		return n, s.err // the last bytes and the error together
	}
	return n, nil
}

// readAheadConn hands on every byte in order, whatever the sizes the
// socket returns and the caller asks for, then the error (also one that
// came with the last bytes), and holds no pooled buffer once the bytes it
// read ahead are served.
func TestReadAheadConn(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pool := make([]byte, 1<<20) // chunks are random windows of it
	for i := range pool {
		pool[i] = byte(rng.Uint32())
	}
	for round := range 200 {
		var want []byte
		var chunks [][]byte
		for range 1 + rng.IntN(20) {
			size := 1 + rng.IntN(40000)
			off := rng.IntN(len(pool) - size)
			chunk := bytes.Clone(pool[off : off+size])
			want = append(want, chunk...)
			chunks = append(chunks, chunk)
		}
		boom := errors.New("boom")
		c := &readAheadConn{Conn: &scriptConn{chunks: chunks, err: boom}}
		var got []byte
		var err error
		for err == nil {
			p := make([]byte, []int{1, 14, 125, 128, 1024, 5000, 70000}[rng.IntN(7)])
			var n int
			n, err = c.Read(p)
			got = append(got, p[:n]...)
			if c.ahead == nil {
				require.Zero(t, c.r, "round %d", round)
			}
		}
		require.ErrorIs(t, err, boom, "round %d", round)
		require.True(t, bytes.Equal(want, got), "round %d: %d bytes, want %d", round, len(got), len(want))
		require.Nil(t, c.ahead, "round %d: a pooled buffer held after the end", round)
	}
}

// writeLog is a net.Conn that records each Write call's size and first two
// bytes.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][3]int // size, first byte, second byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(p) >= 2 {
		w.writes = append(w.writes, [3]int{len(p), int(p[0]), int(p[1])})
	}
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *writeLog) since(i int) [][3]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][3]int(nil), w.writes[i:]...)
}

// dialLogged returns a client whose connection records its writes, and that
// connection once it is up.
func dialLogged(t *testing.T, url string, d websocket.Dialer) (*Client, *writeLog) {
	t.Helper()
	logs := make(chan *writeLog, 4)
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w := &writeLog{Conn: conn}
		logs <- w
		return w, nil
	}
	c, err := Dial(context.Background(), url, testOptions(WithDialer(&d))...)
	require.NoError(t, err)
	return c, <-logs
}

// By default a message up to 64 KiB goes out as one frame in one write call
// (final bit set, 64-bit length 65536), and a connection's reads go through
// the pooled read-ahead under gorilla's 128-byte buffer.
func TestDefaultBuffers(t *testing.T) {
	srv := newTestServer(t, nil)
	c, w := dialLogged(t, srv.url(), *websocket.DefaultDialer)
	defer c.Close()
	_, ok := c.cur.Load().ws.NetConn().(*readAheadConn)
	require.True(t, ok, "a ws:// connection reads through readAheadConn")

	n := len(w.since(0))
	require.NoError(t, c.Send(context.Background(), BinaryMessage, make([]byte, 64<<10)))
	writes := w.since(n)
	require.Len(t, writes, 1, "one write call for a 64 KiB message")
	require.Equal(t, 64<<10+14, writes[0][0], "header (2 + 8 length + 4 mask) and payload")
	require.Equal(t, 0x80|int(BinaryMessage), writes[0][1], "one frame: final bit set")
	require.Equal(t, 0x80|127, writes[0][2], "masked, 64-bit length")
	_, data, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Len(t, data, 64<<10)
}

// A dialer that sets its own buffer sizes keeps gorilla's buffers: no
// read-ahead, and a 64 KiB message is written in frames of its write
// buffer's size.
func TestDialerBufferSizesKept(t *testing.T) {
	srv := newTestServer(t, nil)
	d := *websocket.DefaultDialer
	d.ReadBufferSize, d.WriteBufferSize = 4096, 4096
	c, w := dialLogged(t, srv.url(), d)
	defer c.Close()
	_, ok := c.cur.Load().ws.NetConn().(*readAheadConn)
	require.False(t, ok, "no read-ahead under the dialer's own read buffer")

	n := len(w.since(0))
	require.NoError(t, c.Send(context.Background(), BinaryMessage, make([]byte, 64<<10)))
	require.Greater(t, len(w.since(n)), 1, "a 64 KiB message through a 4 KiB write buffer takes several writes")
	_, data, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Len(t, data, 64<<10)
}
