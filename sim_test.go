package wsreconnect

// TestSimulation is a seeded fault-schedule simulation. A scripted server
// (sim_server_test.go) draws, for every connection attempt, a fault from a
// seeded schedule: refused handshakes (503/429 with Retry-After, 500, and
// rarely 401/403/404), close frames with the codes of the policy table,
// TCP drops and resets, a peer that stops reading or stops answering pings,
// 1009 refusals of messages over a per-connection limit with varied
// reasons, slow reads, and messages and pings to the client. Seeded clients
// send sequence-numbered, checksummed messages from several goroutines,
// receive (or not), call the client from inside its hooks and close it at a
// random moment. A third of the runs turn on at-least-once delivery
// (WithAcks) against a server that acks now and then (sim_acks_test.go). After each run the invariants listed at (*simRun).check
// are checked. Only the package's public API is used. Every violation is
// reported with its seed and a replay command.
//
// Seeds run four at a time. A run alone (-sim.seed) checks for leaked
// goroutines with goleak; runs side by side check by the profiler label
// that every goroutine started by a run (client, server) inherits.
//
// Everything derives from one int64 seed (math/rand/v2 PCG, one rand per
// goroutine), so a run replays as far as scheduling allows:
//
//	go test -run TestSimulation -sim.seed=N          # replay one seed
//	go test -run TestSimulation -sim.seeds=K         # K seeds from a random start
//	go test -run TestSimulation -sim.seeds=K -sim.start=S   # K seeds from S
//	go test -race -run TestSimulation -sim.seeds=2000 -timeout 60m .   # the long run
//
// Plain go test runs simFixedSeeds, chosen so that every fault and client
// action of the histogram is exercised at least once; the test fails if
// one is not. Add -sim.v to log every run's summary.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

var (
	simSeedFlag    = flag.Int64("sim.seed", -1, "TestSimulation: replay this one seed (>= 0)")
	simSeedsFlag   = flag.Int("sim.seeds", 0, "TestSimulation: run this many seeds, from a random start")
	simStartFlag   = flag.Int64("sim.start", -1, "TestSimulation: with -sim.seeds, the first seed (default random)")
	simVerboseFlag = flag.Bool("sim.v", false, "TestSimulation: log a summary of every run")
)

// simFixedSeeds run by plain go test. Together they exercise every key of
// simAllKeys, most of them at least three times, in the batch they were
// chosen from (5000 to 5299; the rarest faults, a 401 or 403 handshake,
// a 3000 close and a Close inside OnConnect, came up only once or twice
// there). With one of these defects put back into the client, these seeds
// report it:
//   - a queued split message re-split after a 1009 keeps its old first
//     part: 5024, 5062, 5153, 5191 (split-part-repeated, dropped-not-whole,
//     refused-garbage);
//   - Close from another goroutine returns while a hook runs: 5037, 5048,
//     5083 (close-before-done, hook-after-close);
//   - a write that fails after an equal-sized one was refused makes the
//     refused one forgotten: 5119, 5185, and less often 5158, 5270
//     (refused-unnamed);
//   - the refused message is queued again although a later part of it is
//     already first in the queue: only at times (duplicate); the unit
//     test TestRefusedMessageStillQueuedIsNotQueuedTwice catches it
//     every time;
//   - Send with an ended context writes: most seeds
//     (ended-ctx-send-accepted);
//   - with acks, a tracked message a 1009 refused is queued again besides
//     staying in the replay window (the copy kept for the hooks had lost
//     its tracking): 5034, 5037 (ack-wire-order).
var simFixedSeeds = []int64{
	5014, 5020, 5022, 5024, 5033, 5034, 5037, 5048, 5049, 5054,
	5062, 5068, 5083, 5086, 5092, 5101, 5104, 5106, 5117, 5119,
	5126, 5128, 5139, 5141, 5149, 5153, 5158, 5164, 5168, 5169,
	5185, 5188, 5191, 5202, 5214, 5215, 5223, 5225, 5237, 5239,
	5240, 5245, 5255, 5257, 5258, 5266, 5270, 5271, 5298,
	// Found a message reported dropped after it was delivered (Close
	// during the policy after a disconnect that was not a 1009).
	1088, 1145,
}

const (
	simParallel     = 4               // runs at a time
	simSlack        = 2 * time.Second // added to every operation's bound
	simCloseTimeout = 200 * time.Millisecond
	simHookSender   = 9 // sender id of messages sent from inside hooks
	simMaxPerSecond = 200
)

// simAllKeys is every fault and action the histogram must see.
func simAllKeys() []string {
	keys := []string{
		// server faults
		"refuse-503", "refuse-429", "refuse-500", "refuse-401", "refuse-403", "refuse-404",
		"retry-after-0", "retry-after-1", "retry-after-huge",
		"drop", "reset", "stall", "deaf-ping", "slow-reads", "server-sends", "server-pings",
		"split-series-complete",
		// client actions
		"new", "dial", "waitstate", "heartbeat", "send-buffer", "receive-buffer", "splitter", "max-message-size",
		"on-message", "receiver", "no-receiver", "on-connect", "login-sent", "small-socket-buffer",
		"senders-1", "senders-2", "senders-3", "senders-4",
		"send-text", "send-binary", "send-oversize",
		"send-ctx-deadline", "send-ctx-short", "send-ctx-none", "send-ctx-cancelled", "send-ctx-expired",
		"hook-state", "hook-stats", "hook-err", "hook-send", "hook-receive", "hook-waitstate",
		"close-outside", "close-timer", "close-after-senders", "close-after-server-count",
		"close-in-ondisconnect", "close-in-onmessage", "close-in-onconnect",
		"slow-hook", "close-during-hook", "policy-send", "same-size", "send-burst", "1009-stall",
		// at least once (sim_acks_test.go); "ack-order-refused", a Send
		// that lost the race for its number, depends on scheduling and is
		// only counted
		"max-queue-age",
		"acks", "ack-sent", "ack-consume", "ack-delivered", "ack-duplicate", "ack-replayed",
	}
	for _, c := range simCloseCodes {
		if c == 4000 {
			keys = append(keys, "close-4xxx")
			continue
		}
		keys = append(keys, fmt.Sprintf("close-%d", c))
	}
	for i := range simReasons {
		keys = append(keys, fmt.Sprintf("1009-reason-%d", i))
	}
	return keys
}

func simRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream*0x9e3779b97f4a7c15+1))
}

// simRecorder collects one run's histogram and violations.
type simRecorder struct {
	seed       int64
	mu         sync.Mutex
	hist       map[string]int
	violations []simViolation
	dumped     bool
	lost       int // messages lost in flight
	summary    string
}

type simViolation struct{ kind, msg string }

func (r *simRecorder) count(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hist[key]++
}

func (r *simRecorder) violation(kind, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 50 {
		r.violations = append(r.violations, simViolation{kind, fmt.Sprintf(format, args...)})
	}
}

