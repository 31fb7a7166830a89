package wsreconnect

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInboxNeverStrandsAMessage drives the inbox as the reader and Receive
// do, concurrently, with a tiny channel so that the overflow is in use all
// the time: every message arrives, in order, and a consumer waiting on the
// channel is never left waiting while messages sit in the overflow.
func TestInboxNeverStrandsAMessage(t *testing.T) {
	t.Parallel()
	const n = 200000
	var in inbox
	ch := in.channel(1)
	go func() {
		for i := range n {
			if !in.put(ch, received{data: make([]byte, i%3000)}) {
				continue
			}
			for room := in.roomOrNil(); room != nil; room = in.roomOrNil() {
				<-room
			}
		}
	}()
	for i := range n {
		m, ok := in.poll(ch)
		if !ok {
			select {
			case m = <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("message %d stranded: %d in the overflow", i, in.n.Load())
			}
		}
		require.Len(t, m.data, i%3000, "message %d out of order", i)
	}
}
