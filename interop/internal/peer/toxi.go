package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

var toxiSeq atomic.Int64

// Toxi is an in-process toxiproxy TCP proxy in front of one upstream peer.
// Toxics (latency, bandwidth, slicer, timeout, ...) are added and removed
// while connections run through it; disabling the proxy drops every
// connection through it and refuses new ones.
type Toxi struct {
	// Proxy is the toxiproxy proxy itself.
	Proxy *toxiproxy.Proxy

	statsAddr string
}

// StartToxiproxy starts a proxy on a free port in front of upstream
// (host:port). statsAddr is where the upstream's /stats is read.
func StartToxiproxy(t testing.TB, upstream string) *Toxi {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	name := "interop-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + strconv.FormatInt(toxiSeq.Add(1), 10)
	p := toxiproxy.NewProxy(srv, name, Host+":0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("start toxiproxy: %v", err)
	}
	x := &Toxi{Proxy: p, statsAddr: upstream}
	t.Cleanup(func() {
		p.Toxics.ResetToxics(context.Background())
		p.Stop()
	})
	return x
}

// Addr is host:port the proxy listens on (stable across disable/enable).
func (x *Toxi) Addr() string {
	x.Proxy.Lock()
	defer x.Proxy.Unlock()
	return x.Proxy.Listen
}

// StatsAddr is the upstream's address, where /stats is served.
func (x *Toxi) StatsAddr() string { return x.statsAddr }

// URL returns ws://proxy-host:port followed by pathAndQuery.
func (x *Toxi) URL(pathAndQuery string) string { return "ws://" + x.Addr() + pathAndQuery }

// Toxic describes one toxic to add.
type Toxic struct {
	Name       string         // unique name, used to remove it
	Type       string         // latency, bandwidth, slicer, timeout, reset_peer, ...
	Stream     string         // "upstream" (client to server) or "downstream"
	Toxicity   float32        // 0 means 1 (always)
	Attributes map[string]any // the toxic's attributes, as in toxiproxy's API
}

// Add adds a toxic; it applies to open connections and new ones.
func (x *Toxi) Add(t testing.TB, tx Toxic) {
	t.Helper()
	if tx.Toxicity == 0 {
		tx.Toxicity = 1
	}
	body, err := json.Marshal(map[string]any{
		"name":       tx.Name,
		"type":       tx.Type,
		"stream":     tx.Stream,
		"toxicity":   tx.Toxicity,
		"attributes": tx.Attributes,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		t.Fatalf("add toxic %s: %v", tx.Name, err)
	}
}

// Remove removes the named toxic.
func (x *Toxi) Remove(t testing.TB, name string) {
	t.Helper()
	if err := x.Proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("remove toxic %s: %v", name, err)
	}
}

// Disable stops the proxy: open connections through it are closed and new
// ones refused.
func (x *Toxi) Disable() { x.Proxy.Stop() }

// Enable starts the proxy again on the same address.
func (x *Toxi) Enable(t testing.TB) {
	t.Helper()
	if err := x.Proxy.Start(); err != nil {
		t.Fatalf("enable toxiproxy: %v", err)
	}
}
