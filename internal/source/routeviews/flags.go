package routeviews

import (
	"flag"
	"fmt"
	"strings"

	"github.com/blackout-bgp/blackout/internal/source"
)

// brokerFlag is --routeviews: a boolean that may carry the brokers.
type brokerFlag struct{ brokers []string }

func (b *brokerFlag) String() string   { return strings.Join(b.brokers, ",") }
func (b *brokerFlag) IsBoolFlag() bool { return true }
func (b *brokerFlag) Set(v string) error {
	switch v {
	case "true":
		b.brokers = []string{DefaultBroker}
	case "false":
		b.brokers = nil
	default:
		b.brokers = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				if !strings.Contains(h, ":") {
					return fmt.Errorf("broker %q: want HOST:PORT", h)
				}
				b.brokers = append(b.brokers, h)
			}
		}
	}
	return nil
}

// Flags are the flags of the RouteViews source.
type Flags struct {
	b   brokerFlag
	cfg Config
}

// RegisterFlags registers the flags of the RouteViews source on fs (for
// watch, serve and node's ingest role); after fs.Parse, Build builds the
// source they ask for (none without --routeviews).
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.Var(&f.b, "routeviews", "follow RouteViews' live BMP feed over Kafka (--routeviews alone: "+DefaultBroker+"; --routeviews=HOST:PORT,...: other brokers)")
	fs.StringVar(&f.cfg.Topics, "routeviews-topics", DefaultTopics, "RouteViews topics to follow, a `REGEX` (e.g. ^routeviews\\.linx\\..+\\.bmp_raw$)")
	fs.StringVar(&f.cfg.Group, "routeviews-group", "", "Kafka consumer group `NAME`: a restart goes on from its committed offsets")
	fs.StringVar(&f.cfg.Start, "routeviews-start", "end", "where to begin without committed offsets: end, start, or an RFC 3339 `TIME` (to line up with a RIB dump)")
	return f
}

// Enabled reports whether --routeviews was given.
func (f *Flags) Enabled() bool { return len(f.b.brokers) > 0 }

// Config returns the source's configuration the flags ask for, logging
// to logf.
func (f *Flags) Config(logf func(string, ...any)) Config {
	cfg := f.cfg
	cfg.Brokers, cfg.Logf = f.b.brokers, logf
	return cfg
}

// Build builds the source the flags ask for (none without --routeviews).
func (f *Flags) Build(logf func(string, ...any)) ([]source.Runner, error) {
	if !f.Enabled() {
		return nil, nil
	}
	s, err := New(f.Config(logf))
	if err != nil {
		return nil, err
	}
	return []source.Runner{s}, nil
}
