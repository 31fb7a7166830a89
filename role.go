package wsreconnect

import (
	"time"
)

// Who reads the connection. gorilla allows one reader at a time. The
// client's goroutine reads, and hands each message to Receive over the
// inbox: a goroutine hand-off (a wake-up, a context switch) per message,
// which costs a round trip more than the message itself on a fast link.
// So, while an application goroutine keeps calling Receive with a context
// that cannot be canceled (ctx.Done() == nil: context.Background, say),
// the client's goroutine offers it the reading instead:
//
//   - The client's goroutine offers the reading (roleOffered) between two
//     messages, when such a Receive waits for one, and waits.
//   - Receive takes it (roleTaken) when it finds nothing buffered, reads
//     one message on its own goroutine as the client's goroutine would
//     (the heartbeat's pongs, acks and pings are handled as they arrive),
//     and offers the reading again as it returns the message.
//   - A Receive that cannot wait for a read to end (its context can be
//     canceled) takes the offer back for the client's goroutine, and so
//     does the client's goroutine itself once no Receive took the reading
//     for roleCheck, or the client stops: it reads again.
//   - A read that fails (the connection ended: the peer, the heartbeat,
//     Close and Reconnect all end it by acting on the socket) gives the
//     reading back to the client's goroutine with the error, and so does a
//     Receive that finds the client closing: the client's goroutine ends
//     the connection as if it had read the error itself.
//
// A Receive that reads can only be woken by data or by the connection's
// end, which is why a cancelable one never does. Nothing of the client's
// lifecycle changes: the client's goroutine still decides everything and
// runs every hook; only Acks.Acked may run on the Receive goroutine.
const (
	roleClient  int32 = iota // the client's goroutine reads (or the aside reader, during the setup)
	roleOffered              // on offer to Receive
	roleTaken                // a Receive reads
)

// roleCheck is how often the client's goroutine looks whether the reading
// it offered is still being taken.
const roleCheck = 5 * time.Millisecond

// roleMsg is what a Receive that read sends the client's goroutine.
type roleMsg struct {
	back bool  // the reading is the client's goroutine's again
	err  error // with back: the read error that ended the connection
}

// offerRead offers the reading of l to Receive if one waits for a message
// with a context that cannot be canceled, and reports whether it did.
func (c *Client) offerRead(l *link) bool {
	if c.opts.onMessage != nil || c.in.takers.Load() == 0 || c.in.others.Load() > 0 || c.closing.Load() {
		return false
	}
	if l.roleCh == nil {
		l.roleCh = make(chan roleMsg, 1)
	}
	l.clientWaits.Store(false)
	l.role.Store(roleOffered)
	if c.in.others.Load() > 0 && l.role.CompareAndSwap(roleOffered, roleClient) {
		// A cancelable Receive came meanwhile. (If it took the offer back
		// itself, its message waits for waitRead.)
		return false
	}
	if p := c.in.offer.Load(); p != nil {
		select {
		case *p <- struct{}{}: // wake a Receive waiting for a message
		default:
		}
	}
	return true
}

// waitRead waits, on the client's goroutine, while the reading is on offer
// or taken, and returns once it is the client's goroutine's again, with the
// error that ended the connection if a Receive's read failed. Every message
// on roleCh is taken here: one is sent only while the reading is not the
// client's goroutine's, and that lasts until waitRead returns.
func (c *Client) waitRead(l *link) error {
	if l.roleTimer == nil {
		l.roleTimer = time.NewTimer(roleCheck)
	} else {
		l.roleTimer.Reset(roleCheck)
	}
	used := l.roleUses.Load()
	stopping := c.ctx.Done()
	closing := false
	for {
		select {
		case m := <-l.roleCh:
			if m.back {
				l.roleTimer.Stop()
				return m.err
			}
			// A Receive offered it again and woke us (see reclaim).
			if closing {
				if l.reclaim() {
					return nil
				}
				continue
			}
			used = l.roleUses.Load()
			l.roleTimer.Reset(roleCheck)
		case <-stopping:
			// The client stops: the close answer must be read.
			stopping, closing = nil, true
			l.roleTimer.Stop()
			if l.reclaim() {
				return nil
			}
		case <-l.roleTimer.C:
			if u := l.roleUses.Load(); u != used {
				used = u
				l.roleTimer.Reset(roleCheck)
				continue
			}
			if l.reclaim() {
				return nil // no Receive took it meanwhile: read again
			}
		}
	}
}

