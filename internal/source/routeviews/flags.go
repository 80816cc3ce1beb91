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

// RegisterFlags registers the flags of the RouteViews source on fs (for
// watch, serve and node's ingest role) and returns the function that,
// after fs.Parse, builds the source they ask for (none without
// --routeviews).
func RegisterFlags(fs *flag.FlagSet) func(logf func(string, ...any)) ([]source.Runner, error) {
	var b brokerFlag
	var cfg Config
	fs.Var(&b, "routeviews", "follow RouteViews' live BMP feed over Kafka (--routeviews alone: "+DefaultBroker+"; --routeviews=HOST:PORT,...: other brokers)")
	fs.StringVar(&cfg.Topics, "routeviews-topics", DefaultTopics, "RouteViews topics to follow, a `REGEX` (e.g. ^routeviews\\.linx\\..+\\.bmp_raw$)")
	fs.StringVar(&cfg.Group, "routeviews-group", "", "Kafka consumer group `NAME`: a restart goes on from its committed offsets")
	fs.StringVar(&cfg.Start, "routeviews-start", "end", "where to begin without committed offsets: end, start, or an RFC 3339 `TIME` (to line up with a RIB dump)")
	return func(logf func(string, ...any)) ([]source.Runner, error) {
		if len(b.brokers) == 0 {
			return nil, nil
		}
		cfg.Brokers, cfg.Logf = b.brokers, logf
		s, err := New(cfg)
		if err != nil {
			return nil, err
		}
		return []source.Runner{s}, nil
	}
}
