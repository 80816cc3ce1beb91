package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/store"
)

// relayStatus is the api role's server.Status: the data clock, route
// events and coverage from the detector's ticks on the bus, or the data
// clock from the store's progress metadata when no tick came yet (the
// coverage is then empty: nothing is claimed about what is judged).
type relayStatus struct {
	st store.Store

	mu       sync.Mutex
	dataTime time.Time
	events   int64
	lastTick time.Time // wall time
	coverage event.Coverage
}

func (s *relayStatus) setCoverage(data []byte) {
	var c event.Coverage
	if json.Unmarshal(data, &c) != nil {
		return
	}
	s.mu.Lock()
	s.coverage = c
	s.mu.Unlock()
}

func (s *relayStatus) tick(data []byte) {
	var t struct {
		DataTime    *string `json:"data_time"`
		RouteEvents int64   `json:"route_events"`
	}
	if json.Unmarshal(data, &t) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.DataTime != nil {
		if dt, err := time.Parse(time.RFC3339, *t.DataTime); err == nil && dt.After(s.dataTime) {
			s.dataTime = dt
		}
	}
	s.events = max(s.events, t.RouteEvents)
	s.lastTick = time.Now()
}

// fromStore reads the progress the detector stored.
func (s *relayStatus) fromStore(ctx context.Context) {
	v, ok, err := s.st.Meta(ctx, store.MetaDataTime)
	n, _, _ := s.st.Meta(ctx, store.MetaEvents)
	if err != nil || !ok {
		return
	}
	dt, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return
	}
	k, _ := strconv.ParseInt(n, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if dt.After(s.dataTime) {
		s.dataTime = dt
	}
	s.events = max(s.events, k)
}

// DataTime implements server.Status.
func (s *relayStatus) DataTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataTime
}

// RouteEvents implements server.Status.
func (s *relayStatus) RouteEvents() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// Running implements server.Status: a detector ticked in the last 5 s.
func (s *relayStatus) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.lastTick.IsZero() && time.Since(s.lastTick) < 5*time.Second
}

// Coverage implements server.Status: the detector's, as last relayed.
func (s *relayStatus) Coverage() event.Coverage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coverage
}

// APIConfig configures the api role.
type APIConfig struct {
	Listen  string
	Store   store.Store
	Server  server.Options // Store, Status and Hub are set by the role
	Logger  *slog.Logger
	OnReady func(url string) // called with the server's URL once it listens
}

// API serves the HTTP API and dashboard over the shared store until ctx is
// done, relaying the detector's notices and ticks from the bus to the
// event stream.
func API(ctx context.Context, nc *nats.Conn, cfg APIConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	h := hub.New()
	status := &relayStatus{st: cfg.Store}
	status.fromStore(ctx)
	sub, err := nc.Subscribe(SubjectNotice+".*", func(m *nats.Msg) {
		kind := strings.TrimPrefix(m.Subject, SubjectNotice+".")
		if kind == "tick" {
			status.tick(m.Data)
		}
		id, _ := strconv.ParseInt(m.Header.Get(HeaderSeq), 10, 64) // a notice's outbox sequence number
		h.Publish(hub.Message{ID: id, Event: kind, Data: m.Data})
	})
	if err != nil {
		return fmt.Errorf("api: subscribe to notices: %w", err)
	}
	defer sub.Unsubscribe()
	csub, err := nc.Subscribe(SubjectCoverage, func(m *nats.Msg) { status.setCoverage(m.Data) })
	if err != nil {
		return fmt.Errorf("api: subscribe to coverage: %w", err)
	}
	defer csub.Unsubscribe()
	opts := cfg.Server
	opts.Store, opts.Status, opts.Hub, opts.Logger = cfg.Store, status, h, log
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: server.New(opts), ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	log.Info("listening on "+url, "store", describe(cfg.Store))
	if cfg.OnReady != nil {
		cfg.OnReady(url)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The store's progress, for when no detector ticks (between tenures).
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(shCtx)
		case err := <-errc:
			return fmt.Errorf("api: HTTP server on %s failed: %w", url, err)
		case <-t.C:
			status.fromStore(ctx)
		}
	}
}

func describe(st store.Store) string {
	if p, ok := st.(interface{ Path() string }); ok {
		return p.Path()
	}
	return fmt.Sprintf("%T", st)
}
