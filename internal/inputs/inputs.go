// Package inputs opens the route event sources of the ingest role of
// `blackout node`: the embedded demo, MRT files merged in time order, or
// the live feeds of package livefeed (joined in arrival order, optionally
// recorded), with the flags that ask for them.
package inputs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
)

// Spec says which inputs to open: at most one of Demo, Files and Live.
type Spec struct {
	Demo  bool
	Files []string
	Live  []source.Runner
	// Feed, if set, runs Live (with its recorder, when --record was
	// given); else Live is joined as it is.
	Feed *livefeed.Feed
	// OnStop is told of a live feed that stopped for good.
	OnStop func(r source.Runner, err error)
}

// Inputs are opened sources.
type Inputs struct {
	Source source.Source // nil when the spec asked for none
	N      int           // the number of inputs
	close  func() error
}

// Close closes the files, or stops the live feeds and the recorder.
func (in *Inputs) Close() error {
	if in.close == nil {
		return nil
	}
	return in.close()
}

// Open opens the inputs of s.
func Open(ctx context.Context, s Spec) (*Inputs, error) {
	switch {
	case s.Demo:
		ds := demo.Sources()
		return &Inputs{Source: source.Merge(ds), N: len(ds)}, nil
	case len(s.Files) > 0:
		files, err := source.OpenFiles(ctx, s.Files)
		if err != nil {
			return nil, err
		}
		srcs := make([]source.Source, len(files))
		for i, f := range files {
			srcs[i] = f
		}
		return &Inputs{Source: source.Merge(srcs), N: len(files), close: func() error {
			for _, f := range files {
				f.Close()
			}
			return nil
		}}, nil
	case len(s.Live) > 0:
		liveCtx, stop := context.WithCancel(ctx)
		onStop := s.OnStop
		if onStop == nil {
			onStop = func(source.Runner, error) {}
		}
		if s.Feed == nil {
			return &Inputs{Source: source.FromChannel(source.Join(liveCtx, s.Live, 4096, onStop)), N: len(s.Live), close: func() error { stop(); return nil }}, nil
		}
		ls, closeRec, err := s.Feed.Start(liveCtx, onStop)
		if err != nil {
			stop()
			return nil, err
		}
		return &Inputs{Source: ls, N: len(s.Live), close: func() error { stop(); return closeRec() }}, nil
	}
	return &Inputs{}, nil
}

// Check reports a spec that asks for more than one kind of input.
func (s Spec) Check() error {
	if s.Demo && len(s.Files) > 0 {
		return errors.New("--demo and --replay exclude each other")
	}
	if len(s.Live) > 0 && (s.Demo || len(s.Files) > 0) {
		return errors.New("live sources exclude --demo and --replay")
	}
	return nil
}

// Describe names the inputs: "demo", the files with their sizes, or the
// live feeds.
func (s Spec) Describe() string {
	if s.Demo {
		return "demo"
	}
	var parts []string
	for _, f := range s.Files {
		if fi, err := os.Stat(f); err == nil {
			f = fmt.Sprintf("%s(%d)", filepath.Base(f), fi.Size())
		}
		parts = append(parts, f)
	}
	for _, r := range s.Live {
		parts = append(parts, r.Name())
	}
	return strings.Join(parts, " ")
}

// Flags are the source flags of node's ingest role: --demo, --replay
// FILE..., --speed, and the live sources' (package livefeed, as watch and
// serve have them).
type Flags struct {
	Speed  cliflag.Speed
	demo   *bool
	replay cliflag.Strings
	live   *livefeed.Flags
}

// RegisterFlags registers the flags on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{Speed: 3600}
	f.demo = fs.Bool("demo", false, "replay the embedded North Korea 2014 scenario")
	fs.Var(&f.replay, "replay", "MRT `FILE` to replay (repeatable; further file arguments are added)")
	fs.Var(&f.Speed, "speed", "replay pace: data seconds per wall second, a `factor` (3600 = an hour a second), or max")
	f.live = livefeed.Register(fs)
	return f
}

// Spec returns what the flags and the file arguments ask for, with the
// live sources built; an error is a usage error.
func (f *Flags) Spec(files []string, logf func(string, ...any), onStop func(source.Runner, error)) (Spec, error) {
	s := Spec{Demo: *f.demo, Files: append(f.replay, files...), OnStop: onStop}
	if err := s.Check(); err != nil {
		return s, err
	}
	feed, err := f.live.Build(logf)
	if err != nil {
		return s, err
	}
	s.Feed, s.Live = feed, feed.Runners
	return s, s.Check()
}