// dump returns every goroutine's stack, once per run.
func (r *simRecorder) dump() string {
	r.mu.Lock()
	first := !r.dumped
	r.dumped = true
	r.mu.Unlock()
	if !first {
		return "(goroutines dumped above)"
	}
	return "goroutines:\n" + simStacks()
}

func simStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// simOps is the watchdog: every operation must return within its bound,
// the earlier of its context's deadline and the moment the client began
// to stop, plus the close timeout and simSlack.
type simOps struct {
	rec    *simRecorder
	mu     sync.Mutex
	next   int
	live   map[int]*simOp
	stopAt time.Time
}

type simOp struct {
	name      string
	start     time.Time
	deadline  time.Time // zero: bounded only by the client stopping
	immediate bool      // bounded from its start (Close)
	reported  bool
}

func (o *simOps) begin(name string, ctx context.Context) func() {
	op := &simOp{name: name, start: time.Now()}
	if ctx == nil {
		op.immediate = true
	} else if dl, ok := ctx.Deadline(); ok {
		op.deadline = dl
	}
	o.mu.Lock()
	id := o.next
	o.next++
	o.live[id] = op
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		delete(o.live, id)
		o.mu.Unlock()
	}
}

// stopping records that the client began to stop (Close or abort).
func (o *simOps) stopping() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopAt.IsZero() {
		o.stopAt = time.Now()
	}
}

func (o *simOps) check(now time.Time) {
	o.mu.Lock()
	var late []string
	for _, op := range o.live {
		base := op.deadline
		if op.immediate {
			base = op.start
		}
		if !o.stopAt.IsZero() && (base.IsZero() || o.stopAt.Before(base)) {
			base = o.stopAt
		}
		if base.IsZero() || op.reported {
			continue
		}
		if base.Before(op.start) {
			base = op.start
		}
		if now.Sub(base) > simCloseTimeout+simSlack {
			op.reported = true
			late = append(late, fmt.Sprintf("%s running for %s (bound %s after %s)",
				op.name, now.Sub(op.start).Round(time.Millisecond), simCloseTimeout+simSlack, base.Sub(op.start).Round(time.Millisecond)))
		}
	}
	o.mu.Unlock()
	for _, l := range late {
		o.rec.violation("operation-bound", "%s\n%s", l, o.rec.dump())
	}
}

// simConfig is one run's client, drawn from the seed.
type simConfig struct {
	baseLimit                int
	dial                     bool
	waitState                time.Duration // after New: wait this long for StateConnected
	dialTimeout              time.Duration
	heartbeat                bool
	sendBuffer, recvBuffer   int
	splitter                 bool
	maxSize                  int
	receiveMode              string // "receiver", "on-message", "no-receiver"
	onConnect                bool
	smallBuf                 bool
	msgs                     []int // per sender
	closeMode                string
	closeAfter               time.Duration
	closeCount               int
	hookClose                int // per mille
	backoffInit, backoffMax  time.Duration
	multiplier               float64
	stableAfter, restart     time.Duration
	minDelay1013, minDelay14 time.Duration
	slowHooks                int  // per mille of hook calls that work a few ms
	closeInHook              bool // the last Close comes while a hook works
	policySend               int  // per mille of Policy calls that send
	sameSize                 int  // >0: every large message has exactly this size
	bursts                   bool // large messages go out in bursts

	// Drawn from a stream of their own, so that the draws above stay
	// those of older seeds.
	overflow    QueueOverflow
	sendBytes   int           // >0: WithSendBufferBytes
	reconnects  int           // Reconnect calls from a goroutine of the application
	connReceive bool          // OnConnect waits a moment for a server message (Conn.Receive)
	stateHook   bool          // OnStateChange checks that no change is missed
	flushes     bool          // a sender calls Flush now and then
	acks        bool          // WithAcks (sim_acks_test.go)
	ackAll      bool          // every sender's messages are tracked, not only sender 0's
	ackWindow   int           // Acks.Window; 0 for the default
	ackConsume  bool          // Acks.Consume
	maxAge      time.Duration // >0: WithMaxQueueAge
}

// simMakeConfigMore draws the newer parts of the configuration.
func simMakeConfigMore(seed int64, cfg *simConfig) {
	rng := simRand(seed, 7)
	cfg.overflow = QueueOverflow(rng.IntN(3))
	if rng.IntN(3) == 0 {
		cfg.sendBytes = 500 + rng.IntN(8000)
	}
	if rng.IntN(3) == 0 {
		cfg.reconnects = 1 + rng.IntN(8)
	}
	cfg.connReceive = rng.IntN(3) == 0
	cfg.stateHook = rng.IntN(2) == 0
	cfg.flushes = rng.IntN(3) == 0
	cfg.acks = rng.IntN(3) == 0
	cfg.ackAll = rng.IntN(2) == 0
	if rng.IntN(2) == 0 {
		cfg.ackWindow = 2 + rng.IntN(20)
	}
	cfg.ackConsume = rng.IntN(2) == 0
	if rng.IntN(4) == 0 {
		cfg.maxAge = time.Duration(1+rng.IntN(40)) * time.Millisecond
	}
}

func simMakeConfig(seed int64) simConfig {
	rng := simRand(seed, 1)
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	cfg := simConfig{
		baseLimit:   200 + rng.IntN(1800),
		dial:        rng.IntN(10) < 3,
		dialTimeout: ms(300, 1500),
		heartbeat:   rng.IntN(3) == 0,
		splitter:    rng.IntN(2) == 0,
		onConnect:   rng.IntN(3) == 0,
		smallBuf:    rng.IntN(6) == 0,
		backoffInit: ms(1, 5),
		backoffMax:  20 * time.Millisecond,
		multiplier:  1.5 + rng.Float64(),
		stableAfter: ms(20, 100),
		restart:     ms(1, 10),
	}
	cfg.minDelay1013, cfg.minDelay14 = ms(0, 10), ms(0, 10)
	simMakeConfigMore(seed, &cfg)
	if !cfg.dial && rng.IntN(3) == 0 {
		cfg.waitState = ms(10, 300)
	}
	if rng.IntN(2) == 0 {
		cfg.sendBuffer = 4 + rng.IntN(61)
	}
	if rng.IntN(2) == 0 {
		cfg.recvBuffer = 1 + rng.IntN(4)
	}
	if rng.IntN(3) == 0 {
		cfg.maxSize = cfg.baseLimit/2 + rng.IntN(2*cfg.baseLimit)
	}
	switch q := rng.IntN(10); {
	case q < 5:
		cfg.receiveMode = "receiver"
	case q < 7:
		cfg.receiveMode = "on-message"
	default:
		cfg.receiveMode = "no-receiver"
	}
	for range 1 + rng.IntN(4) {
		cfg.msgs = append(cfg.msgs, 5+rng.IntN(50))
	}
	cfg.closeMode = []string{"timer", "after-senders", "after-server-count"}[rng.IntN(3)]
	cfg.closeAfter = ms(50, 600)
	cfg.closeCount = 1 + rng.IntN(30)
	if rng.IntN(5) < 2 {
		cfg.hookClose = 5 + rng.IntN(45)
	}
	// Drawn last, so that the draws above stay those of older seeds.
	if rng.IntN(5) < 2 {
		cfg.slowHooks = 100 + rng.IntN(500)
		cfg.closeInHook = rng.IntN(2) == 0
	}
	if cfg.splitter && rng.IntN(2) == 0 {
		cfg.policySend = 200 + rng.IntN(600)
	}
	if rng.IntN(4) == 0 {
		// Every large message has one size, over every limit the server
		// uses: none is ever larger than the one refused.
		// Large against the socket buffers too, so that a burst of them
		// fills them.
		cfg.sameSize = max(cfg.baseLimit*3/2+1+rng.IntN(cfg.baseLimit*3/2), 2000+rng.IntN(3000))
		cfg.bursts = rng.IntN(4) > 0
		if rng.IntN(4) > 0 {
			cfg.smallBuf = true
		}
		if cfg.maxSize < cfg.sameSize && rng.IntN(3) > 0 {
			cfg.maxSize = 0
		}
	}
	return cfg
}

