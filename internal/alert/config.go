// Package alert tells subscribers about events as they happen: when an
// outage starts, when it escalates, and when the network comes back (with
// how long it was gone). Rules choose the entities, kinds and minimum
// severity; sinks deliver: a generic webhook (JSON body signed with
// HMAC-SHA256), a Slack-compatible incoming webhook, and a log line.
//
// The notices come from the store's outbox, where `blackout serve` writes
// each one in the same transaction as the event change it announces. Per
// sink, a loader reads the outbox after the last notice handled and the
// deliveries run concurrently, one event's notices in order, each retried
// with exponential backoff; what was delivered or given up on (a dead
// letter: attempts exhausted, or a 4xx) is recorded in the outbox. Delivery
// never blocks the pipeline, a restart resumes where the last run stopped,
// and nothing is sent twice (but for a crash between a receiver's answer
// and its recording: X-Blackout-Delivery lets receivers drop that one).
package alert

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// Config is the "alerts" part of the configuration file.
type Config struct {
	Rules []Rule       `json:"rules"`
	Sinks []SinkConfig `json:"sinks"`
}

// Rule selects the notices that are sent.
type Rule struct {
	Name string `json:"name,omitempty"`
	// Countries lists ISO codes; ["*"] is every country.
	Countries []string `json:"countries,omitempty"`
	// ASNs lists origin ASes; [0] (or "all_asns": true) is every AS.
	ASNs    []uint32 `json:"asns,omitempty"`
	AllASNs bool     `json:"all_asns,omitempty"`
	// Peers also matches vantage-point events (off by default).
	Peers bool `json:"peers,omitempty"`
	// Kinds lists event kinds (outage, partial_outage, instability,
	// upstream_change, peer_event); empty is every kind.
	Kinds []event.Kind `json:"kinds,omitempty"`
	// MinSeverity is "warning" (default) or "critical".
	MinSeverity event.Severity `json:"min_severity,omitempty"`
	// Notices lists the notice types sent: start, escalate, end, retract;
	// empty is all four.
	Notices []event.NoticeType `json:"notices,omitempty"`
	// Sinks names the sinks; empty is every sink.
	Sinks []string `json:"sinks,omitempty"`
	// RateLimit, if set, caps the events this rule announces.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
}

// RateLimit caps a rule's alerts: at most Max events per Per of data time
// (windows aligned on multiples of Per) are announced, in the order of
// their first notice; the notices of an event over the limit are not sent
// by this rule (none of them: a receiver never gets an end without its
// start), those of an announced event all are.
type RateLimit struct {
	Max int      `json:"max"`
	Per Duration `json:"per"`
}

// SinkConfig configures one sink.
type SinkConfig struct {
	Name string `json:"name"`
	Type string `json:"type"` // "webhook", "slack" or "log"
	URL  string `json:"url,omitempty"`
	// Secret signs webhook deliveries: X-Blackout-Timestamp: <unix seconds>,
	// X-Blackout-Signature: sha256=<hex HMAC-SHA256 of timestamp "." body>.
	Secret      string   `json:"secret,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`      // per attempt (default 10s)
	QueueSize   int      `json:"queue_size,omitempty"`   // default 256
	MaxAttempts int      `json:"max_attempts,omitempty"` // default 6
	Backoff     Duration `json:"backoff,omitempty"`      // first retry delay, doubled each time (default 1s)
	MaxBackoff  Duration `json:"max_backoff,omitempty"`  // default 5m
	// Concurrency is how many deliveries to this sink run at once (default
	// 4); one event's notices always go in order.
	Concurrency int `json:"concurrency,omitempty"`
}

// Duration is a time.Duration written as "10s" in JSON (or a number of seconds).
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want \"10s\" or seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// FileConfig is the configuration file of `blackout serve --config`.
type FileConfig struct {
	Alerts Config `json:"alerts"`
}

// LoadFile reads a JSON configuration file.
func LoadFile(path string) (*FileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c FileConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Alerts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	names := map[string]bool{}
	for i, s := range c.Sinks {
		if s.Name == "" {
			return fmt.Errorf("alerts.sinks[%d]: no name", i)
		}
		if names[s.Name] {
			return fmt.Errorf("alerts.sinks[%d]: name %q used twice", i, s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case "webhook", "slack":
			if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
				return fmt.Errorf("alerts.sinks[%d] (%s): url must be http:// or https://", i, s.Name)
			}
		case "log":
		default:
			return fmt.Errorf("alerts.sinks[%d] (%s): type %q: want webhook, slack or log", i, s.Name, s.Type)
		}
	}
	for i, r := range c.Rules {
		for _, cc := range r.Countries {
			if cc == "*" {
				continue
			}
			if _, err := geo.ParseCountry(cc); err != nil {
				return fmt.Errorf("alerts.rules[%d]: country %q: %v", i, cc, err)
			}
		}
		for _, k := range r.Kinds {
			if _, err := event.ParseKind(string(k)); err != nil {
				return fmt.Errorf("alerts.rules[%d]: kind %q unknown", i, k)
			}
		}
		for _, n := range r.Notices {
			if _, err := event.ParseNoticeType(string(n)); err != nil {
				return fmt.Errorf("alerts.rules[%d]: notice %q: want start, escalate, end or retract", i, n)
			}
		}
		if l := r.RateLimit; l != nil && (l.Max <= 0 || l.Per <= 0) {
			return fmt.Errorf("alerts.rules[%d]: rate_limit: want a positive max and per (e.g. {\"max\": 10, \"per\": \"1h\"})", i)
		}
		switch r.MinSeverity {
		case "", event.Warning, event.Critical:
		default:
			return fmt.Errorf("alerts.rules[%d]: min_severity %q: want warning or critical", i, r.MinSeverity)
		}
		for _, s := range r.Sinks {
			if !names[s] {
				return fmt.Errorf("alerts.rules[%d]: sink %q not defined", i, s)
			}
		}
	}
	return nil
}
