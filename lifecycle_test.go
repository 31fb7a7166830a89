package wsreconnect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGoroutineIDs: goid tells goroutines apart, so Close knows exactly
// whether it runs on the client's goroutine.
func TestGoroutineIDs(t *testing.T) {
	t.Parallel()
	here := goid()
	other := make(chan uint64)
	go func() { other <- goid() }()
	there := <-other
	assert.NotZero(t, here)
	assert.NotZero(t, there)
	assert.NotEqual(t, here, there)
	assert.Equal(t, here, goid())
}
