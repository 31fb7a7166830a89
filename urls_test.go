package wsreconnect

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"ws://example.test/",
		"wss://example.test:443/path?q=1#frag",
		"ws://example.test:1/",
		"ws://example.test:65535/",
		"ws://127.0.0.1:8080",
		"ws://[::1]:8080/",
		"ws://[::1]/",
	} {
		assert.NoError(t, checkURL(ok), ok)
	}
	tests := []struct {
		url, want string
	}{
		{"ws://:8080/", "empty host name"},
		{"ws://[]:8080/", "bad URL"},
		{"ws://h:99999/", "port must be a number in 1-65535"},
		{"ws://h:65536/", "port must be a number in 1-65535"},
		{"ws://h:0/", "port must be a number in 1-65535"},
		{"ws://h:00/", "port must be a number in 1-65535"},
		{"ws://h:184467440737095516160/", "port must be a number in 1-65535"},
		{"ws://h:abc/", "invalid port"},
		{"ws://h:-1/", "invalid port"},
		{"ws://h:/", "empty port"},
		{"ws://[::1]:/", "empty port"},
		{"http://h/", "scheme must be ws or wss"},
		{"wss+unix://h/", "scheme must be ws or wss"},
		{"ws:///path", "no host"},
		{"ws://user:pw@h/", "credentials"},
		{"ws://user@h/", "credentials"},
		{"ws://[::1", "bad URL"},
	}
	for _, tt := range tests {
		err := checkURL(tt.url)
		require.Error(t, err, tt.url)
		assert.Contains(t, err.Error(), tt.want, tt.url)
		assert.True(t, strings.HasPrefix(err.Error(), "bad URL"), err.Error())
	}
}

func TestCheckURLErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"ws://user:secret@h:abc/?token=hush",
		"ws://user:secret@h:99999/?token=hush",
		"ws://user:secret@h/?token=hush",
		"http://user:secret@h/?token=hush",
		"ws://user:secret@:8080/?token=hush",
		"ws://h:0/?token=hush#hush",
		"ws://user:secret@h:/?token=hush",
		"ws://user:secret@[::1/?token=hush",
		"ws://user:secret@h/\x7f?token=hush",
	} {
		err := checkURL(u)
		require.Error(t, err, u)
		assert.NotContains(t, err.Error(), "secret", u)
		assert.NotContains(t, err.Error(), "hush", u)
	}
}

func TestCheckHeaderRejectsHandshakeHeaders(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
	} {
		for _, key := range []string{name, http.CanonicalHeaderKey(name), strings.ToLower(name), strings.ToUpper(name)} {
			// Set the key as given, bypassing canonicalisation, as a map
			// literal does.
			h := http.Header{"X-Fine": {"1"}, key: {"hush"}}
			err := checkHeader(h)
			require.Error(t, err, key)
			assert.Contains(t, err.Error(), key)
			assert.NotContains(t, err.Error(), "hush", "header values are never shown")

			c, err := New("ws://127.0.0.1:1/", WithHeader(h))
			assert.Nil(t, c)
			require.Error(t, err, key)
			assert.Contains(t, err.Error(), "WithHeader")
		}
	}
}

func TestCheckHeaderAcceptsOthers(t *testing.T) {
	t.Parallel()
	assert.NoError(t, checkHeader(nil))
	h := http.Header{}
	h.Set("Authorization", "Bearer x")
	h.Set("Origin", "https://example.test")
	h.Set("Sec-WebSocket-Protocol", "chat")
	h.Set("X-Upgrade", "no")
	h.Set("Connection-Id", "7")
	assert.NoError(t, checkHeader(h))

	c, err := New("ws://127.0.0.1:1/", testOptions(WithHeader(h))...)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