type simSent struct {
	seq   int
	err   error
	ended bool // its context had ended before Send was called
}

type simDecision struct {
	d       Disconnect
	a       Action
	limit   int // Stats().OutboundLimit in the hook, -1 if unknown
	backoff time.Duration
}

type simHookEvent struct {
	seq  int
	name string
}

// simRun is one seeded run.
type simRun struct {
	seed int64
	cfg  simConfig
	rec  *simRecorder
	srv  *simServer
	ops  *simOps

	acks        *simAcks // nil without acks
	client      atomic.Pointer[Client]
	closeCalled atomic.Bool // some Close began
	stopped     chan struct{}

	hookMu  sync.Mutex // hooks run one at a time; this guards their rand
	hookRng *rand.Rand
	hookSeq int // seq of the next hook-sent message

	workMu  sync.Mutex // guards workRng
	workRng *rand.Rand
	working chan struct{} // a hook began some work (cfg.slowHooks)

	mu          sync.Mutex
	sent        map[int][]simSent
	dropped     map[[2]int]bool
	unacked     map[[2]int]bool // reported dropped as written but not acknowledged
	flushed     [][2]int        // tracked, sent before a Flush that returned nil, not yet arrived then
	decisions   []simDecision
	believed    [][2]int // what Disconnect.Refused named
	believedLen []int    // and its size
	hooks       []simHookEvent
	nhooks      int
	lastLimit   int
	shrinks     [][2]int  // (limit before, limit after)
	mustName    [][2]int  // what Disconnect.Refused named where it must name the refused message; -1 for none
	recvLast    [3][2]int // per consumer: 0 the receiver or OnMessage, 1 a hook, 2 Conn.Receive
	lastState   State     // the last change OnStateChange saw
	recvd       int
	doneNoClose bool
}

func (r *simRun) hookEnter(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nhooks++
	if len(r.hooks) < 10000 {
		r.hooks = append(r.hooks, simHookEvent{seq: r.nhooks, name: name})
	}
}

func (r *simRun) hookCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nhooks
}

// simHookCtx is the context of a call from inside a hook: a generous
// deadline (the race detector and four runs at a time make a split slow),
// so that only a call that really waits for the hook's own goroutine ends
// with DeadlineExceeded. rng, if set, is drawn from as before so that the
// schedules of the fixed seeds stay as they were.
func simHookCtx(rng *rand.Rand) (context.Context, context.CancelFunc) {
	if rng != nil {
		_ = rng.IntN(50)
	}
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// gotFromServer checks that messages from the server come in order, as
// each consumer sees them: the receiver goroutine and a Receive inside a
// hook race each other, so their interleaving is not an order.
func (r *simRun) gotFromServer(data []byte, consumer int) {
	h, _, err := simParse(data)
	if err == nil && h.kind == 'A' && r.acks != nil {
		if r.cfg.ackConsume {
			r.rec.violation("ack-not-consumed", "received ack %d with Acks.Consume set", h.ack)
		} else {
			r.rec.count("ack-delivered")
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recvd++
	if err != nil || h.kind != 'R' {
		r.rec.violation("client-receive-garbage", "received %q (%v)", simHead(data), err)
		return
	}
	cur := [2]int{h.conn, h.counter}
	last := r.recvLast[consumer]
	if cur[0] < last[0] || (cur[0] == last[0] && cur[1] <= last[1]) {
		r.rec.violation("client-receive-order", "received message %d of connection %d after message %d of connection %d",
			cur[1], cur[0], last[1], last[0])
	}
	r.recvLast[consumer] = cur
}

func (r *simRun) options() []Option {
	cfg := r.cfg
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cfg.backoffInit),
		backoff.WithMultiplier(cfg.multiplier),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(cfg.backoffMax),
		backoff.WithMaxElapsedTime(0),
	)
	opts := []Option{
		WithBackoff(b),
		WithMinDelay(CloseTryAgainLater, cfg.minDelay1013),
		WithMinDelay(CloseBadGateway, cfg.minDelay14),
		WithRestartDelay(cfg.restart),
		WithStableAfter(cfg.stableAfter),
		WithCloseTimeout(simCloseTimeout),
		WithHandshakeTimeout(500 * time.Millisecond),
		WithOnDropped(r.onDropped),
		WithOnDisconnect(r.onDisconnect),
		WithPolicy(r.policy),
	}
	add := func(key string, on bool, o Option) {
		if on {
			r.rec.count(key)
			opts = append(opts, o)
		}
	}
	if cfg.sameSize > 0 {
		r.rec.count("same-size")
	}
	add("heartbeat", cfg.heartbeat, WithHeartbeat(50*time.Millisecond, 100*time.Millisecond))
	add("send-buffer", cfg.sendBuffer > 0, WithSendBuffer(max(cfg.sendBuffer, 1)))
	add("receive-buffer", cfg.recvBuffer > 0, WithReceiveBuffer(max(cfg.recvBuffer, 1)))
	add("splitter", cfg.splitter, WithSplitter(simSplit))
	add("max-message-size", cfg.maxSize > 0, WithMaxMessageSize(cfg.maxSize))
	add("on-message", cfg.receiveMode == "on-message", WithOnMessage(r.onMessage))
	add("on-connect", cfg.onConnect || cfg.connReceive, WithOnConnect(r.onConnect))
	add("overflow-"+cfg.overflow.String(), true, WithQueueOverflow(cfg.overflow))
	add("send-buffer-bytes", cfg.sendBytes > 0, WithSendBufferBytes(max(cfg.sendBytes, 1)))
	add("state-hook", cfg.stateHook, WithOnStateChange(r.onStateChange))
	add("max-queue-age", cfg.maxAge > 0, WithMaxQueueAge(cfg.maxAge))
	if r.acks != nil {
		add("acks", true, WithAcks(Acks{ID: r.acks.id, Acked: simAcked, Window: cfg.ackWindow, Consume: cfg.ackConsume}))
		if cfg.ackConsume {
			r.rec.count("ack-consume")
		}
	}
	add("small-socket-buffer", cfg.smallBuf, WithDialer(&websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetWriteBuffer(4096)
			}
			return nc, err
		},
	}))
	return opts
}

