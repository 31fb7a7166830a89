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

// TestInboxOverflowBounds: with the channel full, the overflow is full at
// 64 messages or at 64 KiB, whichever comes first, and the reader is let
// go on only once Receive has taken half of it.
func TestInboxOverflowBounds(t *testing.T) {
	t.Parallel()
	t.Run("messages", func(t *testing.T) {
		var in inbox
		ch := in.channel(1)
		require.False(t, in.put(ch, received{})) // into the channel
		for i := 1; i < overflowMessages; i++ {
			require.False(t, in.put(ch, received{}), "message %d of the overflow", i)
		}
		require.True(t, in.put(ch, received{}), "the 64th message fills it")
		room := in.roomOrNil()
		require.NotNil(t, room)
		for range overflowMessages / 2 {
			_, ok := in.poll(ch)
			require.True(t, ok)
			select {
			case <-room:
				t.Fatal("let go before half was taken")
			default:
			}
		}
		in.poll(ch)
		select {
		case <-room:
		default:
			t.Fatal("not let go once half was taken")
		}
		require.Nil(t, in.roomOrNil())
	})
	t.Run("bytes", func(t *testing.T) {
		var in inbox
		ch := in.channel(1)
		in.put(ch, received{})
		require.False(t, in.put(ch, received{data: make([]byte, overflowBytes-1)}))
		require.True(t, in.put(ch, received{data: make([]byte, 1)}), "64 KiB fills it")
	})
}
