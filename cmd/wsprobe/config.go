package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect"
)

// Defaults of the flags.
const (
	defaultTimeout   = 10 * time.Second
	defaultPings     = 5
	defaultIdleMax   = 5 * time.Minute
	defaultMaxSize   = 16 << 20 // what a bare -max-size tries
	defaultHeartbeat = wsreconnect.DefaultPingInterval
)

// config is what the command line asks for.
type config struct {
	url          string // as given, query included: never printed
	header       http.Header
	subprotocols []string
	insecure     bool
	caFile       string
	timeout      time.Duration
	compress     bool
	pings        int
	echo         bool
	idle         bool
	idleMax      time.Duration
	maxSize      int // 0: no size probe
	watch        bool
	heartbeat    time.Duration
	json         bool

	tls *tls.Config // from insecure and caFile
}

// headerFlag collects -H "Name: value".
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return errors.New(`want "Name: value"`)
	}
	f.h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	return nil
}

// listFlag collects a comma-separated list, from one or more flags.
type listFlag struct{ list *[]string }

func (f listFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*f.list = append(*f.list, s)
		}
	}
	return nil
}

// sizeFlag is -max-size: a size in bytes (with an optional KiB, MiB, GiB,
// KB, MB, GB or B suffix). Given bare (-max-size) it is defaultMaxSize.
type sizeFlag struct{ n *int }

func (f sizeFlag) String() string {
	if f.n == nil {
		return "0"
	}
	return strconv.Itoa(*f.n)
}

// IsBoolFlag lets -max-size be given without a value.
func (f sizeFlag) IsBoolFlag() bool { return true }

func (f sizeFlag) Set(v string) error {
	if v == "true" {
		*f.n = defaultMaxSize
		return nil
	}
	if v == "false" {
		*f.n = 0
		return nil
	}
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

// parseSize reads "16MiB", "64KB", "1000" as a number of bytes, at most
// wsreconnect.MaxMessageSizeLimit.
func parseSize(v string) (int, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or with KiB, MiB, GiB, KB, MB, GB)", v)
	}
	if n > wsreconnect.MaxMessageSizeLimit/mult {
		return 0, fmt.Errorf("%q is over the largest size a probe may try, %d bytes", v, wsreconnect.MaxMessageSizeLimit)
	}
	return int(n * mult), nil
}

const usageText = `usage: wsprobe [flags] ws://host/path | wss://host/path

Connects to a WebSocket endpoint and reports its handshake, round-trip
times, the server's keepalive and what the server closes connections for.
Flags go before the URL. Exit status: 0 healthy, 1 unreachable, refused, an
abort-class close or a probe that could not finish, 2 bad usage.

Flags:
`

// parseFlags reads the command line. Help (-h) is returned as flag.ErrHelp
// after the usage was written to stderr.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{header: make(http.Header)}
	fs := flag.NewFlagSet("wsprobe", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors itself; -h prints the usage below
	fs.Usage = func() {}
	fs.Var(&headerFlag{cfg.header}, "H", "a `header` sent with the handshake, \"Name: value\" (repeatable); values of Authorization, Cookie and the like are never printed")
	fs.Var(listFlag{&cfg.subprotocols}, "subprotocol", "subprotocols to offer, comma-separated (repeatable)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&cfg.caFile, "ca", "", "PEM `file` of CA certificates to trust instead of the system's")
	fs.DurationVar(&cfg.timeout, "timeout", defaultTimeout, "bound on the handshake and on each wait for an answer (pong, echo, close)")
	fs.BoolVar(&cfg.compress, "compress", false, "offer permessage-deflate compression")
	fs.IntVar(&cfg.pings, "pings", defaultPings, "pings (and echoes, with -echo) to time; 0 for none")
	fs.BoolVar(&cfg.echo, "echo", false, "the endpoint echoes messages: time echo round trips too")
	fs.BoolVar(&cfg.idle, "idle", false, "measure the idle timeout: stay connected sending nothing, until cut or -idle-max")
	fs.DurationVar(&cfg.idleMax, "idle-max", defaultIdleMax, "the longest -idle waits")
	fs.Var(sizeFlag{&cfg.maxSize}, "max-size", "find the message size limit, trying messages of up to `size` bytes (-max-size alone: 16MiB; give a value as -max-size=1MiB); sends real data to the endpoint")
	fs.BoolVar(&cfg.watch, "watch", false, "keep a reconnecting client running, one line per event, until interrupted")
	fs.DurationVar(&cfg.heartbeat, "heartbeat", defaultHeartbeat, "with -watch: the client's ping interval (timeout: half of it); 0 turns it off")
	fs.BoolVar(&cfg.json, "json", false, "print JSON (schema_version 1) instead of text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usageText)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("want exactly one URL after the flags, got %d arguments", fs.NArg())
	}
	cfg.url = fs.Arg(0)
	if err := checkURL(cfg.url); err != nil {
		return nil, err
	}
	switch {
	case cfg.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	case cfg.pings < 0 || cfg.pings > 10000:
		return nil, errors.New("-pings must be in 0..10000")
	case cfg.idleMax <= 0:
		return nil, errors.New("-idle-max must be positive")
	case cfg.heartbeat < 0:
		return nil, errors.New("-heartbeat must not be negative")
	case cfg.watch && (cfg.idle || cfg.maxSize > 0 || cfg.echo):
		return nil, errors.New("-watch runs alone: drop -idle, -max-size and -echo")
	}
	for name := range cfg.header {
		for _, r := range []string{"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol"} {
			if name == r {
				return nil, fmt.Errorf("-H %s: set by the handshake itself (use -subprotocol, -compress)", name)
			}
		}
	}
	if strings.HasPrefix(cfg.url, "wss:") || cfg.insecure || cfg.caFile != "" {
		t, err := tlsConfig(cfg.insecure, cfg.caFile)
		if err != nil {
			return nil, err
		}
		cfg.tls = t
	}
	return cfg, nil
}

// checkURL says why raw is no WebSocket URL, without quoting its query.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return fmt.Errorf("bad URL: %v", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("bad URL %s: the scheme must be ws or wss", showURL(raw))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bad URL %s: no host", showURL(raw))
	}
	if u.User != nil {
		return fmt.Errorf("bad URL %s: WebSocket clients do not send credentials in the URL; use -H", showURL(raw))
	}
	return nil
}

func tlsConfig(insecure bool, caFile string) (*tls.Config, error) {
	t := &tls.Config{InsecureSkipVerify: insecure} // asked for with -insecure
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// dialer is the gorilla Dialer every client of the probe uses.
func (cfg *config) dialer(compress bool) *websocket.Dialer {
	d := *websocket.DefaultDialer
	d.Subprotocols = cfg.subprotocols
	d.EnableCompression = compress
	d.TLSClientConfig = cfg.tls
	return &d
}
