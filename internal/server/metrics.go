package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus metrics of `blackout serve`.
type Metrics struct {
	Registry    *prometheus.Registry
	routeEvents prometheus.Counter
	inputErrors prometheus.Counter
	dataTime    prometheus.Gauge
	lag         prometheus.Gauge
	eventsOpen  prometheus.Gauge
	notices     *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	alertFail   *prometheus.CounterVec
	deadLetters prometheus.Counter
	storeWrite  prometheus.Histogram
	storeErrors prometheus.Counter
	httpReqs    *prometheus.CounterVec
}

// NewMetrics registers the metrics on a new registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r,
		routeEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_route_events_total", Help: "Route events fed to the pipeline."}),
		inputErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_input_errors_total", Help: "Non-fatal input errors (corrupt records, I/O)."}),
		dataTime:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_data_time_seconds", Help: "The data's clock: time of the latest route event fed (unix seconds). For a replay, this is how far it went."}),
		lag:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_lag_seconds", Help: "Wall time minus data time, for live sources (0 for a replay)."}),
		eventsOpen:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "blackout_events_open", Help: "Events (outages, instability, ...) currently open."}),
		notices:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_notices_total", Help: "Detector notices by type."}, []string{"type"}),
		alerts:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_alert_deliveries_total", Help: "Alert deliveries that succeeded, by sink."}, []string{"sink"}),
		alertFail:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_alert_failures_total", Help: "Alert delivery attempts that failed, by sink."}, []string{"sink"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_alert_dead_letters_total", Help: "Alerts given up on (recorded in dead_letters)."}),
		storeWrite:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "blackout_store_write_seconds", Help: "Duration of store write transactions.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "blackout_store_write_errors_total", Help: "Store write transactions that failed."}),
		httpReqs:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blackout_http_requests_total", Help: "API requests by route and status code."}, []string{"route", "code"}),
	}
	r.MustRegister(m.routeEvents, m.inputErrors, m.dataTime, m.lag, m.eventsOpen, m.notices, m.alerts, m.alertFail,
		m.deadLetters, m.storeWrite, m.storeErrors, m.httpReqs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AlertDelivered counts one delivery attempt of an alert sink.
func (m *Metrics) AlertDelivered(sink string, err error) {
	if err == nil {
		m.alerts.WithLabelValues(sink).Inc()
	} else {
		m.alertFail.WithLabelValues(sink).Inc()
	}
}

// DeadLetter counts one alert given up on.
func (m *Metrics) DeadLetter() { m.deadLetters.Inc() }