// reclaim takes the reading back for the client's goroutine if it is on
// offer, and reports whether it did. If a Receive reads, it marks the
// client's goroutine waiting, so that the Receive's release sends it a
// message; there is no timer meanwhile, so an idle client with a Receive
// waiting in a read costs nothing.
func (l *link) reclaim() bool {
	for {
		if l.role.CompareAndSwap(roleOffered, roleClient) {
			return true
		}
		l.clientWaits.Store(true)
		if l.role.Load() != roleOffered {
			return false // taken (or given back): a message comes
		}
		if !l.clientWaits.CompareAndSwap(true, false) {
			return false // a release saw clientWaits: its message comes
		}
		// Released before it could see clientWaits: try again.
	}
}

// takeRead takes the reading of l for Receive, if it is on offer.
func (l *link) takeRead() bool {
	return l.role.CompareAndSwap(roleOffered, roleTaken)
}

// releaseRead offers the reading again after a Receive read a message; it
// gives it back instead when a cancelable Receive waits.
func (c *Client) releaseRead(l *link) {
	if c.in.others.Load() > 0 {
		l.giveBack(nil)
		return
	}
	l.roleUses.Add(1)
	l.role.Store(roleOffered)
	if l.clientWaits.Swap(false) {
		l.roleCh <- roleMsg{}
	}
}

// giveBack gives the reading of l back to the client's goroutine, with the
// error that ended the connection, if any.
func (l *link) giveBack(err error) {
	l.role.Store(roleClient)
	l.roleCh <- roleMsg{back: true, err: err}
}

// recallRead takes the reading of l back for the client's goroutine if it
// is on offer, for a Receive that waits with a cancelable context.
func (l *link) recallRead() {
	if l != nil && l.role.CompareAndSwap(roleOffered, roleClient) {
		l.roleCh <- roleMsg{back: true}
	}
}

// readOwn reads on the calling Receive's goroutine, which took the reading
// of l, until a message for the application arrives; ok is false when the
// reading went back to the client's goroutine instead (the connection
// ended, or the client is closing).
func (c *Client) readOwn(l *link) (received, bool) {
	for {
		m, consumed, err := c.readMessage(l)
		switch {
		case err != nil:
			l.giveBack(err)
			return received{}, false
		case consumed:
			continue
		case c.closing.Load():
			l.giveBack(nil) // the client's goroutine reads until the close answer
			return received{}, false
		}
		c.releaseRead(l)
		return m, true
	}
}

// receiveReading is Receive with a context that cannot be canceled, once
// nothing is buffered: it takes the reading when it is on offer, and waits
// for a message or an offer otherwise.
func (c *Client) receiveReading(inbox chan received) (MessageType, []byte, error) {
	offer := c.in.offerChannel()
	for {
		if c.closing.Load() {
			return 0, nil, ErrClosed
		}
		if l := c.cur.Load(); l != nil && l.takeRead() {
			// The client's goroutine may have handed over a message just
			// before it offered the reading.
			if m, ok := c.in.poll(inbox); ok {
				c.releaseRead(l)
				return m.typ, m.data, nil
			}
			if m, ok := c.readOwn(l); ok {
				return m.typ, m.data, nil
			}
			continue
		}
		var m received
		var got, stopped bool
		c.in.takers.Add(1)
		if l := c.cur.Load(); l == nil || l.role.Load() != roleOffered { // else offered before we counted
			select {
			case m = <-inbox:
				got = true
			case <-offer:
			case <-c.ctx.Done():
				stopped = true
			}
		}
		c.in.takers.Add(-1)
		switch {
		case got:
			return m.typ, m.data, nil
		case stopped:
			return c.receiveStopped(inbox)
		}
	}
}