// reconnecter is the application calling Reconnect now and then, as for a
// credential rotation; Reconnect never waits.
func (r *simRun) reconnecter(c *Client, done chan<- struct{}) {
	defer close(done)
	rng := simRand(r.seed, 500)
	for range r.cfg.reconnects {
		t := time.NewTimer(time.Duration(5+rng.IntN(60)) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.stopped:
			t.Stop()
			return
		}
		end := r.ops.begin("Reconnect", nil)
		err := c.Reconnect(CloseCode(4000+rng.IntN(10)), "sim")
		end()
		if err != nil && !errors.Is(err, ErrClosed) {
			r.rec.violation("reconnect-error", "Reconnect: %v", err)
		}
		if err == nil {
			r.rec.count("reconnect-call")
		}
	}
}

// hookClose closes the client from inside a hook, now and then.
func (r *simRun) hookClose(rng *rand.Rand, key string, permille int) {
	c := r.client.Load()
	if c == nil || permille == 0 || rng.IntN(1000) >= permille {
		return
	}
	r.rec.count(key)
	r.closeCalled.Store(true)
	r.ops.stopping()
	end := r.ops.begin("Close in "+key, nil)
	c.Close()
	end()
}

// work is the application busy inside a hook now and then: a few
// milliseconds during which a Close from another goroutine must wait.
func (r *simRun) work() {
	if r.cfg.slowHooks == 0 {
		return
	}
	r.workMu.Lock()
	busy := r.workRng.IntN(1000) < r.cfg.slowHooks
	d := time.Duration(2+r.workRng.IntN(7)) * time.Millisecond
	r.workMu.Unlock()
	if !busy {
		return
	}
	r.rec.count("slow-hook")
	select {
	case r.working <- struct{}{}:
	default:
	}
	time.Sleep(d)
}

// policy is DefaultPolicy, called as the application would: now and then
// it is slow, or sends a large message, which is queued split to the limit
// before the 1009 being decided lowers it.
func (r *simRun) policy(d Disconnect) Action {
	r.hookEnter("Policy")
	r.work()
	c := r.client.Load()
	if c == nil || r.cfg.policySend == 0 {
		return DefaultPolicy(d)
	}
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	rng := r.hookRng
	if rng.IntN(1000) < r.cfg.policySend {
		r.rec.count("policy-send")
		r.hookSend(c, rng, nil, "the Policy", simSizeLarge)
	}
	return DefaultPolicy(d)
}

// hookSend sends one message from inside a hook (where names it), which
// must not wait for the hook's own goroutine. ctxRng is passed on to
// simHookCtx; the caller holds hookMu.
func (r *simRun) hookSend(c *Client, rng, ctxRng *rand.Rand, where string, size int) {
	r.hookSeq++
	ctx, cancel := simHookCtx(ctxRng)
	err := r.sendOne(ctx, c, rng, simHookSender, r.hookSeq, false, size)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		r.rec.violation("hook-call-waited", "Send inside %s waited for its context: %v", where, err)
	}
}

func (r *simRun) onDisconnect(d Disconnect, a Action) {
	r.hookEnter("OnDisconnect")
	r.work()
	c := r.client.Load()
	dec := simDecision{d: d, a: a, limit: -1}
	if c != nil {
		st := c.Stats()
		r.rec.count("hook-stats")
		dec.limit, dec.backoff = st.OutboundLimit, st.Backoff
		if st.Backoff < 0 {
			r.rec.violation("negative-backoff", "Stats().Backoff = %s after %v", st.Backoff, d.Err)
		}
	}
	r.mu.Lock()
	r.decisions = append(r.decisions, dec)
	if n := r.cfg.sameSize; n > 0 && d.Code == CloseMessageTooBig && !d.Local && a == Shrink && (r.lastLimit == 0 || r.lastLimit >= n) {
		// No message was split on that connection, so none was larger
		// than the one the server refused, which it read in full: the
		// client wrote it in full, and it is the first of the largest.
		named := [2]int{-1, -1}
		if h, _, err := simParse(d.Refused); d.Refused != nil && err == nil {
			named = [2]int{h.sender, h.seq}
		}
		r.mustName = append(r.mustName, named)
	}
	if a == Shrink && dec.limit >= 0 && r.lastLimit >= 0 {
		r.shrinks = append(r.shrinks, [2]int{r.lastLimit, dec.limit})
	}
	r.lastLimit = dec.limit
	if d.Refused != nil {
		if h, _, err := simParse(d.Refused); err == nil && h.kind == 'M' {
			r.believed = append(r.believed, [2]int{h.sender, h.seq})
			r.believedLen = append(r.believedLen, len(d.Refused))
		} else {
			r.rec.violation("refused-garbage", "Disconnect.Refused = %q", simHead(d.Refused))
		}
	}
	r.mu.Unlock()
	if c == nil {
		return
	}
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	rng := r.hookRng
	if rng.IntN(3) == 0 {
		r.rec.count("hook-state")
		c.State()
	}
	if rng.IntN(3) == 0 {
		r.rec.count("hook-err")
		c.Err()
	}
	if rng.IntN(5) == 0 {
		r.rec.count("hook-send")
		r.hookSend(c, rng, rng, "OnDisconnect", simSizeAny)
	}
	if rng.IntN(5) == 0 {
		r.rec.count("hook-receive")
		ctx, cancel := simHookCtx(rng)
		end := r.ops.begin("Receive in OnDisconnect", ctx)
		_, data, err := c.Receive(ctx)
		end()
		cancel()
		if err == nil && r.cfg.receiveMode != "on-message" {
			r.gotFromServer(data, 1)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			r.rec.violation("hook-call-waited", "Receive inside OnDisconnect waited for its context")
		}
	}
	if rng.IntN(6) == 0 {
		r.rec.count("hook-waitstate")
		target := StateConnected
		if c.State() == StateConnected {
			target = StateWaiting
		}
		ctx, cancel := simHookCtx(rng)
		end := r.ops.begin("WaitState in OnDisconnect", ctx)
		err := c.WaitState(ctx, target)
		end()
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			r.rec.violation("hook-call-waited", "WaitState(%v) inside OnDisconnect waited for its context", target)
		}
	}
	r.hookClose(rng, "close-in-ondisconnect", r.cfg.hookClose)
}

func (r *simRun) onMessage(_ MessageType, data []byte) {
	r.hookEnter("OnMessage")
	r.work()
	r.gotFromServer(data, 0)
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	if c := r.client.Load(); c != nil && r.hookRng.IntN(20) == 0 {
		r.rec.count("hook-state")
		c.State()
	}
	r.hookClose(r.hookRng, "close-in-onmessage", r.cfg.hookClose)
}

// onStateChange checks that every change starts where the last one ended.
func (r *simRun) onStateChange(from, to State) {
	r.hookEnter("OnStateChange")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.count("state-change")
	if from != r.lastState || from == to {
		r.rec.violation("state-change-missed", "OnStateChange(%v, %v) after a change to %v", from, to, r.lastState)
	}
	r.lastState = to
}

