package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// Soak parameters.
var soakDuration = durationEnv("INTEROP_SOAK", 60*time.Second)

const (
	soakSenders  = 8
	soakInterval = 10 * time.Millisecond // per sender
	// soakHeapGrowth bounds how much the live heap may grow between the
	// first reconnect and the end of the soak.
	soakHeapGrowth = 8 << 20
)

// TestSoak: 8 goroutines send for 60 s while the Node peer is killed every
// few seconds (SIGTERM and SIGKILL in turn) and restarted on the same port.
// The peer appends every message it receives to a file that survives the
// kills. Checks: no panic and no race (the race detector runs), no goroutine
// growth, a flat heap, per-sender order with no duplicates, every message
// sent while the client knew it was disconnected delivered, and no message
// whose Send failed delivered.
func TestSoak(t *testing.T) {
	leakCheck(t)
	recordFile := filepath.Join(t.TempDir(), "received.txt")
	n := peer.StartNode(t, peer.NodeOptions{RecordFile: recordFile})

	perSender := int(soakDuration/soakInterval) + 1000
	type senderLog struct {
		sent        int
		mustDeliver []bool // sent after OnDisconnect, before the next OnConnect
		failed      []bool // Send returned an error
	}
	logs := make([]*senderLog, soakSenders)
	for i := range logs {
		logs[i] = &senderLog{mustDeliver: make([]bool, perSender), failed: make([]bool, perSender)}
	}

	goroutinesBefore := runtime.NumGoroutine()

	var down atomic.Bool
	var disconnects, connects atomic.Int64
	c := dial(t, n.URL("/echo?id=soak&record=1"), nil,
		ws.WithHeartbeat(500*time.Millisecond, time.Second),
		ws.WithOnDisconnect(func(ws.Disconnect, ws.Action) {
			down.Store(true)
			disconnects.Add(1)
		}),
		ws.WithOnConnect(func(context.Context, *ws.Conn) error {
			down.Store(false)
			connects.Add(1)
			return nil
		}),
	)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for g := 0; g < soakSenders; g++ {
		senders.Add(1)
		go func(g int) {
			defer senders.Done()
			l := logs[g]
			tick := time.NewTicker(soakInterval)
			defer tick.Stop()
			for seq := 0; seq < perSender; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				wasDown := down.Load()
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.Send(sctx, ws.TextMessage, []byte(fmt.Sprintf("g%d-%06d", g, seq)))
				scancel()
				l.mustDeliver[seq] = wasDown && err == nil
				l.failed[seq] = err != nil
				l.sent = seq + 1
			}
		}(g)
	}
	var received atomic.Int64
	receiverDone := make(chan struct{})
	go func() {
		defer close(receiverDone)
		for {
			if _, _, err := c.Receive(ctx); err != nil {
				return
			}
			received.Add(1)
		}
	}()

	// Kill and restart the peer every few seconds; the last restart leaves
	// a few seconds of steady traffic before the end.
	end := time.Now().Add(soakDuration)
	var heapBase uint64
	kills := 0
	for time.Until(end) > 6*time.Second {
		wait(time.Duration(2500+(kills*397)%1500) * time.Millisecond)
		sig := syscall.SIGTERM
		if kills%2 == 1 {
			sig = syscall.SIGKILL
		}
		n.Kill(sig)
		kills++
		wait(time.Duration(500+(kills*211)%500) * time.Millisecond)
		n.Restart(t)
		if kills == 1 {
			waitConnected(t, c, 10*time.Second)
			heapBase = liveHeap()
		}
	}
	wait(time.Until(end))
	close(stop)
	senders.Wait()

	// Every message that has to arrive must be in the file within 20 s.
	var seen map[int][]int
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		seen, err = readSoakRecord(recordFile)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for g, l := range logs {
			have := make(map[int]bool, len(seen[g]))
			for _, s := range seen[g] {
				have[s] = true
			}
			for seq := 0; seq < l.sent; seq++ {
				if l.mustDeliver[seq] && !have[seq] {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d messages sent while disconnected never arrived", missing)
			break
		}
		wait(100 * time.Millisecond)
	}
	heapEnd := liveHeap()

	total, must, failed, delivered := 0, 0, 0, 0
	for g, l := range logs {
		total += l.sent
		last := -1
		for _, seq := range seen[g] {
			delivered++
			if seq <= last {
				t.Errorf("sender %d: message %d arrived after %d (duplicate or out of order)", g, seq, last)
			}
			if seq < len(l.failed) && l.failed[seq] {
				t.Errorf("sender %d: message %d arrived although its Send failed", g, seq)
			}
			last = seq
		}
		for seq := 0; seq < l.sent; seq++ {
			if l.mustDeliver[seq] {
				must++
			}
			if l.failed[seq] {
				failed++
			}
		}
	}
	t.Logf("%v, %d kills: %d messages sent (%d while disconnected, %d Send errors), %d delivered to the server, %d echoes received; %d disconnects, %d connects",
		soakDuration, kills, total, must, failed, delivered, received.Load(), disconnects.Load(), connects.Load())
	if minKills := max(1, int(soakDuration/(8*time.Second))); kills < minKills {
		t.Errorf("only %d kills happened, want at least %d", kills, minKills)
	}
	if must == 0 {
		t.Errorf("no message was sent while disconnected: the scenario did not exercise the queue")
	}

	t.Logf("live heap: %d KiB after the first reconnect, %d KiB at the end", heapBase>>10, heapEnd>>10)
	if heapEnd > heapBase+soakHeapGrowth {
		t.Errorf("live heap grew from %d to %d bytes (bound +%d)", heapBase, heapEnd, soakHeapGrowth)
	}

	// Stop everything, then the goroutine count must come back down.
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	cancel()
	<-receiverDone
	after := waitGoroutines(goroutinesBefore, 5*time.Second)
	if after > goroutinesBefore {
		t.Errorf("goroutines: %d before the client, %d after Close", goroutinesBefore, after)
	} else {
		t.Logf("goroutines: %d before the client, %d after Close", goroutinesBefore, after)
	}
}

// wait blocks for d. Used only to pace a scenario (how long the peer stays
// up or down), never to wait for something to happen.
func wait(d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	<-timer.C
}

// liveHeap returns HeapAlloc after two garbage collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// waitGoroutines polls until at most want goroutines run or timeout passes,
// and returns the last count.
func waitGoroutines(want int, timeout time.Duration) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return n
		}
		select {
		case <-deadline.C:
			return n
		case <-tick.C:
		}
	}
}

// readSoakRecord parses the peer's record file ("soak\tg<G>-<SEQ>" lines)
// into the sequence numbers each sender's messages arrived in. A last line
// still being written is ignored.
func readSoakRecord(path string) (map[int][]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		data = nil
	}
	seen := make(map[int][]int)
	for _, line := range strings.Split(string(data), "\n") {
		key, msg, ok := strings.Cut(line, "\t")
		if !ok || key != "soak" {
			continue
		}
		gs, seqs, ok := strings.Cut(strings.TrimPrefix(msg, "g"), "-")
		g, err1 := strconv.Atoi(gs)
		seq, err2 := strconv.Atoi(seqs)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad record line %q", line)
		}
		seen[g] = append(seen[g], seq)
	}
	return seen, nil
}
