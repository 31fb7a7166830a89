package wsreconnect

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzSplit checks the plumbing around a splitter: whatever parts a
// splitter returns (too large, empty, cut inside a character, none), split
// either fails with a clear error or returns a message whose parts all fit
// the limit, are valid UTF-8 for text, and which owns a copy of the data.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(5), []byte{5, 5}, true)
	f.Add([]byte("ééééé"), uint16(7), []byte{7}, true)
	f.Add([]byte("ééééé"), uint16(4), []byte{4, 4}, true)
	f.Add(bytes.Repeat([]byte{0xff}, 40), uint16(8), []byte{8, 0, 8}, false)
	f.Add([]byte("abc"), uint16(1), []byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, cuts []byte, text bool) {
		if limit == 0 {
			limit = 1
		}
		typ := BinaryMessage
		if text {
			typ = TextMessage
		}
		// The fuzzed splitter cuts data at the steps cuts gives, then
		// returns the rest as a last part (which may be over the limit).
		splitter := func(d []byte, _ int) ([][]byte, error) {
			var parts [][]byte
			for _, step := range cuts {
				n := min(int(step), len(d))
				parts = append(parts, d[:n])
				d = d[n:]
			}
			if len(d) > 0 {
				parts = append(parts, d)
			}
			return parts, nil
		}
		c := &Client{opts: defaultOptions()}
		c.opts.splitter = splitter
		input := bytes.Clone(data)
		m, err := c.split(typ, input, int(limit))
		if err != nil {
			if !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrMessageTooBig) && len(data) > 0 && len(cuts) > 0 {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if !m.owned || m.typ != typ || !bytes.Equal(m.data, data) {
			t.Fatalf("split changed the message: %+v", m)
		}
		if !m.fits(int(limit)) {
			t.Fatalf("a part is over the limit %d", limit)
		}
		for _, p := range m.parts {
			if text && !utf8.Valid(p) {
				t.Fatalf("invalid UTF-8 part %q", p)
			}
		}
		if len(input) > 0 {
			input[0] ^= 0xff // the message keeps its own copy
			if !bytes.Equal(m.data, data) {
				t.Fatal("the message shares the caller's buffer")
			}
		}
	})
}