func (r *simRun) onConnect(ctx context.Context, conn *Conn) error {
	r.hookEnter("OnConnect")
	r.work()
	if r.cfg.connReceive {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		end := r.ops.begin("Conn.Receive in OnConnect", nil)
		_, data, err := conn.Receive(rctx)
		end()
		cancel()
		if err == nil {
			r.rec.count("conn-receive")
			r.gotFromServer(data, 2)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	end := r.ops.begin("Conn.Send in OnConnect", sctx)
	conn.Send(sctx, TextMessage, []byte("L1|login"))
	end()
	r.rec.count("login-sent")
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	r.hookClose(r.hookRng, "close-in-onconnect", r.cfg.hookClose)
	return nil
}

func (r *simRun) onDropped(_ MessageType, data []byte, dropErr error) {
	r.hookEnter("OnDropped")
	r.work()
	h, _, err := simParse(data)
	if err != nil || h.kind != 'M' {
		r.rec.violation("dropped-not-whole", "OnDropped got %q, not a whole message", simHead(data))
		return
	}
	r.rec.count("dropped")
	if errors.Is(dropErr, ErrExpired) {
		r.rec.count("dropped-expired")
	}
	r.mu.Lock()
	r.dropped[[2]int{h.sender, h.seq}] = true
	if errors.Is(dropErr, ErrUnacknowledged) { // written, perhaps received
		r.unacked[[2]int{h.sender, h.seq}] = true
	}
	r.mu.Unlock()
}

// Message sizes sendOne draws from.
const (
	simSizeAny   = iota // small, near the limit or over it
	simSizeLarge        // over the limit
	simSizeSmall        // under half the limit
)

// sendOne sends seq of sender with ctx and records the result.
func (r *simRun) sendOne(ctx context.Context, c *Client, rng *rand.Rand, sender, seq int, ended bool, size int) error {
	text := rng.IntN(2) == 0
	L := r.cfg.baseLimit
	var n int
	switch q := rng.IntN(20); {
	case size == simSizeLarge:
		n = L + rng.IntN(2*L)
	case q < 13, size == simSizeSmall:
		n = rng.IntN(L / 2)
	case q < 17:
		n = max(0, L-60+rng.IntN(120))
	default:
		n = L + rng.IntN(2*L)
	}
	var data []byte
	if n > L/2 && r.cfg.sameSize > 0 {
		data = simMessageSized(rng, sender, seq, text, r.cfg.sameSize)
	} else {
		data = simMessage(rng, sender, seq, text, n)
	}
	typ := BinaryMessage
	if text {
		typ = TextMessage
		r.rec.count("send-text")
	} else {
		r.rec.count("send-binary")
	}
	if len(data) > L {
		r.rec.count("send-oversize")
	}
	if r.acks != nil && sender != simHookSender && (sender == 0 || r.cfg.ackAll) {
		r.acks.assign(sender, seq)
	}
	end := r.ops.begin(fmt.Sprintf("Send %d/%d", sender, seq), ctx)
	err := c.Send(ctx, typ, data)
	end()
	if err != nil && strings.Contains(err.Error(), "Acks.ID") {
		r.rec.count("ack-order-refused")
	}
	r.mu.Lock()
	r.sent[sender] = append(r.sent[sender], simSent{seq: seq, err: err, ended: ended})
	r.mu.Unlock()
	return err
}

func (r *simRun) sender(c *Client, id int, done chan<- struct{}) {
	defer close(done)
	rng := simRand(r.seed, 100+uint64(id))
	burst := 0 // large messages still to send back to back
	for seq := 1; seq <= r.cfg.msgs[id]; seq++ {
		size := simSizeAny
		if r.cfg.bursts {
			size = simSizeSmall
			if burst == 0 && rng.IntN(6) == 0 {
				r.rec.count("send-burst")
				burst = 6 + rng.IntN(7)
			}
		}
		if burst > 0 {
			burst--
			size = simSizeLarge
			select {
			case <-r.stopped:
				return
			default:
			}
		} else {
			t := time.NewTimer(time.Duration(rng.IntN(15)) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.stopped:
				t.Stop()
				return
			}
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		ended := false
		switch q := rng.IntN(100); {
		case q < 60:
			r.rec.count("send-ctx-deadline")
			ctx, cancel = context.WithTimeout(ctx, time.Duration(20+rng.IntN(280))*time.Millisecond)
		case q < 75:
			r.rec.count("send-ctx-short")
			ctx, cancel = context.WithTimeout(ctx, time.Duration(1+rng.IntN(4))*time.Millisecond)
		case q < 85:
			r.rec.count("send-ctx-none")
		case q < 93:
			r.rec.count("send-ctx-cancelled")
			ctx, cancel = context.WithCancel(ctx)
			cancel()
			ended = true
		default:
			r.rec.count("send-ctx-expired")
			ctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Millisecond))
			ended = true
		}
		r.sendOne(ctx, c, rng, id, seq, ended, size)
		cancel()
	}
	if r.cfg.flushes {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		end := r.ops.begin("Flush", ctx)
		err := c.Flush(ctx)
		end()
		cancel()
		if err == nil {
			r.rec.count("flushed")
			r.afterFlush(id)
		}
	}
}

// afterFlush notes, with acks, the tracked messages of sender id that Send
// accepted and that have not arrived when its Flush returned nil: they
// must be reported dropped by the end.
func (r *simRun) afterFlush(id int) {
	if r.acks == nil {
		return
	}
	s := r.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	arrived := make(map[int]bool)
	for _, a := range s.delivered[id] {
		arrived[a.seq] = true
	}
	for _, m := range r.sent[id] {
		if key := [2]int{id, m.seq}; m.err == nil && !arrived[m.seq] && r.acks.tracked(key) {
			r.flushed = append(r.flushed, key)
		}
	}
}

func (r *simRun) receiver(c *Client, done chan<- struct{}) {
	defer close(done)
	rng := simRand(r.seed, 200)
	for {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if rng.IntN(10) < 6 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(20+rng.IntN(280))*time.Millisecond)
		}
		end := r.ops.begin("Receive", ctx)
		_, data, err := c.Receive(ctx)
		end()
		cancel()
		switch {
		case err == nil:
			r.gotFromServer(data, 0)
		case errors.Is(err, context.DeadlineExceeded):
		default:
			return
		}
	}
}

// simArrivedAt reports the connection seq first arrived on.
func simArrivedAt(arr []simArrival, seq int) (int, bool) {
	for _, a := range arr {
		if a.seq == seq {
			return a.conn, true
		}
	}
	return 0, false
}

