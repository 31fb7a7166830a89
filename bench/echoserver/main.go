// Command echoserver is the peer of the benchmarks: a small gorilla/websocket
// echo server meant to run as its own process, so that the CPU and memory the
// benchmarks measure belong to the client alone.
//
// It listens on a loopback address only and prints that address (host:port)
// as the first line of its standard output. Every data message it receives is
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
//	up           listen again on the same address
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("echoserver: ")

	raiseFileLimit()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("-addr %s: only loopback addresses are allowed", *addr)
	}

	s := newServer()
	if err := s.listen(*addr); err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.addr)
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

type server struct {
	upgrader websocket.Upgrader

	mu    sync.Mutex
	addr  string // fixed after the first listen, so that "up" reuses it
	ln    net.Listener
	srv   *http.Server
	conns map[*websocket.Conn]struct{}
}

func newServer() *server {
	s := &server{conns: make(map[*websocket.Conn]struct{})}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return s
}

func (s *server) listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("already listening")
	}
	if s.addr != "" {
		addr = s.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.echo), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return nil
}

func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 20)
	s.mu.Lock()
	s.conns[ws] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
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

// take removes the open connections from the set and returns them, so that
// a count right after a drop does not see connections being torn down.
func (s *server) take() []*websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
		delete(s.conns, c)
	}
	return out
}

func (s *server) drop() int {
	conns := s.take()
	for _, c := range conns {
		c.NetConn().Close()
	}
	return len(conns)
}

func (s *server) closeAll(code int) int {
	conns := s.take()
	msg := websocket.FormatCloseMessage(code, "")
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		_ = c.WriteControl(websocket.CloseMessage, msg, deadline)
		c.NetConn().Close()
	}
	return len(conns)
}

func (s *server) down() int {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
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
			if err := s.listen(""); err != nil {
				reply("error %v", err)
				continue
			}
			reply("ok %s", s.addr)
		case "quit":
			reply("ok")
			return
		default:
			reply("error unknown command %q", fields[0])
		}
	}
}
