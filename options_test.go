package wsreconnect

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sizeOptions are the size options with their documented ranges.
var sizeOptions = []struct {
	name     string
	opt      func(n int) Option
	min, max int
}{
	{"WithReceiveBuffer", WithReceiveBuffer, 1, MaxReceiveBuffer},
	{"WithSendBuffer", WithSendBuffer, 1, MaxSendBuffer},
	{"WithReadLimit", func(n int) Option { return WithReadLimit(int64(n)) }, 1, MaxReadLimit},
	{"WithMaxMessageSize", WithMaxMessageSize, 0, MaxMessageSizeLimit},
}

func TestSizeOptionMaxima(t *testing.T) {
	t.Parallel()
	for _, so := range sizeOptions {
		t.Run(so.name, func(t *testing.T) {
			t.Parallel()
			for _, n := range []int{so.min, so.max} {
				c, err := New("ws://127.0.0.1:1/", testOptions(so.opt(n))...)
				require.NoError(t, err, "%s(%d)", so.name, n)
				require.NoError(t, c.Close())
			}
			for _, n := range []int{so.max + 1, math.MaxInt, so.min - 1, math.MinInt} {
				c, err := New("ws://127.0.0.1:1/", so.opt(n))
				assert.Nil(t, c)
				require.Error(t, err, "%s(%d)", so.name, n)
				assert.Contains(t, err.Error(), so.name)
				if n > so.max {
					assert.Contains(t, err.Error(), fmt.Sprint(so.max), "the error names the maximum")
					assert.Contains(t, err.Error(), "maximum")
				}
			}
		})
	}
}

func TestReadLimitRejectsMaxInt64(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{MaxReadLimit + 1, math.MaxInt64} {
		_, err := New("ws://127.0.0.1:1/", WithReadLimit(n))
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "wsreconnect: WithReadLimit: "), err.Error())
	}
}
