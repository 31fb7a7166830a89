package wsreconnect

import (
	"context"
	"fmt"
	"sync"
)

// aside reads a new connection while the client's goroutine sets it up: it
// runs the OnConnect hook and then writes the replays and the queue. gorilla
// allows one reader, and pongs and close frames are only seen while reading,
// so a goroutine of its own reads meanwhile: the heartbeat works during the
// setup, acknowledgements release the replay window, a peer that closes
// during the setup is noticed, and Conn.Receive can take messages.
//
// What it reads waits in buf, at most max messages (the receive buffer);
// when buf is full it stops reading until Conn.Receive takes one or the
// setup is over. When the setup is over (finish), the client's goroutine
// takes what Conn.Receive did not, in order, waits for the aside reader to
// end (stopped) and then takes its last result: the one message it read
// after the setup ended, the error that ended reading, or nothing. From
// then on the client's goroutine reads itself: the hand-off costs one wait
// per connection, not per message, and no allocation.
type aside struct {
	c   *Client
	l   *link
	max int

	mu      sync.Mutex
	buf     []received
	err     error         // the read error that ended reading
	done    bool          // the setup is over
	changed chan struct{} // made by a waiter; closed on the next change

	last    readResult     // the reader's last result, set before it ends
	stopped sync.WaitGroup // done when the reader has ended
}

// readResult is what the aside reader hands over when it stops.
type readResult struct {
	m    received
	err  error
	none bool // it stopped between messages
}

// startAside starts reading l on a goroutine of its own.
func (c *Client) startAside(l *link) *aside {
	a := &aside{c: c, l: l, max: c.opts.receiveBuffer}
	a.stopped.Add(1)
	go a.run()
	return a
}

// result waits for the aside reader to end and returns its last result.
func (a *aside) result() readResult {
	a.stopped.Wait()
	return a.last
}

func (a *aside) notifyLocked() {
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
}

// waitLocked returns a channel closed on the next change; the caller holds
// a.mu.
func (a *aside) waitLocked() <-chan struct{} {
	if a.changed == nil {
		a.changed = make(chan struct{})
	}
	return a.changed
}

func (a *aside) run() {
	defer a.stopped.Done()
	for {
		a.mu.Lock()
		for len(a.buf) >= a.max && !a.done {
			// Full: the application holds the reader up, which the
			// heartbeat does not count against the peer.
			changed := a.waitLocked()
			a.mu.Unlock()
			a.l.hold(true)
			<-changed
			a.l.hold(false)
			a.mu.Lock()
		}
		if a.done {
			a.last = readResult{none: true}
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()

		m, consumed, err := a.c.readMessage(a.l)
		if consumed {
			continue
		}
		a.mu.Lock()
		switch {
		case err != nil:
			a.err = err
			a.last = readResult{err: err}
			a.notifyLocked()
			a.mu.Unlock()
			return
		case a.done:
			a.last = readResult{m: m}
			a.mu.Unlock()
			return
		}
		a.buf = append(a.buf, m)
		a.notifyLocked()
		a.mu.Unlock()
	}
}

// receive returns the next message read during the setup, for
// Conn.Receive.
func (a *aside) receive(ctx context.Context) (received, error) {
	for {
		a.mu.Lock()
		if len(a.buf) > 0 {
			m := a.buf[0]
			a.buf[0] = received{}
			a.buf = a.buf[1:]
			a.notifyLocked()
			a.mu.Unlock()
			return m, nil
		}
		if a.err != nil {
			err := a.err
			a.mu.Unlock()
			return received{}, fmt.Errorf("wsreconnect: read: %w", err)
		}
		changed := a.waitLocked()
		a.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return received{}, ctx.Err()
		case <-a.c.ctx.Done():
			return received{}, closedError(a.c.Err())
		}
	}
}

// finish ends the setup and returns what Conn.Receive did not take, in
// order. The aside reader stops at its next message boundary; result
// returns what it read last.
func (a *aside) finish() []received {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	a.notifyLocked()
	left := a.buf
	a.buf = nil
	return left
}

// abandon ends a connection whose setup failed: it sends a close frame,
// waits for the aside reader to stop, and reads on until the peer answers
// or the close timeout passes.
func (a *aside) abandon() {
	l := a.l
	code, reason := a.c.closeCode()
	l.startClose(code, reason, a.c.opts.closeTimeout)
	a.finish()
	if r := a.result(); r.err == nil {
		for {
			if _, _, err := l.read(a.c.opts.readLimit); err != nil {
				break
			}
		}
	}
	l.stopHeartbeat()
	l.ws.NetConn().Close()
}
