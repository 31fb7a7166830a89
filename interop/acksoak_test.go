package interop

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ws "github.com/wsreconnect/wsreconnect"
	"github.com/wsreconnect/wsreconnect/interop/internal/peer"
)

// Kill-soak parameters: the at-least-once run lasts INTEROP_SOAK (60 s, like
// TestSoak), the control without acks is shorter.
var ackControlDuration = durationEnv("INTEROP_ACK_CONTROL", 15*time.Second)

const (
	// ackSoakMinSends is the least number of accepted sends the
	// at-least-once run must reach over the full 60 s.
	ackSoakMinSends = 10000
	// ackFlushTimeout bounds the final Flush.
	ackFlushTimeout = 30 * time.Second
)

// sinkAcks is the protocol of the /sink peers: "seq:N ..." carries N,
// "ack:N" acknowledges every message up to N.
func sinkAcks() ws.Acks {
	parse := func(prefix string, data []byte) (uint64, bool) {
		s, ok := strings.CutPrefix(string(data), prefix)
		if !ok {
			return 0, false
		}
		if i := strings.IndexByte(s, ' '); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	return ws.Acks{
		ID:      func(_ ws.MessageType, data []byte) (uint64, bool) { return parse("seq:", data) },
		Acked:   func(_ ws.MessageType, data []byte) (uint64, bool) { return parse("ack:", data) },
		Consume: true,
	}
}

// sinkMessage is message seq of the kill-soak: "seq:N " and a padding of
// 16 to 215 bytes that depends on N, so a line in the log can be checked
// whole.
func sinkMessage(seq int) string {
	return "seq:" + strconv.Itoa(seq) + " " + strings.Repeat(string(rune('a'+seq%26)), 16+seq%200)
}

// ackSoakResult holds the figures of one kill-soak.
type ackSoakResult struct {
	sent, failed, lost, duplicates, logged, malformed int
	kills                                             int
	replayed                                          int64
	unacked                                           int
	flushErr                                          error
}

// TestAckKillSoak: a client with WithAcks sends sequence-numbered messages
// as fast as Send allows to a /sink peer that fsyncs each message to a log
// before acknowledging it, while the peer is SIGKILLed every 1-3 s and
// started again on the same port, appending to the same log. Every message
// whose Send returned nil must be in the log (nothing lost), and the kills
// must have landed mid-flight: messages replayed and duplicates in the log.
// The same soak without WithAcks must lose messages, which shows the count
// can fail.
func TestAckKillSoak(t *testing.T) {
	for _, name := range []string{"node", "python"} {
		t.Run(name+"-with-acks", func(t *testing.T) {
			r := runAckSoak(t, name, true, soakDuration)
			if r.flushErr != nil {
				t.Errorf("Flush after the soak: %v (%d still unacknowledged)", r.flushErr, r.unacked)
			}
			if r.unacked != 0 {
				t.Errorf("Stats().Unacked = %d after Flush, want 0", r.unacked)
			}
			if r.lost != 0 {
				t.Errorf("%d messages whose Send returned nil are in no log (at-least-once broken)", r.lost)
			}
			if r.replayed == 0 {
				t.Errorf("Stats().Replayed = 0: no kill landed while messages were unacknowledged")
			}
			if r.duplicates == 0 {
				t.Errorf("no duplicates in the log: no replay reached a peer that had logged the message already")
			}
			if want := int(float64(ackSoakMinSends) * soakDuration.Seconds() / 60); r.sent < want {
				t.Errorf("only %d sends accepted in %v, want at least %d", r.sent, soakDuration, want)
			}
		})
		t.Run(name+"-without-acks", func(t *testing.T) {
			r := runAckSoak(t, name, false, ackControlDuration)
			if r.lost == 0 {
				t.Errorf("without acks no message was lost across %d SIGKILLs: the soak cannot tell at-least-once from at-most-once", r.kills)
			}
		})
	}
}

// runAckSoak runs one kill-soak against the named peer and returns its
// figures, after logging them.
func runAckSoak(t *testing.T, name string, acks bool, d time.Duration) ackSoakResult {
	leakCheck(t)
	logFile := filepath.Join(t.TempDir(), "sink.log")
	var p *peer.Process
	if name == "node" {
		p = peer.StartNode(t, peer.NodeOptions{SinkFile: logFile})
	} else {
		p = peer.StartPython(t, peer.PythonOptions{SinkFile: logFile})
	}

	opts := []ws.Option{ws.WithHeartbeat(500*time.Millisecond, time.Second)}
	if acks {
		opts = append(opts, ws.WithAcks(sinkAcks()))
	}
	c := dial(t, p.URL("/sink?id=acksoak"), nil, opts...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Drain what the peer sends (the acks, when the client does not
	// consume them), so the client's reader never waits on the inbox.
	receiverDone := make(chan struct{})
	go func() {
		defer close(receiverDone)
		for {
			if _, _, err := c.Receive(ctx); err != nil {
				return
			}
		}
	}()

	// One sender, as fast as Send allows: sequence numbers from 1, ok[N]
	// tells whether Send returned nil for message N.
	stop := make(chan struct{})
	var ok []bool
	var failed atomic.Int64
	var senders sync.WaitGroup
	senders.Add(1)
	go func() {
		defer senders.Done()
		ok = append(ok, false) // no message 0
		for seq := 1; ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Send(sctx, ws.TextMessage, []byte(sinkMessage(seq)))
			scancel()
			ok = append(ok, err == nil)
			if err != nil {
				failed.Add(1)
			}
		}
	}()

	// SIGKILL the peer every 1-3 s and start it again on the same port.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	end := time.Now().Add(d)
	kills := 0
	for {
		next := time.Duration(1000+rng.IntN(2001)) * time.Millisecond
		if time.Until(end) < next+time.Second {
			break
		}
		wait(next)
		p.Kill(syscall.SIGKILL)
		kills++
		p.Restart(t)
	}
	wait(time.Until(end))
	close(stop)
	senders.Wait()

	var r ackSoakResult
	r.kills = kills
	fctx, fcancel := context.WithTimeout(context.Background(), ackFlushTimeout)
	r.flushErr = c.Flush(fctx)
	fcancel()
	if !acks {
		// Flush only empties the queue: give the peer time to log the
		// last message accepted, then count.
		last := 0
		for seq := len(ok) - 1; seq > 0; seq-- {
			if ok[seq] {
				last = seq
				break
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			counts, _, _ := readSinkLog(t, logFile)
			if counts[last] > 0 || time.Now().After(deadline) {
				break
			}
			wait(100 * time.Millisecond)
		}
	}
	st := c.Stats()
	r.replayed, r.unacked = st.Replayed, st.Unacked
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	cancel()
	<-receiverDone

	counts, logged, malformed := readSinkLog(t, logFile)
	r.logged, r.malformed = logged, malformed
	r.failed = int(failed.Load())
	for seq := 1; seq < len(ok); seq++ {
		if ok[seq] {
			r.sent++
			if counts[seq] == 0 {
				r.lost++
			}
		}
	}
	for _, n := range counts {
		if n > 1 {
			r.duplicates += n - 1
		}
	}
	mode := "with acks"
	if !acks {
		mode = "without acks"
	}
	t.Logf("%s peer, %s, %v: %d sent (Send nil), %d Send errors, %d SIGKILLs, %d lines logged, %d lost, %d duplicates, %d replayed",
		name, mode, d, r.sent, r.failed, r.kills, r.logged, r.lost, r.duplicates, r.replayed)
	if r.malformed > 0 {
		t.Errorf("%d lines of the log are not a message that was sent", r.malformed)
	}
	return r
}

// readSinkLog counts how often each message appears in the /sink log. A
// line that is not exactly sinkMessage(N) is malformed; a last line still
// being written (no newline yet) is ignored.
func readSinkLog(t *testing.T, path string) (counts map[int]int, lines, malformed int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the sink log: %v", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		data = nil
	}
	counts = make(map[int]int)
	if len(data) == 0 {
		return counts, 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		lines++
		s, _, _ := strings.Cut(strings.TrimPrefix(line, "seq:"), " ")
		seq, err := strconv.Atoi(s)
		if err != nil || line != sinkMessage(seq) {
			malformed++
			if malformed <= 3 {
				t.Logf("malformed log line %d: %.60q", lines, line)
			}
			continue
		}
		counts[seq]++
	}
	return counts, lines, malformed
}