// wait waits for ch up to d; it reports whether ch was closed.
func simWait(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// run plays the seed's schedule, then checks the invariants.
func (r *simRun) run() {
	start := time.Now()
	cfg := r.cfg
	if cfg.acks {
		r.acks = newSimAcks()
	}
	r.srv = newSimServer(r.seed, cfg.baseLimit, cfg.heartbeat, cfg.smallBuf, cfg.sameSize > 0, r.rec, r.acks)
	opts := r.options()

	watchStop, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				r.ops.check(now)
			case <-watchStop:
				return
			}
		}
	}()
	defer func() {
		close(watchStop)
		<-watchDone
	}()

	var c *Client
	var dialErr error
	dialHooks := -1
	if cfg.dial {
		r.rec.count("dial")
		ctx, cancel := context.WithTimeout(context.Background(), cfg.dialTimeout)
		end := r.ops.begin("Dial", ctx)
		c, dialErr = Dial(ctx, r.srv.url(), opts...)
		end()
		cancel()
		if dialErr != nil {
			r.rec.count("dial-failed")
			r.closeCalled.Store(true)
			dialHooks = r.hookCount()
		}
	} else {
		r.rec.count("new")
		var err error
		c, err = New(r.srv.url(), opts...)
		if err != nil {
			r.rec.violation("new-failed", "New: %v", err)
			r.srv.shutdown(5 * time.Second)
			return
		}
	}

	var closedHooks = dialHooks
	var workers []chan struct{}
	doneSeen := make(chan struct{})
	if c != nil {
		r.client.Store(c)
		go func() {
			defer close(doneSeen)
			select {
			case <-c.Done():
				if !r.closeCalled.Load() {
					r.mu.Lock()
					r.doneNoClose = true
					r.mu.Unlock()
				}
				r.ops.stopping()
			case <-r.stopped:
			}
		}()
		if cfg.waitState > 0 {
			// Wait for the first connection, or not long.
			r.rec.count("waitstate")
			ctx, cancel := context.WithTimeout(context.Background(), cfg.waitState)
			end := r.ops.begin("WaitState", ctx)
			c.WaitState(ctx, StateConnected)
			end()
			cancel()
		}
		r.rec.count(fmt.Sprintf("senders-%d", len(cfg.msgs)))
		var senders []chan struct{}
		for i := range cfg.msgs {
			ch := make(chan struct{})
			senders = append(senders, ch)
			go r.sender(c, i, ch)
		}
		workers = append(workers, senders...)
		if cfg.receiveMode == "receiver" {
			ch := make(chan struct{})
			workers = append(workers, ch)
			go r.receiver(c, ch)
		}
		if cfg.receiveMode != "on-message" {
			r.rec.count(cfg.receiveMode)
		}
		if cfg.reconnects > 0 {
			ch := make(chan struct{})
			workers = append(workers, ch)
			go r.reconnecter(c, ch)
		}
		r.closeLater(c, senders)
		r.checkLiveness(c)
		if cfg.closeInHook {
			// Close while a hook works: wait for a hook to begin some.
			select {
			case <-r.working:
			default:
			}
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-r.working:
				r.rec.count("close-during-hook")
			case <-c.Done():
			case <-t.C:
			}
			t.Stop()
		}

		r.rec.count("close-outside")
		r.closeCalled.Store(true)
		r.ops.stopping()
		end := r.ops.begin("Close", nil)
		c.Close()
		end()
		closedHooks = r.hookCount()
		select {
		case <-c.Done():
		default:
			r.rec.violation("close-before-done", "Close returned before Done was closed (state %v)", c.State())
		}
		if !simWait(c.Done(), simCloseTimeout+simSlack) {
			r.rec.violation("done-never-closed", "Done not closed %s after Close returned\n%s", simCloseTimeout+simSlack, r.rec.dump())
		}
	} else {
		close(doneSeen)
	}
	close(r.stopped)
	<-doneSeen
	for _, w := range workers {
		if !simWait(w, simCloseTimeout+2*simSlack) {
			r.rec.violation("worker-stuck", "a sender or receiver did not end after Close\n%s", r.rec.dump())
			break
		}
	}
	if err := r.srv.shutdown(5 * time.Second); err != nil {
		r.rec.violation("server-stuck", "%v\n%s", err, r.rec.dump())
	}
	r.check(c, dialErr, closedHooks)
	s := r.srv
	s.mu.Lock()
	r.mu.Lock()
	r.rec.summary = fmt.Sprintf("%s: %d attempts, %d connections, %d messages delivered, %d received, %d lost in flight, %d hooks",
		time.Since(start).Round(time.Millisecond), len(s.attempts), s.conns, s.whole, r.recvd, r.rec.lost, r.nhooks)
	r.mu.Unlock()
	s.mu.Unlock()
}

// closeLater waits for the run's moment to close.
func (r *simRun) closeLater(c *Client, senders []chan struct{}) {
	switch r.cfg.closeMode {
	case "timer":
		r.rec.count("close-timer")
		t := time.NewTimer(r.cfg.closeAfter)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.Done():
		}
	case "after-senders":
		r.rec.count("close-after-senders")
		limit := time.NewTimer(3 * time.Second)
		defer limit.Stop()
		for _, s := range senders {
			select {
			case <-s:
			case <-c.Done():
				return
			case <-limit.C:
				return
			}
		}
	default:
		r.rec.count("close-after-server-count")
		s := r.srv
		s.waitUntil(func() bool { return s.whole >= r.cfg.closeCount }, c.Done(), 1500*time.Millisecond)
	}
}

// checkLiveness: when the server's last attempt ended (refused, or a
// connection that closed), the client must dial again, or stop, soon.
func (r *simRun) checkLiveness(c *Client) {
	s := r.srv
	s.mu.Lock()
	n := len(s.attempts)
	var last simAttempt
	if n > 0 {
		last = s.attempts[n-1]
	}
	s.mu.Unlock()
	if n == 0 || !(last.outcome == simEnded || (last.outcome == simRefused && last.retryAfter <= time.Second)) {
		return
	}
	bound := 3*time.Second + last.retryAfter
	if s.waitUntil(func() bool { return len(s.attempts) > n }, c.Done(), bound) {
		return
	}
	select {
	case <-c.Done():
		return
	default:
	}
	what := "a connection ended"
	if last.outcome == simRefused {
		what = "a refused handshake"
	}
	st := c.Stats()
	r.rec.violation("no-reconnect", "after %s the client neither dialed again nor stopped within %s (state %v, queued %d, disconnects %v)\n%s",
		what, bound, st.State, st.Queued, st.Disconnects, r.rec.dump())
}

// simExpectedAction is the documented policy table.
func simExpectedAction(d Disconnect) Action {
	if d.StatusCode != 0 {
		if d.StatusCode == 408 || d.StatusCode == 429 || d.StatusCode >= 500 {
			return Reconnect
		}
		return Abort
	}
	switch d.Code {
	case 1002, 1003, 1007, 1008, 1010, 1015, 3000, 3003:
		return Abort
	case 1009:
		if d.Local {
			return Reconnect
		}
		return Shrink
	}
	return Reconnect
}

