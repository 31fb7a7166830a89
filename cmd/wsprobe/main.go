package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: it parses args, probes, writes the report to stdout
// and returns the exit status. ctx ending is Ctrl-C.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsprobe: %v\nrun wsprobe -h for the flags\n", err)
		return exitUsage
	}
	sc := newScrubber(cfg)
	if cfg.watch {
		return watch(ctx, cfg, sc, stdout, stderr)
	}
	if cfg.maxSize > 0 {
		fmt.Fprintf(stderr, "wsprobe: warning: -max-size sends binary messages of up to %d bytes to the endpoint\n", cfg.maxSize)
	}
	rep := probe(ctx, cfg, sc)
	if cfg.json {
		err = writeJSON(stdout, sc, rep)
	} else {
		err = writeText(stdout, sc, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsprobe: %v\n", err)
		return exitFail
	}
	return rep.ExitCode
}

// newScrubber knows the secrets of the command line: the URL's query and
// the values of secret headers.
func newScrubber(cfg *config) *scrubber {
	sc := &scrubber{}
	sc.addURL(cfg.url)
	sc.addHeader(cfg.header)
	return sc
}
