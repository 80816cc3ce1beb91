package routeviews

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/bmp"
)

// DefaultBroker is RouteViews' public Kafka broker.
const DefaultBroker = "stream.routeviews.org:9092"

// DefaultTopics matches every RouteViews BMP raw topic.
const DefaultTopics = `^routeviews\..+\.bmp_raw$`

// Config configures the consumer.
type Config struct {
	Brokers []string // default DefaultBroker
	Topics  string   // a regular expression of topic names (default DefaultTopics)
	// Group, if set, is the consumer group: its committed offsets say
	// where a restart goes on. Without one, every partition is read from
	// Start.
	Group string
	// Start is where to begin when there is no committed offset: "end"
	// (default: what arrives from now on), "start" (all the topics hold),
	// or an RFC 3339 time (the first message at or after it, to line up
	// with an MRT RIB dump).
	Start string
	// StartAt, if set, is where to begin instead of Start: the first
	// record of each partition whose Kafka timestamp is at or after it.
	StartAt time.Time
	Views   bmp.View // the BMP views that become events (default bmp.DefaultViews)
	// Quiet is the readiness rule's quiet time of a monitored peer whose
	// Peer Up came (default source.DefaultQuiet), in the messages' data
	// time.
	Quiet time.Duration
	// Refresh is how often the topic list is read again to find new
	// peers' topics (default 1 minute).
	Refresh time.Duration
	Logf    func(format string, args ...any)
	// Opts are more franz-go client options (tests).
	Opts []kgo.Opt
}

// Stats counts what the consumer received.
type Stats struct {
	Records    atomic.Int64 // Kafka records read
	Errors     atomic.Int64 // records that could not be decoded (logged, skipped)
	Stripped   atomic.Int64 // AS paths whose prepended collector AS was removed
	BMP        bmp.Stats
	FetchError atomic.Int64 // fetch errors (the client retries)
}

// Source consumes the feed; it implements source.Runner.
type Source struct {
	cfg   Config
	re    *regexp.Regexp
	start kgo.Offset
	stats Stats
}

// New checks cfg and returns the consumer; nothing connects until Run.
func New(cfg Config) (*Source, error) {
	if len(cfg.Brokers) == 0 {
		cfg.Brokers = []string{DefaultBroker}
	}
	if cfg.Topics == "" {
		cfg.Topics = DefaultTopics
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	re, err := regexp.Compile(cfg.Topics)
	if err != nil {
		return nil, fmt.Errorf("routeviews: topics %q: %w", cfg.Topics, err)
	}
	s := &Source{cfg: cfg, re: re}
	switch cfg.Start {
	case "", "end":
		s.start = kgo.NewOffset().AtEnd()
	case "start":
		s.start = kgo.NewOffset().AtStart()
	default:
		t, err := time.Parse(time.RFC3339, cfg.Start)
		if err != nil {
			return nil, fmt.Errorf("routeviews: start %q: want end, start or an RFC 3339 time", cfg.Start)
		}
		s.start = kgo.NewOffset().AfterMilli(t.UnixMilli())
	}
	if !cfg.StartAt.IsZero() {
		s.start = kgo.NewOffset().AfterMilli(cfg.StartAt.UnixMilli())
	}
	return s, nil
}

// Name returns "routeviews BROKER".
func (s *Source) Name() string { return "routeviews " + strings.Join(s.cfg.Brokers, ",") }

// Stats returns the counters.
func (s *Source) Stats() *Stats { return &s.stats }

// routerKey identifies a router's BMP stream in the feed.
type routerKey struct {
	hash [16]byte
	addr netip.Addr
	name string
}

// Run consumes the topics until ctx is done (it then returns ctx.Err()).
// A record that cannot be decoded is logged with its topic, partition and
// offset and skipped.
func (s *Source) Run(ctx context.Context, out chan<- bgp.Event) error {
	opts := []kgo.Opt{kgo.SeedBrokers(s.cfg.Brokers...), kgo.ConsumeRegex(), kgo.ConsumeTopics(s.cfg.Topics),
		kgo.ConsumeResetOffset(s.start), kgo.MetadataMaxAge(s.cfg.Refresh), kgo.ClientID("blackout")}
	if s.cfg.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(s.cfg.Group))
	}
	cl, err := kgo.NewClient(append(opts, s.cfg.Opts...)...)
	if err != nil {
		return fmt.Errorf("routeviews: %w", err)
	}
	defer cl.Close()
	routers := map[routerKey]*bmp.Router{}
	stopped := false
	emit := func(ev bgp.Event) bool {
		if ev.Kind == bgp.Announce && ev.Attrs != nil && stripCollectorAS(&ev.Attrs.Path, ev.Peer.AS) {
			s.stats.Stripped.Add(1)
		}
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			stopped = true
			return false
		}
	}
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.stats.FetchError.Add(1)
			s.cfg.Logf("routeviews: topic %s partition %d: %v", topic, part, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if stopped {
				return
			}
			s.stats.Records.Add(1)
			if err := s.record(r, routers, emit); err != nil {
				s.stats.Errors.Add(1)
				s.cfg.Logf("routeviews: topic %s partition %d offset %d: %v", r.Topic, r.Partition, r.Offset, err)
			}
		})
		if stopped {
			return ctx.Err()
		}
	}
}

// record handles one Kafka record: an OpenBMP raw message.
func (s *Source) record(r *kgo.Record, routers map[routerKey]*bmp.Router, emit func(bgp.Event) bool) error {
	if !s.re.MatchString(r.Topic) {
		return nil // a topic the regex matched no longer (cannot happen with ConsumeRegex; be safe)
	}
	h, msg, err := ParseOpenBMP(r.Value)
	if err != nil {
		return err
	}
	name := h.Router
	if name == "" {
		name = collectorOfTopic(r.Topic)
	}
	k := routerKey{h.RouterHash, h.RouterAddr, name}
	rt := routers[k]
	if rt == nil {
		rt = bmp.NewRouter(name, h.RouterAddr, s.cfg.Views, &s.stats.BMP)
		rt.SetQuiet(s.cfg.Quiet)
		rt.SetLogf(s.cfg.Logf)
		routers[k] = rt
		s.cfg.Logf("routeviews: collector %s (router %s) on topic %s", name, h.RouterAddr, r.Topic)
	}
	now := h.Collected
	if now.IsZero() || now.Unix() == 0 {
		now = r.Timestamp.UTC()
	}
	if err := rt.Handle(msg, now, emit); err != nil {
		return fmt.Errorf("collector %s: %w", name, err)
	}
	if rt.Terminated() {
		rt.Close(now, emit)
		delete(routers, k)
	}
	return nil
}

// collectorOfTopic returns the collector part of routeviews.<collector>.<peer-asn>.bmp_raw.
func collectorOfTopic(topic string) string {
	parts := strings.Split(topic, ".")
	if len(parts) >= 4 && parts[0] == "routeviews" && parts[len(parts)-1] == "bmp_raw" {
		return strings.Join(parts[1:len(parts)-2], ".")
	}
	return topic
}

// stripCollectorAS removes the AS RouteViews' collector prepends to the
// AS_PATH: the first hop of a leading AS_SEQUENCE when the peer's AS
// follows it. It reports whether it removed one.
func stripCollectorAS(p *bgp.Path, peer bgp.ASN) bool {
	if len(p.Segments) == 0 || p.Segments[0].Type != bgp.ASSequence {
		return false
	}
	s := &p.Segments[0]
	if len(s.ASNs) < 2 || s.ASNs[0] == peer || s.ASNs[1] != peer {
		return false
	}
	s.ASNs = s.ASNs[1:]
	return true
}