// check tests the invariants:
//   - every operation returned within its bound (the watchdog, simOps);
//   - after the server ended a connection or refused a handshake, the
//     client dialed again or stopped within seconds (checkLiveness);
//   - after Close returns from outside a hook, Done is closed and no hook
//     starts;
//   - no goroutine is left (simRunSeed);
//   - per sender, the server got complete, byte-exact messages in
//     increasing order without duplicates;
//   - no message whose Send failed, or whose context had ended before Send,
//     arrives;
//   - every message whose Send returned nil was delivered, reported to
//     OnDropped, or lost in flight: a gap only across a connection
//     boundary, or a missing tail;
//   - nothing reported dropped arrived, and what Disconnect.Refused names
//     was refused by the server;
//   - delays and Stats().Backoff are never negative, and there were never
//     more than simMaxPerSecond handshakes in a second;
//   - every decision follows the policy table, a 1009 never teaches a
//     limit below half the smallest the server used, and after an abort Err
//     matches the last disconnect;
//   - with acks (sim_acks_test.go): a tracked message whose Send returned
//     nil arrived or was reported dropped, none lost in flight; it may
//     arrive twice, and arrive and be reported dropped only with
//     ErrUnacknowledged; a Flush that returned nil left none of its
//     sender's earlier tracked messages unacknowledged; the tracked numbers
//     increase on every connection; nothing is unacknowledged after Done.
func (r *simRun) check(c *Client, dialErr error, closedHooks int) {
	s := r.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()

	if closedHooks >= 0 {
		for _, h := range r.hooks {
			if h.seq > closedHooks {
				what := "Close"
				if dialErr != nil {
					what = "a failed Dial"
				}
				r.rec.violation("hook-after-close", "%s started after %s returned", h.name, what)
				break
			}
		}
	}

	var senders []int
	for id := range r.sent {
		senders = append(senders, id)
	}
	sort.Ints(senders)
	believed := make(map[[2]int]bool)
	for _, b := range r.believed {
		believed[b] = true
	}
	for _, id := range senders {
		arr := s.delivered[id]
		at := make(map[int]int) // seq -> connection of its first arrival
		last := 0
		var stream []simArrival // first arrivals of messages never refused, by seq
		for _, a := range arr {
			if c, dup := at[a.seq]; dup {
				if r.acks != nil && r.acks.tracked([2]int{id, a.seq}) {
					r.rec.count("ack-duplicate") // at least once
					continue
				}
				r.rec.violation("duplicate", "sender %d message %d arrived again on connection %d (first on %d)", id, a.seq, a.conn, c)
				continue
			}
			if a.seq < last {
				r.rec.violation("reordered", "sender %d message %d arrived on connection %d after message %d", id, a.seq, a.conn, last)
			}
			last = max(last, a.seq)
			at[a.seq] = a.conn
			if k := [2]int{id, a.seq}; !s.refused[k] && !believed[k] {
				// A refused message may be sent again later, out of the
				// stream's order; the gaps around it say nothing.
				stream = append(stream, a)
			}
		}
		sort.Slice(stream, func(i, j int) bool { return stream[i].seq < stream[j].seq })
		for _, m := range r.sent[id] {
			key := [2]int{id, m.seq}
			_, arrived := at[m.seq]
			switch {
			case m.err != nil && arrived:
				r.rec.violation("failed-send-arrived", "sender %d message %d arrived on connection %d although Send returned %v", id, m.seq, at[m.seq], m.err)
			case m.ended && m.err == nil:
				r.rec.violation("ended-ctx-send-accepted", "sender %d message %d: Send with an already ended context returned nil (arrived: %v)", id, m.seq, arrived)
			}
			if r.dropped[key] && arrived && !r.unacked[key] {
				r.rec.violation("dropped-but-delivered", "sender %d message %d was reported to OnDropped but arrived on connection %d", id, m.seq, at[m.seq])
			}
			if m.err != nil || arrived || r.dropped[key] {
				continue
			}
			if r.acks != nil && r.acks.tracked(key) {
				r.rec.violation("ack-lost", "sender %d message %d is tracked (WithAcks) and Send returned nil, but it never arrived nor was reported dropped (refused by a 1009: %v)",
					id, m.seq, s.refused[key])
				continue
			}
			i := sort.Search(len(stream), func(i int) bool { return stream[i].seq > m.seq })
			switch {
			case s.refused[key], i == len(stream):
				r.rec.lost++ // refused, or a missing tail
			case i == 0 && stream[0].conn > 1, i > 0 && stream[i].conn > stream[i-1].conn:
				r.rec.lost++ // lost with a connection
			default:
				prev := "none"
				if i > 0 {
					prev = fmt.Sprintf("message %d on connection %d", stream[i-1].seq, stream[i-1].conn)
				}
				r.rec.violation("lost", "sender %d message %d (Send returned nil) never arrived nor was reported dropped; previous: %s, next: message %d on connection %d",
					id, m.seq, prev, stream[i].seq, stream[i].conn)
			}
		}
	}

	for _, key := range r.flushed {
		if _, arrived := simArrivedAt(s.delivered[key[0]], key[1]); !arrived && !r.dropped[key] {
			r.rec.violation("ack-flush-early", "Flush returned nil before sender %d message %d (tracked, sent before it) was acknowledged; it never arrived nor was reported dropped", key[0], key[1])
		}
	}

	// The peer does not say which message it refused: the client names the
	// first of the largest written in full on that connection (doc.go). That
	// one is over the peer's limit even when the peer refused an earlier,
	// smaller one; naming a message the server would have accepted is wrong.
	for i, b := range r.believed {
		if !s.refused[b] && (len(s.refusedBy) == 0 || r.believedLen[i] <= slices.Min(s.refusedBy)) {
			r.rec.violation("refused-misidentified", "Disconnect.Refused named sender %d message %d (%d bytes), which the server did not refuse and would have accepted", b[0], b[1], r.believedLen[i])
		}
	}

	// Where no message on the connection was larger than the one the
	// server refused, and the server read that one in full, the client
	// must name exactly it (doc.go): it is not in flight, it is the refused
	// one, to be sent again split or reported dropped.
	for _, k := range r.mustName {
		switch {
		case k[0] < 0:
			r.rec.violation("refused-unnamed", "a 1009 refused a message of %d bytes, as large as any written on that connection, and Disconnect.Refused is nil", r.cfg.sameSize)
		case !s.refused[k]:
			r.rec.violation("refused-unnamed", "a 1009 refused a message of %d bytes, as large as any written on that connection, and Disconnect.Refused named sender %d message %d, which the server did not refuse", r.cfg.sameSize, k[0], k[1])
		}
	}

	if len(s.refusedBy) > 0 {
		floor := slices.Min(s.refusedBy) / 2
		for _, sh := range r.shrinks {
			want := floor
			if sh[0] > 0 {
				want = min(want, sh[0])
			}
			if sh[1] < want {
				r.rec.violation("shrink-too-far", "a 1009 lowered the outbound limit from %d to %d; the server's limits were at least %d", sh[0], sh[1], 2*floor)
			}
		}
	}

	for i, a := range s.attempts {
		j := i
		for j < len(s.attempts) && s.attempts[j].at.Sub(a.at) < time.Second {
			j++
		}
		if j-i > simMaxPerSecond {
			r.rec.violation("attempt-rate", "%d handshakes within one second", j-i)
			break
		}
	}

	for _, dec := range r.decisions {
		d := dec.d
		if want := simExpectedAction(d); dec.a != want {
			r.rec.violation("policy-row", "disconnect code %d status %d local %v (%v): action %v, the table says %v", d.Code, d.StatusCode, d.Local, d.Err, dec.a, want)
		}
		if dec.a != Abort && d.Delay < 0 {
			r.rec.violation("negative-delay", "Disconnect.Delay = %s after %v", d.Delay, d.Err)
		}
	}
	var reason error
	switch {
	case c != nil:
		reason = c.Err()
		st := c.Stats()
		if st.Backoff < 0 {
			r.rec.violation("negative-backoff", "Stats().Backoff = %s at the end", st.Backoff)
		}
		if st.Unacked != 0 {
			r.rec.violation("ack-unacked-at-end", "Stats().Unacked = %d after Done", st.Unacked)
		}
		if st.Replayed > 0 {
			r.rec.count("ack-replayed")
		}
	case dialErr != nil && !errors.Is(dialErr, context.DeadlineExceeded):
		reason = dialErr
	}
	aborted := len(r.decisions) > 0 && r.decisions[len(r.decisions)-1].a == Abort
	if r.doneNoClose && !aborted {
		r.rec.violation("stopped-without-reason", "Done closed without Close and without an Abort decision")
	}
	if aborted {
		d := r.decisions[len(r.decisions)-1].d
		var he *HandshakeError
		var ce *CloseError
		switch {
		case reason == nil:
			r.rec.violation("abort-err", "aborted on %v but Err() is nil", d.Err)
		case d.StatusCode != 0 && (!errors.As(reason, &he) || he.StatusCode != d.StatusCode):
			r.rec.violation("abort-err", "aborted on handshake status %d but the error is %v", d.StatusCode, reason)
		case d.StatusCode == 0 && d.Code != 0 && (!errors.As(reason, &ce) || ce.Code != d.Code):
			r.rec.violation("abort-err", "aborted on close %d but the error is %v", d.Code, reason)
		}
	} else if c != nil && reason != nil {
		r.rec.violation("abort-err", "Err() = %v without an Abort decision", reason)
	}
	// Dial returns (c, nil) once a connection came up, unless the client
	// has aborted by then: then it returns the abort reason. Only a Dial
	// that ran out of time after a connection came up missed it.
	if dialErr != nil && (errors.Is(dialErr, context.DeadlineExceeded) || errors.Is(dialErr, context.Canceled)) {
		for _, dec := range r.decisions {
			if dec.d.Uptime > 0 {
				r.rec.violation("dial-missed-connection", "Dial returned %v although a connection came up", dialErr)
				break
			}
		}
	}
}

