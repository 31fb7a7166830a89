package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The lifecycle of a Client, in one place.
//
// States (State): connecting → connected → waiting → connecting → … and,
// from any of them, closed. Only the client's goroutine (run) moves between
// them, and it reports each move to the OnStateChange hook right after it.
//
// The client's goroutine is the one New starts. It alone dials (through a
// short-lived goroutine that does not run user code), sets each new
// connection up, reads (but see "Reading" below), decides and waits out
// the backoff, and it alone
// calls the hooks: the Policy, OnConnect, OnMessage, OnDisconnect,
// OnDropped and OnStateChange. They run one at a time, outside locks,
// marked by inHook. The header func (WithHeaderFunc) and the URL func
// (WithURLFunc) are not hooks: each runs on a goroutine of its own; the
// splitter and Acks.ID run on the goroutine that writes, Acks.Acked on the
// one that reads.
//
// Setting a connection up: while the client's goroutine runs OnConnect and
// then writes the replays (WithAcks) and the queue, an aside reader
// (aside.go) reads the connection, so that pongs, acks and close frames are
// seen and Conn.Receive has messages; at the first message boundary after
// the setup the client's goroutine takes the reading over. Only then is the
// client connected. Without an OnConnect hook and WithAcks nothing in the
// setup waits for the peer, so no aside reader runs: the client's goroutine
// writes the queue and then reads, and an idle client runs one goroutine.
//
// Reading, once connected: the client's goroutine reads, except that it may
// offer the reading, between two messages, to a Receive whose context
// cannot be canceled, and take it back (role.go); whoever reads hands the
// read error that ends a connection to the client's goroutine.
//
// Messages dropped on other goroutines (Send making room, Close discarding
// the queue) wait in w.pending, bounded, until the client's goroutine
// reports them to OnDropped: while it waits out a delay or a dial, after
// each connection, and last in finish.
//
// Stopping has one signal, c.ctx, canceled exactly once in effect, by
// whichever comes first:
//   - Close (or CloseWith): sets closing, cancels c.ctx, ends the live
//     connection (a close frame, bounded by the close timeout) and discards
//     the queue and the replay window;
//   - an abort, decided by the client's goroutine: sets err and StateClosed,
//     cancels c.ctx and discards the queue, then runs OnDisconnect.
//
// Once c.ctx is canceled no connection attempt starts, OnMessage is no
// longer called and Send and Receive report the end. The client's goroutine
// then runs finish: StateClosed (and its OnStateChange), OnDropped for the
// discarded messages, and last of all it closes done. Nothing of the
// client's runs after done is closed, except a header or URL func that
// ignores its ctx (its result is discarded).
//
// Close waits for done, unless it is called on the client's goroutine,
// that is from inside a hook, which the client cannot wait for: then it
// returns at once and the client stops when the hook returns. The client
// knows its own goroutine exactly (gid, recorded once when it starts), so a
// Close from another goroutine racing a hook always waits.
//
// Methods that would have to wait for the client's goroutine (Send on a
// full queue, Receive with nothing buffered, WaitState for another state,
// Flush with something to wait for, Ping on a live connection, whose pong
// that goroutine reads) return ErrWouldBlock when called from a hook,
// instead of deadlocking.
//
// Reconnect does not move the state itself: it closes the live connection
// (marked forced, so that its end skips the policy) or wakes the backoff
// wait (reconnectAsked and a token on wakeCh); the client's goroutine does
// the rest.

// ErrWouldBlock is returned by Send, Receive, WaitState, Flush and Ping
// when they are called from a hook (on the client's goroutine) and would
// have to wait for something only that goroutine can bring about: room in
// the queue, a message, a state change, a pong. See "Hooks" in the package
// documentation.
var ErrWouldBlock = errors.New("wsreconnect: called from a hook, would wait for the hook's own goroutine")

// hook runs f, a user callback, on the client's goroutine.
func (c *Client) hook(f func()) {
	c.inHook.Store(true)
	f()
	c.inHook.Store(false)
}

// inOwnHook reports whether the caller is a hook running on the client's
// goroutine. Outside hooks it costs one atomic load.
func (c *Client) inOwnHook() bool {
	if !c.inHook.Load() {
		return false
	}
	id := goid()
	return id != 0 && id == c.gid.Load()
}

// goid returns the current goroutine's id, parsed from the first line of
// its stack trace ("goroutine 18 [running]:"). It is only called on paths
// that are about to wait anyway, never per message. (Not inlined: its
// buffer would stay in the frame of run, see there.)
//
//go:noinline
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// lifecycle is the part of a Client that says where it is in its life.
type lifecycle struct {
	ctx     context.Context // &stop: done when the client stops, by Close or an abort
	stop    stopContext
	closing atomic.Bool   // Close was called
	done    chan struct{} // closed when the client's goroutine has ended
	gid     atomic.Uint64 // the client's goroutine
	inHook  atomic.Bool   // the client's goroutine is running a hook
}

func (lc *lifecycle) init() {
	lc.stop.done = make(chan struct{})
	lc.ctx = &lc.stop
	lc.done = make(chan struct{})
}

// cancel stops the client's context; only the first call does anything.
func (lc *lifecycle) cancel() { lc.stop.cancel() }

// stopContext is the client's context: done when the client stops. It lives
// inside the Client and implements AfterFunc, which the context package
// uses for contexts derived from it (each attempt's, and any that user code
// derives from the OnConnect ctx): they need no goroutine and no map of
// children, so an idle client pays nothing for them.
type stopContext struct {
	done chan struct{}

	mu      sync.Mutex
	stopped bool
	funcs   []afterFunc // registered by AfterFunc, not yet stopped
	nextID  uint64
}

type afterFunc struct {
	id uint64
	f  func()
}

func (s *stopContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (s *stopContext) Done() <-chan struct{}       { return s.done }
func (s *stopContext) Value(any) any               { return nil }

func (s *stopContext) Err() error {
	select {
	case <-s.done:
		return context.Canceled
	default:
		return nil
	}
}

// AfterFunc arranges for f to run once the context is done, and returns a
// function that unregisters f, reporting whether it did so before f ran.
// It costs two allocations: the returned func and, when the list was
// empty, its backing array.
func (s *stopContext) AfterFunc(f func()) (stop func() bool) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	s.nextID++
	id := s.nextID
	s.funcs = append(s.funcs, afterFunc{id: id, f: f})
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.funcs {
			if x.id == id {
				s.funcs = append(s.funcs[:i], s.funcs[i+1:]...)
				if len(s.funcs) == 0 {
					s.funcs = nil // an idle client keeps no slice
				}
				return true
			}
		}
		return false
	}
}

// cancel closes done and runs the registered funcs, once. The funcs are the
// context package's cancellations of derived contexts, which do not block.
func (s *stopContext) cancel() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.done)
	funcs := s.funcs
	s.funcs = nil
	s.mu.Unlock()
	for _, a := range funcs {
		a.f()
	}
}
