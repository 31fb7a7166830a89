package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// cookieServer upgrades with a Set-Cookie header in its answer.
func cookieServer(t *testing.T, cookie string) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, http.Header{"Set-Cookie": {cookie}})
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// TestSecretsNeverPrinted: the query, Authorization, Cookie and Set-Cookie,
// in text and in JSON. Each case also checks that the redacted place is in
// the output, so that the test would see the secret if it leaked.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-Tok3n-4711"
	echo := wstest.NewServer(t)
	// A server that quotes the token back in its close reason.
	quoting := wstest.NewServer(t, wstest.Default(wstest.Close(4000, "bad token "+secret)))
	cookie := cookieServer(t, "session="+secret+"; Path=/; HttpOnly")
	for _, tc := range []struct {
		name   string
		args   []string
		marker string // what shows where the secret would be
	}{
		{"query", []string{"-pings", "1", echo.URL + "/feed?token=" + secret}, "/feed?[redacted]"},
		{"query quoted back by the server", []string{"-pings", "1", quoting.URL + "/feed?token=" + secret}, "bad token [redacted]"},
		{"Authorization", []string{"-pings", "1", "-H", "Authorization: Bearer " + secret, echo.URL}, "Authorization"},
		{"Cookie", []string{"-pings", "1", "-H", "Cookie: sid=" + secret, echo.URL}, "Cookie"},
		{"Set-Cookie", []string{"-pings", "1", cookie}, "Set-Cookie"},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				args := tc.args
				if format == "json" {
					args = append([]string{"-json"}, args...)
				}
				_, out, errOut := probeRun(t, args...)
				if strings.Contains(out+errOut, secret) {
					t.Fatalf("the secret is in the output:\n%s%s", out, errOut)
				}
				if !strings.Contains(out, tc.marker) || !strings.Contains(out, "[redacted]") {
					t.Errorf("want %q and [redacted] in the output:\n%s", tc.marker, out)
				}
			})
		}
	}
}

func TestSecretHeaderNames(t *testing.T) {
	for name, secret := range map[string]bool{
		"Authorization": true, "Cookie": true, "Set-Cookie": true, "Proxy-Authorization": true,
		"X-Api-Key": true, "X-Auth-Token": true, "X-Session-Id": true,
		"Server": false, "Www-Authenticate": false, "Sec-Websocket-Accept": false, "Retry-After": false,
	} {
		if got := secretHeader(name); got != secret {
			t.Errorf("secretHeader(%q) = %v, want %v", name, got, secret)
		}
	}
}