// simRunSeed runs one seed and checks that it left no goroutine: with
// goleak when it runs alone, else by the profiler label every goroutine
// of the run inherits.
func simRunSeed(seed int64, alone bool) *simRecorder {
	rec := &simRecorder{seed: seed, hist: make(map[string]int)}
	r := &simRun{
		seed:    seed,
		cfg:     simMakeConfig(seed),
		rec:     rec,
		ops:     &simOps{rec: rec, live: make(map[int]*simOp)},
		stopped: make(chan struct{}),
		hookRng: simRand(seed, 300),
		workRng: simRand(seed, 400),
		working: make(chan struct{}, 1),
		sent:    make(map[int][]simSent),
		dropped: make(map[[2]int]bool),
		unacked: make(map[[2]int]bool),
	}
	r.lastLimit = r.cfg.maxSize
	var ign goleak.Option
	if alone {
		ign = goleak.IgnoreCurrent()
	}
	label := strconv.FormatInt(seed, 10)
	pprof.Do(context.Background(), pprof.Labels("wsreconnect_sim", label), func(context.Context) { r.run() })
	if alone {
		if err := goleak.Find(ign); err != nil {
			rec.violation("goroutine-leak", "%v", err)
		}
		return rec
	}
	want := []byte(`"wsreconnect_sim":"` + label + `"`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := simLabelled(want)
		if left == "" {
			return rec
		}
		if time.Now().After(deadline) {
			rec.violation("goroutine-leak", "goroutines of the run still running:\n%s", left)
			return rec
		}
		t := time.NewTimer(20 * time.Millisecond)
		<-t.C
	}
}

// simLabelled returns the goroutine profile entries that carry want.
func simLabelled(want []byte) string {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	var out strings.Builder
	for _, sec := range bytes.Split(b.Bytes(), []byte("\n\n")) {
		if bytes.Contains(sec, want) {
			out.Write(sec)
			out.WriteString("\n\n")
		}
	}
	return out.String()
}

func TestSimulation(t *testing.T) {
	ign := goleak.IgnoreCurrent()
	var seeds []int64
	fixed := false
	switch {
	case *simSeedFlag >= 0:
		seeds = []int64{*simSeedFlag}
	case *simSeedsFlag > 0:
		start := *simStartFlag
		if start < 0 {
			start = rand.Int64N(1 << 40)
		}
		t.Logf("seeds %d to %d", start, start+int64(*simSeedsFlag)-1)
		for i := range *simSeedsFlag {
			seeds = append(seeds, start+int64(i))
		}
	default:
		seeds = simFixedSeeds
		fixed = true
	}
	alone := len(seeds) == 1
	began := time.Now()

	var mu sync.Mutex
	hist := make(map[string]int)
	byKind := make(map[string][]int64)
	lost := 0
	sem := make(chan struct{}, simParallel)
	var wg sync.WaitGroup
	for _, seed := range seeds {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec := simRunSeed(seed, alone)
			mu.Lock()
			defer mu.Unlock()
			for k, v := range rec.hist {
				hist[k] += v
			}
			lost += rec.lost
			if *simVerboseFlag {
				var keys []string
				for k := range rec.hist {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				t.Logf("seed %d: %s\n    exercised: %s", seed, rec.summary, strings.Join(keys, " "))
			}
			seen := make(map[string]bool)
			for _, v := range rec.violations {
				if !seen[v.kind] {
					seen[v.kind] = true
					byKind[v.kind] = append(byKind[v.kind], seed)
				}
				if len(byKind[v.kind]) <= 3 {
					t.Errorf("seed %d: %s: %s\n    replay: go test -run TestSimulation -sim.seed=%d", seed, v.kind, v.msg, seed)
				}
			}
		}()
	}
	wg.Wait()

	t.Logf("%d seeds in %s; %d messages lost in flight (allowed)", len(seeds), time.Since(began).Round(time.Millisecond), lost)
	var keys []string
	for k := range hist {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-28s %d", k, hist[k])
	}
	t.Logf("histogram of faults and actions:%s", b.String())
	if fixed {
		for _, k := range simAllKeys() {
			if hist[k] == 0 {
				t.Errorf("the fixed seeds never exercise %q", k)
			}
		}
	}
	var kinds []string
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Errorf("invariant %s violated by %d seeds: %v", k, len(byKind[k]), byKind[k][:min(len(byKind[k]), 20)])
	}
	goleak.VerifyNone(t, ign)
}
