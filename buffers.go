package wsreconnect

import (
	"io"
	"math/bits"
	"net"
	"slices"
	"sync"
)

// Buffers shared by every Client in the process, taken only while a
// message is read or written, so that an idle connection holds none. They
// are internal: no caller ever sees one.
//
// Reading: gorilla/websocket does not tell a message's length before it is
// read, and growing a slice by doubling costs a dozen allocations and as
// many copies for a 64 KiB message. Instead a message is read into a
// pooled buffer of a size class (a power of two from 4 KiB to 1 MiB),
// moving up a class when it fills, and handed out as one exact-size copy:
// one allocation whatever the size. Larger messages grow beyond the last
// class the usual way and are handed out as read.
//
// Writing: by default the dialer writes through a write buffer of
// defaultWriteBuffer bytes, so that a message up to that size goes out as
// one frame in one write call, taken from writePool only while a message
// is written (gorilla's advice: one pool per buffer size).

const (
	minReadClass = 12 // 4 KiB
	maxReadClass = 20 // 1 MiB
	numClasses   = maxReadClass - minReadClass + 1

	// defaultWriteBuffer is the write buffer size of a dialer that sets
	// neither WriteBufferSize nor WriteBufferPool.
	defaultWriteBuffer = 64 << 10
)

// readBuf is what the read pools hold: a pointer, so that Put does not
// allocate.
type readBuf struct{ b []byte }

var (
	readPools [numClasses]bufferPool
	// writePool holds the write buffers of dialers at defaultWriteBuffer.
	writePool = bufferPool{keep: 4}
)

func init() {
	for i := range readPools {
		// Keep up to 256 KiB of each class below 1 MiB, and one of 1 MiB.
		readPools[i].keep = max(1, (256<<10)>>(minReadClass+i))
	}
}

// bufferPool is a websocket.BufferPool that keeps up to keep buffers on a
// free list of its own, which a garbage collection does not empty, and
// passes the rest to a sync.Pool, which it does. A sync.Pool alone misses
// often here: a buffer put back on one P is not found from another until
// it moves, and every collection (frequent, when 64 KiB messages are
// copied out) clears it, and each miss is a new buffer.
type bufferPool struct {
	mu    sync.Mutex
	free  []any
	keep  int
	spill sync.Pool
}

func (p *bufferPool) Get() any {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		v := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return v
	}
	p.mu.Unlock()
	return p.spill.Get()
}

func (p *bufferPool) Put(v any) {
	p.mu.Lock()
	if len(p.free) < p.keep {
		p.free = append(p.free, v)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.spill.Put(v)
}

// readClass returns the class whose buffers hold n bytes, at most the last.
func readClass(n int) int {
	if n <= 1<<minReadClass {
		return 0
	}
	c := bits.Len(uint(n-1)) - minReadClass
	return min(c, numClasses-1)
}

func getReadBuf(class int) *readBuf {
	if rb, ok := readPools[class].Get().(*readBuf); ok {
		return rb
	}
	return &readBuf{b: make([]byte, 1<<(minReadClass+class))}
}

func putReadBuf(class int, rb *readBuf) { readPools[class].Put(rb) }

// readBody reads r to its end, at most max bytes (one more tells a message
// over max: then it returns over), into pooled buffers, starting at the
// class that holds hint bytes, and returns the message as a slice of its
// own.
func readBody(r io.Reader, hint int, max int64) (data []byte, over bool, err error) {
	class := readClass(hint + 1) // a message of the hint's size fits with room to spare
	rb := getReadBuf(class)
	defer func() {
		if rb != nil {
			putReadBuf(class, rb)
		}
	}()
	buf, n := rb.b, 0
	for {
		if n == len(buf) {
			// Full: up a class, or past the last into a slice of its own.
			if rb != nil && class < numClasses-1 {
				next := getReadBuf(class + 1)
				copy(next.b, buf)
				putReadBuf(class, rb)
				class, rb, buf = class+1, next, next.b
			} else {
				grown := slices.Grow(buf[:n:n], n)
				if rb != nil {
					putReadBuf(class, rb)
					rb = nil
				}
				buf = grown[:cap(grown)]
			}
		}
		k, err := r.Read(buf[n:])
		n += k
		switch {
		case int64(n) > max:
			return nil, true, nil
		case err == io.EOF:
			if rb == nil {
				return buf[:n:n], false, nil
			}
			data = make([]byte, n)
			copy(data, buf[:n])
			return data, false, nil
		case err != nil:
			return nil, false, err
		}
	}
}

// readAheadClass is the class of the buffer a connection reads ahead into
// (16 KiB) while data keeps coming.
const readAheadClass = 2

// smallReadBuffer is the size of gorilla's own read buffer (its bufio.Reader)
// when the dialer leaves ReadBufferSize at 0: the least gorilla takes, enough
// for a frame header. The bytes read ahead wait in a pooled buffer of
// readAheadConn instead, held only while there are some.
const smallReadBuffer = 128

// readAheadConn is a plain TCP connection under gorilla's small read
// buffer. While data keeps arriving (the last read filled what it was
// given), it reads ahead into a pooled 16 KiB buffer and serves later reads
// from it, so that a burst of small frames still costs one system call per
// 16 KiB; when the socket runs dry it reads straight into the caller's
// buffer again, so that a connection waiting for data holds no pooled
// buffer. (One exception: a read ahead that follows one that filled the
// whole 16 KiB may find nothing more and wait holding its buffer, until the
// next bytes arrive.) Only the connection's reader calls Read.
type readAheadConn struct {
	net.Conn
	ahead *readBuf // bytes read ahead, [r:w]; nil when there are none
	r, w  int
	err   error // the error of the read ahead, once its bytes are served
	hot   bool  // the last read filled what it was given: more is likely waiting
}

func (c *readAheadConn) Read(p []byte) (int, error) {
	if c.ahead != nil {
		n := copy(p, c.ahead.b[c.r:c.w])
		c.r += n
		if c.r == c.w {
			putReadBuf(readAheadClass, c.ahead)
			c.ahead, c.r, c.w = nil, 0, 0
			err := c.err
			c.err = nil
			return n, err
		}
		return n, nil
	}
	if !c.hot || len(p) >= 1<<(minReadClass+readAheadClass) {
		n, err := c.Conn.Read(p)
		c.hot = n == len(p) && n > 0
		return n, err
	}
	rb := getReadBuf(readAheadClass)
	n, err := c.Conn.Read(rb.b)
	c.hot = n == len(rb.b)
	k := copy(p, rb.b[:n])
	if k < n {
		c.ahead, c.r, c.w, c.err = rb, k, n, err
		return k, nil
	}
	putReadBuf(readAheadClass, rb)
	return k, err
}
