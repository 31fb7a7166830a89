package wsreconnect

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Client's counters, from Client.Stats.
type Stats struct {
	State State
	// URL is the endpoint in use or being tried, without credentials or
	// query.
	URL string
	// Connects counts connections that came up; Reconnects those after the
	// first.
	Connects, Reconnects int64
	// Disconnects counts disconnects by Disconnect.Code; failed attempts,
	// which have no close code, count under 0.
	Disconnects map[CloseCode]int64
	// Messages and bytes written to and read from connections.
	MessagesOut, BytesOut, MessagesIn, BytesIn int64
	// Queued is the number of messages waiting for a connection.
	Queued int
	// Dropped counts messages that Send accepted but the client did not
	// write (see WithOnDropped).
	Dropped int64
	// OutboundLimit is the current outbound message limit, 0 for none.
	OutboundLimit int
	// Backoff is the last delay chosen before a connection attempt.
	Backoff time.Duration
}

// counters are updated on the hot path with atomics, so that Stats never
// waits for the write lock.
type counters struct {
	// Written by Send, under the write lock.
	messagesOut, bytesOut atomic.Int64
	_                     [48]byte // keep the reader's counters off this cache line
	// Written by the client's goroutine as it reads.
	messagesIn, bytesIn atomic.Int64
	_                   [48]byte

	connects, reconnects   atomic.Int64
	queued, dropped, limit atomic.Int64
	backoff                atomic.Int64
	endpoint               atomic.Int64
	disconnectsMu          sync.Mutex
	disconnects            map[CloseCode]int64
}

func (s *counters) disconnected(code CloseCode) {
	s.disconnectsMu.Lock()
	defer s.disconnectsMu.Unlock()
	if s.disconnects == nil {
		s.disconnects = make(map[CloseCode]int64)
	}
	s.disconnects[code]++
}

// Stats returns a snapshot of the client's counters. It is cheap and never
// blocks on I/O.
func (c *Client) Stats() Stats {
	s := &c.stats
	st := Stats{
		State:         c.State(),
		URL:           redactRaw(c.urls[s.endpoint.Load()]),
		Connects:      s.connects.Load(),
		Reconnects:    s.reconnects.Load(),
		MessagesOut:   s.messagesOut.Load(),
		BytesOut:      s.bytesOut.Load(),
		MessagesIn:    s.messagesIn.Load(),
		BytesIn:       s.bytesIn.Load(),
		Queued:        int(s.queued.Load()),
		Dropped:       s.dropped.Load(),
		OutboundLimit: int(s.limit.Load()),
		Backoff:       time.Duration(s.backoff.Load()),
		Disconnects:   make(map[CloseCode]int64),
	}
	s.disconnectsMu.Lock()
	for k, v := range s.disconnects {
		st.Disconnects[k] = v
	}
	s.disconnectsMu.Unlock()
	return st
}
