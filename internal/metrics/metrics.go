// Package metrics holds the Prometheus metrics of blackout serve: the
// engine counts route events, notices, store writes and alerts; the HTTP
// server counts requests and serves the registry.
package metrics

import (
	"time"

	"github.com/blackout-bgp/blackout/internal/offheap"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus metrics of `blackout serve`.
type Metrics struct {
	Registry *prometheus.Registry
	// The metrics, by name: see New for what each counts (its Help).
	RouteEvents   prometheus.Counter
	InputErrors   prometheus.Counter
	DataTime      prometheus.Gauge
	Lag           prometheus.Gauge
	EventsOpen    prometheus.Gauge
	Notices       *prometheus.CounterVec
	Alerts        *prometheus.CounterVec
	AlertFailures *prometheus.CounterVec
	DeadLetters   prometheus.Counter
	StoreWrite    prometheus.Histogram
	StoreErrors   prometheus.Counter
	HTTPRequests  *prometheus.CounterVec
}

// New registers the metrics on a new registry (with the Go and
// process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r,
		RouteEvents:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_route_events_total", Help: "Route events fed to the pipeline."}),
		InputErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_input_errors_total", Help: "Non-fatal input errors (corrupt records, I/O)."}),
		DataTime:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_data_time_seconds", Help: "The data's clock: time of the latest route event fed (unix seconds). For a replay, this is how far it went."}),
		Lag:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_lag_seconds", Help: "Wall time minus data time, for live sources (0 for a replay)."}),
		EventsOpen:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_events_open", Help: "Events (outages, instability, ...) currently open."}),
		Notices:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_notices_total", Help: "Detector Notices by type."}, []string{"type"}),
		Alerts:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_alert_deliveries_total", Help: "Alert deliveries that succeeded, by sink."}, []string{"sink"}),
		AlertFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_alert_failures_total", Help: "Alert delivery attempts that failed, by sink."}, []string{"sink"}),
		DeadLetters:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_alert_dead_letters_total", Help: "Alerts given up on (dead letters: blackout alerts dead, /api/v1/alerts/dead)."}),
		StoreWrite:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "blackout_store_write_seconds", Help: "Duration of store write transactions.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		StoreErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_store_write_errors_total", Help: "Store write transactions that failed."}),
		HTTPRequests:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_http_requests_total", Help: "API requests by route and status code."}, []string{"route", "code"}),
	}
	r.MustRegister(m.RouteEvents, m.InputErrors, m.DataTime, m.Lag, m.EventsOpen, m.Notices, m.Alerts, m.AlertFailures,
		m.DeadLetters, m.StoreWrite, m.StoreErrors, m.HTTPRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		// The routing view's tables and paths are outside the Go heap:
		// without these the Go collector's figures do not explain the RSS.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blackout_offheap_inuse_bytes", Help: "Bytes the routing view holds outside the Go heap (its tables and AS-path trie)."},
			func() float64 { return float64(offheap.InUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blackout_offheap_mapped_bytes", Help: "Bytes mapped for the routing view outside the Go heap (in use, or free for reuse)."},
			func() float64 { return float64(offheap.Mapped()) }))
	return m
}

// AlertDelivered counts one delivery attempt of an alert sink.
func (m *Metrics) AlertDelivered(sink string, err error) {
	if err == nil {
		m.Alerts.WithLabelValues(sink).Inc()
	} else {
		m.AlertFailures.WithLabelValues(sink).Inc()
	}
}

// DeadLetter counts one alert given up on.
func (m *Metrics) DeadLetter() { m.DeadLetters.Inc() }

// Live registers the gauges of live sources, read when scraped: per
// family (ipv4 = 0, ipv6 = 1 for family), the live peers up that signal
// when their tables are complete (blackout_peers), those of them that are
// ready (blackout_ready_peers) and the full-feed peers
// (blackout_full_feed_peers); the BGP connections open and sessions
// established, from sessions; and blackout_lag_seconds becomes the
// seconds the data time is behind the wall clock (0 before any data).
func (m *Metrics) Live(family func(f int) (peers, ready, full int), dataTime func() time.Time, sessions func() (open, established int)) {
	for i, g := range []struct{ name, help string }{
		{"blackout_peers", "Live peers up that signal when their tables are complete (BGP sessions, BMP), by family."},
		{"blackout_ready_peers", "Live peers whose table of the family is complete (End-of-RIB or a quiet table)."},
		{"blackout_full_feed_peers", "Full-feed peers of the family (the vantage points that count)."},
	} {
		for f, name := range []string{"ipv4", "ipv6"} {
			m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help,
				ConstLabels: prometheus.Labels{"family": name}}, func() float64 {
				p, r, full := family(f)
				return float64([3]int{p, r, full}[i])
			}))
		}
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blackout_bgp_connections", Help: "BGP connections open now (established or not)."},
			func() float64 { o, _ := sessions(); return float64(o) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blackout_bgp_sessions", Help: "BGP sessions established now."},
			func() float64 { _, e := sessions(); return float64(e) }))
	m.Registry.Unregister(m.Lag)
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blackout_lag_seconds", Help: "Wall time minus data time, for live sources (0 for a replay)."},
		func() float64 {
			t := dataTime()
			if t.IsZero() {
				return 0
			}
			return time.Since(t).Seconds()
		}))
}
