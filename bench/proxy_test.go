package bench

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is a TCP proxy in front of the echo server that can turn into a
// black hole: it keeps every connection open but forwards nothing, in either
// direction, like a peer whose machine froze or a network path that died
// without a reset.
type proxy struct {
	ln       net.Listener
	upstream string

	// armed: turn into a black hole right after the next server-to-client
	// chunk (a pong) was forwarded, so that the client's next ping is the
	// first frame swallowed.
	armed     atomic.Bool
	blackhole atomic.Bool
	// swallowed is when the first client byte was swallowed (UnixNano), 0
	// until then.
	swallowed atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(upstream string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, down, true)
		go p.pipe(down, up, false)
	}
}

// pipe copies src to dst until either fails; fromClient says which way.
func (p *proxy) pipe(dst, src net.Conn, fromClient bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.blackhole.Load() {
				if fromClient {
					p.swallowed.CompareAndSwap(0, time.Now().UnixNano())
				}
			} else {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
				if !fromClient && p.armed.CompareAndSwap(true, false) {
					p.blackhole.Store(true)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
