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
	// Unacked is the number of tracked messages written but not yet
	// acknowledged (WithAcks), and Replayed counts the messages written
	// again after a reconnect because they were not acknowledged.
	Unacked  int
	Replayed int64
	// RTT is the round-trip time of the heartbeat's last answered ping,
	// and RTTAvg a smoothed average of them (7/8 of the last average plus
	// 1/8 of each sample, as TCP smooths its round-trip time); 0 before
	// the first. A ping whose pong may have waited behind the
	// application's hold on the reader gives no sample.
	RTT, RTTAvg time.Duration
	// Uptime is how long the current connection has been up, 0 while the
	// client is not connected.
	Uptime time.Duration
	// DownSince is when the client last lost its connection, or started
	// without one; the zero Time while it is connected.
	DownSince time.Time
	// PingsIn counts the pings the peer sent, on every connection (each
	// is answered with a pong as it is read), and LastPingIn is when the
	// last one arrived, the zero Time before the first: whether and how
	// often the server runs a keepalive of its own.
	PingsIn    int64
	LastPingIn time.Time
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
	url                    atomic.Pointer[string] // the URL the URL func gave, redacted
	trackURL               bool                   // a URL func is set: record each attempt's URL
	rtt, rttAvg            atomic.Int64
	upSince, downSince     atomic.Int64 // unix nanoseconds, 0 for none
	pingsIn, lastPingIn    atomic.Int64 // the peer's pings; unix nanoseconds of the last
	disconnectsMu          sync.Mutex
	disconnects            map[CloseCode]int64
}

// setURL records the URL of an attempt made with a URL func.
func (s *counters) setURL(raw string) {
	if !s.trackURL {
		return // Stats takes the URL from the endpoint
	}
	r := redactRaw(raw)
	s.url.Store(&r)
}

// sampleRTT takes one round-trip sample of the heartbeat.
func (s *counters) sampleRTT(d time.Duration) {
	s.rtt.Store(int64(d))
	avg := s.rttAvg.Load()
	if avg == 0 {
		avg = int64(d)
	} else {
		avg += (int64(d) - avg) / 8
	}
	s.rttAvg.Store(avg)
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
	url := ""
	if c.opts.urlFunc == nil {
		url = redactRaw(c.urls[s.endpoint.Load()])
	} else if p := s.url.Load(); p != nil {
		url = *p
	}
	st := Stats{
		State:         c.State(),
		URL:           url,
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
		RTT:           time.Duration(s.rtt.Load()),
		RTTAvg:        time.Duration(s.rttAvg.Load()),
	}
	if c.win != nil {
		st.Unacked = int(c.win.unacked.Load())
		st.Replayed = c.win.replayed.Load()
	}
	if up := s.upSince.Load(); up != 0 {
		st.Uptime = time.Since(time.Unix(0, up))
	}
	if down := s.downSince.Load(); down != 0 {
		st.DownSince = time.Unix(0, down)
	}
	st.PingsIn = s.pingsIn.Load()
	if at := s.lastPingIn.Load(); at != 0 {
		st.LastPingIn = time.Unix(0, at)
	}
	s.disconnectsMu.Lock()
	for k, v := range s.disconnects {
		st.Disconnects[k] = v
	}
	s.disconnectsMu.Unlock()
	return st
}
