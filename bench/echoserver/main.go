// Command echoserver is the peer of the benchmarks: a small WebSocket echo
// server meant to run as its own process, so that the CPU and memory the
// benchmarks measure belong to the client alone. It runs on gorilla/websocket
// or, with -impl=gws, on lxzan/gws (the peer the benchmarks use by default:
// the fastest Go server, so that the client is what limits the figures).
//
// It listens on loopback addresses only and prints them (host:port, several
// separated by spaces when -listeners is above 1 or -addr lists several) as
// the first line of its standard output. Several listening ports let one
// client process hold more connections to it than one port's share of the
// ephemeral ports allows once a restart leaves the old ones in TIME_WAIT.
// Every data message it receives is
// written back unchanged, with the same type; on the path /discard messages
// are read and dropped instead, so that a client's send path can be measured
// alone. Pings are answered with pongs (gorilla's default handler).
//
// Standard input controls it, one command per line; each command is answered
// with one line on standard output that starts with "ok" or "error":
//
//	count        number of open WebSocket connections
//	drop         close every connection's socket at once (the client sees 1006)
//	close CODE   send a close frame with CODE to every connection, then close them
//	down         stop listening and drop every connection, like a crashed process
//	up           listen again on the same addresses
//	quit         exit
//
// The server also exits when its standard input ends, so it never outlives
// the benchmark that started it.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on; several separated by commas")
	listeners := flag.Int("listeners", 1, "number of listening ports when -addr is one address with port 0")
	impl := flag.String("impl", "gorilla", "WebSocket implementation: gorilla or gws")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("echoserver: ")

	raiseFileLimit()
	addrs := strings.Split(*addr, ",")
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			log.Fatalf("bad -addr: %v", err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			log.Fatalf("-addr %s: only loopback addresses are allowed", a)
		}
	}
	if len(addrs) == 1 && *listeners > 1 {
		for range *listeners - 1 {
			addrs = append(addrs, addrs[0])
		}
	}

	s := newServer()
	switch *impl {
	case "gorilla":
		s.handler = s.gorillaEcho
	case "gws":
		s.handler = s.gwsEcho()
	default:
		log.Fatalf("-impl %q: want gorilla or gws", *impl)
	}
	if err := s.listen(addrs); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(s.addrs, " "))
	s.control(os.Stdin, os.Stdout)
}

// raiseFileLimit lifts the soft limit on open files to the hard limit: a
// storm benchmark holds a thousand connections or more.
func raiseFileLimit() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// conn is one open WebSocket connection, whichever the implementation.
type conn interface {
	// netConn is the socket under the connection.
	netConn() net.Conn
	// writeClose sends a close frame with code.
	writeClose(code int)
}

type gorillaConn struct{ ws *websocket.Conn }

func (c gorillaConn) netConn() net.Conn { return c.ws.NetConn() }
func (c gorillaConn) writeClose(code int) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
}

type gwsConn struct{ ws *gws.Conn }

func (c gwsConn) netConn() net.Conn { return c.ws.NetConn() }
func (c gwsConn) writeClose(code int) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteClose(uint16(code), nil)
}

type server struct {
	upgrader websocket.Upgrader
	handler  http.HandlerFunc

	mu    sync.Mutex
	addrs []string // fixed after the first listen, so that "up" reuses them
	lns   []net.Listener
	srvs  []*http.Server
	conns map[conn]struct{}
}

func newServer() *server {
	s := &server{conns: make(map[conn]struct{})}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return s
}

func (s *server) listen(addrs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lns != nil {
		return errors.New("already listening")
	}
	if s.addrs != nil {
		addrs = s.addrs
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	s.lns = lns
	if s.addrs == nil {
		for _, ln := range lns {
			s.addrs = append(s.addrs, ln.Addr().String())
		}
	}
	s.srvs = nil
	for _, ln := range lns {
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
		s.srvs = append(s.srvs, srv)
		go srv.Serve(ln)
	}
	return nil
}

func (s *server) add(c conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *server) remove(c conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *server) gorillaEcho(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 20)
	c := gorillaConn{ws}
	s.add(c)
	defer func() {
		s.remove(c)
		ws.Close()
	}()
	discard := r.URL.Path == "/discard"
	for {
		typ, rd, err := ws.NextReader()
		if err != nil {
			return
		}
		if discard {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
			continue
		}
		wr, err := ws.NextWriter(typ)
		if err != nil {
			return
		}
		// gorilla's message writer implements io.ReaderFrom: no copy buffer.
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

// gwsHandler echoes (or, with discard, drops) every data message; gws
// answers pings itself (BuiltinEventHandler.OnPing).
type gwsHandler struct {
	gws.BuiltinEventHandler
	discard bool
}

func (h gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if h.discard {
		return
	}
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

// gwsEcho serves with lxzan/gws at its defaults (no parallel handlers, no
// compression), with the read limit of the gorilla side.
func (s *server) gwsEcho() http.HandlerFunc {
	opt := func() *gws.ServerOption {
		return &gws.ServerOption{ReadMaxPayloadSize: 64 << 20, WriteMaxPayloadSize: 64 << 20}
	}
	echo := gws.NewUpgrader(gwsHandler{}, opt())
	discard := gws.NewUpgrader(gwsHandler{discard: true}, opt())
	return func(w http.ResponseWriter, r *http.Request) {
		up := echo
		if r.URL.Path == "/discard" {
			up = discard
		}
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		c := gwsConn{ws}
		s.add(c)
		defer func() {
			s.remove(c)
			ws.NetConn().Close()
		}()
		ws.ReadLoop() // returns when the connection ends
	}
}

// take removes the open connections from the set and returns them, so that
// a count right after a drop does not see connections being torn down.
func (s *server) take() []conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
		delete(s.conns, c)
	}
	return out
}

func (s *server) drop() int {
	conns := s.take()
	for _, c := range conns {
		c.netConn().Close()
	}
	return len(conns)
}

func (s *server) closeAll(code int) int {
	conns := s.take()
	for _, c := range conns {
		c.writeClose(code)
		c.netConn().Close()
	}
	return len(conns)
}

func (s *server) down() int {
	s.mu.Lock()
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	return s.drop()
}

func (s *server) control(in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	reply := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "count":
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			reply("ok %d", n)
		case "drop":
			reply("ok %d", s.drop())
		case "close":
			code := websocket.CloseGoingAway
			if len(fields) > 1 {
				n, err := strconv.Atoi(fields[1])
				if err != nil {
					reply("error bad code %q", fields[1])
					continue
				}
				code = n
			}
			reply("ok %d", s.closeAll(code))
		case "down":
			reply("ok %d", s.down())
		case "up":
			if err := s.listen(nil); err != nil {
				reply("error %v", err)
				continue
			}
			reply("ok %s", strings.Join(s.addrs, " "))
		case "quit":
			reply("ok")
			return
		default:
			reply("error unknown command %q", fields[0])
		}
	}
}
