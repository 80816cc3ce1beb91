// Package server is the HTTP side of `blackout serve`: the JSON API under
// /api/v1 (described by the OpenAPI document it serves), the live stream
// of notices (server-sent events), Prometheus metrics, and the dashboard's
// static files, embedded. It runs no engine: it reads the store, asks a
// Status for the data clock, and subscribes to the hub for the stream.
package server

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/metrics"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/store"
)

//go:embed web
var webFS embed.FS

//go:embed openapi.json
var openAPI []byte

// Status is what the server reports of the engine feeding the store.
type Status interface {
	DataTime() time.Time // the data clock (zero before any data)
	RouteEvents() int64  // route events fed
	Running() bool       // a source is being fed
	// Coverage is what the detector judges (per family: from when, or
	// why not), as it last changed; empty before any data.
	Coverage() event.Coverage
}

// Options configure a Server.
type Options struct {
	Store   store.Store
	Status  Status
	Hub     *hub.Hub
	Geo     *geo.DB
	Version string
	Logger  *slog.Logger
	Metrics *metrics.Metrics // may be nil
	// MaxSubscribers bounds the event stream's subscribers at a time (0:
	// DefaultMaxSubscribers); one more is answered 503.
	MaxSubscribers int
}

// Server serves the API, the stream, the metrics and the dashboard.
type Server struct {
	opts   Options
	st     store.Store
	mux    *http.ServeMux
	routes []string
	depc   depCache      // transit.go, fragility.go
	subs   chan struct{} // the stream's subscribers
	// backlog is the most notices the stream sends from the store to one
	// client at once (a resume, a slow client catching up); past it the
	// client is told it lost the older ones.
	backlog int
}

// New returns the server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxSubscribers <= 0 {
		opts.MaxSubscribers = DefaultMaxSubscribers
	}
	s := &Server{opts: opts, st: opts.Store, mux: http.NewServeMux(), subs: make(chan struct{}, opts.MaxSubscribers),
		backlog: 1000}
	s.handle("GET /api/v1/health", s.health)
	s.handle("GET /api/v1/entities", s.entities)
	s.handle("GET /api/v1/entities/{type}/{code}", s.entity)
	s.handle("GET /api/v1/entities/{type}/{code}/signals", s.signals)
	s.handle("GET /api/v1/entities/{type}/{code}/chart.svg", s.chartSVG)
	s.handle("GET /api/v1/entities/asn/{code}/transit", s.transit)
	s.handle("GET /api/v1/entities/country/{code}/fragility", s.countryFragilityHandler)
	s.handle("GET /api/v1/fragility", s.fragilityRanking)
	s.handle("GET /api/v1/events", s.events)
	s.handle("GET /api/v1/events/{id}", s.event)
	s.handle("GET /api/v1/status", s.status)
	s.handle("GET /api/v1/stream", s.limitStream(s.stream))
	s.handle("GET /api/v1/alerts/dead", s.deadLetters)
	s.handle("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	if opts.Metrics != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	web, _ := fs.Sub(webFS, "web")
	index := func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(web, "index.html")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	}
	for _, p := range []string{"GET /country/{code}", "GET /asn/{code}", "GET /event/{id}", "GET /fragility", "GET /embed/{type}/{code}"} {
		s.mux.HandleFunc(p, index)
	}
	s.mux.HandleFunc("GET /{$}", index)
	s.mux.Handle("/", s.fallback(static(web)))
	return s
}

// Routes returns the API routes ("GET /api/v1/events/{id}").
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int)           { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	route := strings.TrimPrefix(pattern, "GET ")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			writeError(sw, 400, err.Error())
		} else {
			h(sw, r)
		}
		if s.opts.Metrics != nil {
			s.opts.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// internal answers 500 for an error of the store: the error goes to the
// log with a request id, the client gets the id and no internals.
func (s *Server) internal(w http.ResponseWriter, err error) {
	id := requestID()
	s.opts.Logger.Error("api", "request_id", id, "error", err)
	w.Header().Set("X-Request-Id", id)
	writeError(w, http.StatusInternalServerError, "internal error (request id "+id+"; the server's log has the details)")
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// openState returns the state and count of open events per "type/code".
func (s *Server) openState(ctx context.Context) (map[string]*entState, []store.StoredEvent, error) {
	evs, err := s.st.Events(ctx, store.EventFilter{Ongoing: true, Limit: 100000})
	if err != nil {
		return nil, nil, err
	}
	m := map[string]*entState{}
	for _, e := range evs {
		k := e.Key.EntityType.String() + "/" + e.Key.EntityCode
		st := m[k]
		if st == nil {
			st = &entState{state: "normal"}
			m[k] = st
		}
		st.ongoing++
		if e.Severity == event.Critical {
			st.state = "critical"
		} else if st.state == "normal" {
			st.state = "warning"
		}
	}
	return m, evs, nil
}

type entState struct {
	state   string
	ongoing int
}

// JudgingJSON is what the detector judges, in status and health: the
// coverage (per family: judged from when, or why not; records not
// decoded), whether any family is judged, and the same as sentences.
type JudgingJSON struct {
	event.Coverage
	Families   []FamilyJSON     `json:"families"`  // the coverage's, with their state
	Undecoded  map[string]int64 `json:"undecoded"` // never omitted: {} when every record was decoded
	Judged     bool             `json:"judged"`    // some family is judged
	Statements []string         `json:"statements"`
}

// FamilyJSON is one family's coverage with its state: "judging" (from
// judged_from), or "learning" (not judged yet: reason says why, e.g. the
// live peers are still sending their tables), and the live peers that
// signal when their tables are complete (BGP sessions, BMP), up now, and
// how many of them are ready (0 and 0 for files, archives, RIS Live).
type FamilyJSON struct {
	event.FamilyCoverage
	State      string `json:"state"`
	Reason     string `json:"reason"`
	Peers      int    `json:"peers"`
	ReadyPeers int    `json:"ready_peers"`
}

// judging returns the Status's coverage for the API. Before any data the
// coverage has no family; a statement says so.
func (s *Server) judging() JudgingJSON {
	c := s.opts.Status.Coverage()
	j := JudgingJSON{Coverage: c, Undecoded: c.Undecoded, Judged: c.Judged(), Statements: c.Statements(), Families: []FamilyJSON{}}
	for _, fc := range c.Families {
		f := FamilyJSON{FamilyCoverage: fc, State: "learning", Reason: fc.NotJudged, Peers: fc.LivePeers, ReadyPeers: fc.ReadyPeers}
		if fc.JudgedFrom != nil {
			f.State, f.Reason = "judging", fc.Note
		}
		j.Families = append(j.Families, f)
	}
	if j.Undecoded == nil {
		j.Undecoded = map[string]int64{}
	}
	if len(c.Families) == 0 {
		msg := "Not judged: no route event read yet."
		if s.opts.Status.Running() {
			msg = "Not judged yet: waiting for the first route events."
		} else if !s.opts.Status.DataTime().IsZero() {
			msg = "Not judged: no source is being fed (the stored data is shown, nothing new is judged)."
		}
		j.Statements = append([]string{msg}, j.Statements...)
	}
	if j.Statements == nil {
		j.Statements = []string{}
	}
	return j
}

// EntityJSON is an entity in a list.
type EntityJSON struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Name    string `json:"name"`
	State   string `json:"state"`
	Ongoing int    `json:"ongoing"`
}

func (s *Server) asName(code string) string {
	n, err := strconv.ParseUint(code, 10, 32)
	if err != nil || s.opts.Geo == nil {
		return ""
	}
	inf, _ := s.opts.Geo.ASN(uint32(n))
	return inf.Name
}

func (s *Server) entities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ := q.Get("type")
	if typ != "" && typ != "country" && typ != "asn" {
		writeError(w, 400, "type: want country or asn, got "+quote(typ))
		return
	}
	limit, ok := intParam(w, q, "limit", 100, 1, 100000)
	if !ok {
		return
	}
	states, _, err := s.openState(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	var all []EntityJSON
	add := func(t, code, name string) {
		e := EntityJSON{Type: t, Code: code, Name: name, State: "normal"}
		if st := states[t+"/"+code]; st != nil {
			e.State, e.Ongoing = st.state, st.ongoing
		}
		all = append(all, e)
	}
	if typ == "" || typ == "country" {
		for _, c := range geo.Countries() {
			add("country", c.String(), c.Name())
		}
	}
	if typ == "" || typ == "asn" {
		ents, err := s.st.Entities(r.Context(), event.OriginAS)
		if err != nil {
			s.internal(w, err)
			return
		}
		for _, e := range ents {
			add("asn", e.Code, s.asName(e.Code))
		}
		for _, code := range s.transitOnly(r.Context()) { // transit.go
			add("asn", code, s.asName(code))
		}
	}
	text := strings.ToLower(strings.TrimSpace(q.Get("q")))
	if text != "" {
		code := strings.TrimPrefix(text, "as")
		rank := func(e EntityJSON) int {
			c, n := strings.ToLower(e.Code), strings.ToLower(e.Name)
			switch {
			case c == text || (e.Type == "asn" && c == code):
				return 0
			case strings.HasPrefix(n, text):
				return 1
			case e.Type == "asn" && strings.HasPrefix(c, code):
				return 2
			case strings.Contains(n, text):
				return 3
			}
			return -1
		}
		var hits []EntityJSON
		ranks := map[string]int{}
		for _, e := range all {
			if k := rank(e); k >= 0 {
				hits = append(hits, e)
				ranks[e.Type+"/"+e.Code] = k
			}
		}
		sort.SliceStable(hits, func(i, j int) bool {
			return ranks[hits[i].Type+"/"+hits[i].Code] < ranks[hits[j].Type+"/"+hits[j].Code]
		})
		all = hits
	}
	if len(all) > limit {
		all = all[:limit]
	}
	if all == nil {
		all = []EntityJSON{}
	}
	writeJSON(w, 200, map[string]any{"entities": all})
}

// entityCode validates {type}/{code}: 400 for a malformed one, 404 for an unknown one.
func (s *Server) entityCode(w http.ResponseWriter, r *http.Request) (typ, code string, ok bool) {
	typ, code = r.PathValue("type"), r.PathValue("code")
	switch typ {
	case "country":
		c, err := geo.ParseCountry(code)
		if err != nil || !c.Known() {
			writeError(w, 404, "unknown country "+quote(code))
			return "", "", false
		}
		return typ, c.String(), true
	case "asn":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(code), "AS"), 10, 32)
		if err != nil {
			writeError(w, 400, "code: not an AS number: "+quote(code))
			return "", "", false
		}
		code = strconv.FormatUint(n, 10)
		if _, err := s.st.Entity(r.Context(), event.OriginAS, code); err == nil {
			return typ, code, true
		}
		if evs, err := s.st.Events(r.Context(), store.EventFilter{EntityType: event.OriginAS, EntityCode: code, Limit: 1}); err == nil && len(evs) > 0 {
			return typ, code, true
		}
		if s.isTransit(r, code) { // on the paths of others: a transit AS
			return typ, code, true
		}
		writeError(w, 404, "AS"+code+" not seen in the data")
		return "", "", false
	}
	writeError(w, 404, "unknown entity type "+quote(typ)+": want country or asn")
	return "", "", false
}

func (s *Server) entity(w http.ResponseWriter, r *http.Request) {
	typ, code, ok := s.entityCode(w, r)
	if !ok {
		return
	}
	states, _, err := s.openState(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	out := map[string]any{"type": typ, "code": code, "state": "normal", "ongoing": 0}
	if st := states[typ+"/"+code]; st != nil {
		out["state"], out["ongoing"] = st.state, st.ongoing
	}
	if typ == "country" {
		c, _ := geo.ParseCountry(code)
		out["name"] = c.Name()
	} else {
		out["name"] = s.asName(code)
		cc := ""
		if s.opts.Geo != nil {
			n, _ := strconv.ParseUint(code, 10, 32)
			if inf, _ := s.opts.Geo.ASN(uint32(n)); !inf.Country.IsZero() {
				cc = inf.Country.String()
			}
		}
		out["country"] = cc
	}
	ups := []event.AS{}
	fams := []bgp.Family{}
	if e, err := s.st.Entity(r.Context(), entityType(typ), code); err == nil {
		if e.Upstreams != nil {
			ups = e.Upstreams
		}
		if e.Families != nil {
			fams = e.Families
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		s.internal(w, err)
		return
	}
	if len(ups) == 0 {
		// Fall back to what the latest event saw.
		if evs, err := s.st.Events(r.Context(), store.EventFilter{EntityType: entityType(typ), EntityCode: code, Limit: 20}); err == nil {
			for _, e := range evs {
				if len(e.Event.UpstreamASes) > 0 {
					ups = e.Event.UpstreamASes
					break
				}
			}
		}
	}
	upJSON := make([]map[string]any, len(ups))
	for i, u := range ups {
		upJSON[i] = map[string]any{"asn": u.ASN, "name": u.Name, "country": u.Country, "share": u.Share}
	}
	out["upstreams"] = upJSON
	out["families"] = fams
	writeJSON(w, 200, out)
}

// Point is one point of a signal in the API: a stored bin, or several
// downsampled into one.
type Point struct {
	Time     time.Time `json:"time"`
	Space    float64   `json:"space"`
	MinSpace float64   `json:"min_space"`
	Baseline float64   `json:"baseline"`
	Prefixes int32     `json:"prefixes"`
	Origins  int32     `json:"origins"`
	Churn    int32     `json:"churn"`
}

const maxSignalPoints = 20000

func (s *Server) binWidth(ctx context.Context) time.Duration {
	if v, ok, _ := s.st.Meta(ctx, store.MetaBin); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return 5 * time.Minute
}

func (s *Server) signals(w http.ResponseWriter, r *http.Request) {
	typ, code, ok := s.entityCode(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	fam := q.Get("family")
	switch fam {
	case "":
		fam = "ipv4"
	case "ipv4", "ipv6":
	default:
		writeError(w, 400, "family: want ipv4 or ipv6, got "+quote(fam))
		return
	}
	from, ok := timeParam(w, q, "from", lower)
	if !ok {
		return
	}
	until, ok := timeParam(w, q, "until", upper)
	if !ok {
		return
	}
	maxPoints, ok := intParam(w, q, "maxPoints", 1000, 1, maxSignalPoints)
	if !ok {
		return
	}
	bin := s.binWidth(r.Context())
	step, ok := stepParam(w, q)
	if !ok {
		return
	}
	dt := s.opts.Status.DataTime()
	if until.IsZero() || (!dt.IsZero() && until.After(dt)) {
		// Points stop at the data time: a later until only widens the steps.
		until = dt
		if until.IsZero() {
			until = time.Now().UTC()
		}
	}
	if from.IsZero() {
		from = until.Add(-7 * 24 * time.Hour)
	}
	if !from.Before(until) {
		writeError(w, 400, "from: must be before until")
		return
	}
	family, _ := bgp.ParseFamily(fam) // validated above
	var bins []store.Bin
	var err error
	if from.Equal(MinTime) {
		// From the beginning (a from at or before 1970): from the
		// entity's first bin, so that the steps fit the data.
		if bins, err = s.st.Bins(r.Context(), entityType(typ), code, family, from, until); err != nil {
			s.internal(w, err)
			return
		}
		if len(bins) > 0 && bins[0].Time.After(from) && bins[0].Time.Before(until) {
			from = bins[0].Time
		}
	}
	span := until.Sub(from)
	if step == 0 {
		step = time.Duration(math.Ceil(float64(span) / float64(maxPoints)))
	}
	// Whole bins, and no more than maxSignalPoints points.
	step = max(step, bin, time.Duration(math.Ceil(float64(span)/maxSignalPoints)))
	step = (step + bin - 1) / bin * bin
	from = from.Truncate(step)
	if bins == nil {
		if bins, err = s.st.Bins(r.Context(), entityType(typ), code, family, from, until); err != nil {
			s.internal(w, err)
			return
		}
	}
	unit := "/24"
	if fam == "ipv6" {
		unit = "/48"
	}
	writeJSON(w, 200, map[string]any{"type": typ, "code": code, "family": fam, "unit": unit, "step": step.String(),
		"points": Downsample(bins, from, until, dt, step)})
}

// Downsample turns sparse bins (a bin is stored only when the entity
// changed) into points every step from from to until (and not past the
// data time dt): the last value of the space, prefixes, origins and
// baseline, the lowest min_space, the sum of the churn; a step without a
// bin carries the values before it forward. bins may start with one bin
// before from (the value carried into the range).
func Downsample(bins []store.Bin, from, until, dt time.Time, step time.Duration) []Point {
	pts := []Point{}
	end := until
	if !dt.IsZero() && dt.Before(end) {
		end = dt
	}
	i := 0
	var carry *Point // the values of the last bin seen
	for ; i < len(bins) && bins[i].Time.Before(from); i++ {
		b := bins[i]
		carry = &Point{Space: b.Space, Baseline: b.Baseline, Prefixes: b.Prefixes, Origins: b.Origins}
	}
	for g := from; !g.After(end); g = g.Add(step) {
		next := g.Add(step)
		var p Point
		have := carry != nil
		if have {
			p = Point{Space: carry.Space, MinSpace: carry.Space, Baseline: carry.Baseline, Prefixes: carry.Prefixes, Origins: carry.Origins}
		}
		for first := true; i < len(bins) && bins[i].Time.Before(next); i++ {
			b := bins[i]
			if first && (!have || b.Time.Equal(g)) {
				p.MinSpace = b.MinSpace
			} else {
				p.MinSpace = min(p.MinSpace, b.MinSpace)
			}
			first, have = false, true
			p.Space, p.Baseline, p.Prefixes, p.Origins = b.Space, b.Baseline, b.Prefixes, b.Origins
			p.Churn += b.Churn
			carry = &Point{Space: b.Space, Baseline: b.Baseline, Prefixes: b.Prefixes, Origins: b.Origins}
		}
		if have {
			p.Time = g
			pts = append(pts, p)
		}
	}
	return pts
}

var eventKinds = []event.Kind{event.Outage, event.PartialOutage, event.Instability, event.UpstreamChange, event.PeerEvent}

func encodeCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Start.UnixNano(), 10) + "." + strconv.FormatInt(c.ID, 10)))
}

func decodeCursor(s string) (*store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	a, z, ok := strings.Cut(string(b), ".")
	if !ok {
		return nil, errors.New("malformed")
	}
	t, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(z, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 || t < MinTime.UnixNano() || t > MaxTime.UnixNano() {
		return nil, errors.New("malformed")
	}
	return &store.Cursor{Start: time.Unix(0, t).UTC(), ID: id}, nil
}

// entityType returns the type named by a validated name (0 for "").
func entityType(name string) event.EntityType {
	t, _ := event.ParseEntityType(name)
	return t
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, code, kind, sev := q.Get("entity_type"), q.Get("entity_code"), q.Get("kind"), q.Get("severity")
	switch typ {
	case "", "country", "asn", "peer":
	default:
		writeError(w, 400, "entity_type: want country, asn or peer, got "+quote(typ))
		return
	}
	if typ == "asn" {
		code = strings.TrimPrefix(strings.ToUpper(code), "AS")
	}
	if kind != "" && !slices.Contains(eventKinds, event.Kind(kind)) {
		writeError(w, 400, "kind: want one of "+kindList()+", got "+quote(kind))
		return
	}
	switch sev {
	case "", "warning", "critical":
	default:
		writeError(w, 400, "severity: want warning or critical, got "+quote(sev))
		return
	}
	f := store.EventFilter{EntityType: entityType(typ), EntityCode: code, Kind: event.Kind(kind), Severity: event.Severity(sev)}
	var ok bool
	if f.From, ok = timeParam(w, q, "from", lower); !ok {
		return
	}
	if f.Until, ok = timeParam(w, q, "until", upper); !ok {
		return
	}
	switch v := q.Get("ongoing"); v {
	case "", "false", "0":
	case "true", "1":
		f.Ongoing = true
	default:
		writeError(w, 400, "ongoing: want true or false, got "+quote(v))
		return
	}
	limit, ok := intParam(w, q, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	if c := q.Get("cursor"); c != "" {
		cur, err := decodeCursor(c)
		if err != nil {
			writeError(w, 400, "cursor: not a cursor from next_cursor")
			return
		}
		f.After = cur
	}
	f.Limit = limit + 1
	evs, err := s.st.Events(r.Context(), f)
	if err != nil {
		s.internal(w, err)
		return
	}
	var next any
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[len(evs)-1]
		next = encodeCursor(store.Cursor{Start: last.Key.Start, ID: last.ID})
	}
	out := make([]*event.Event, len(evs))
	for i := range evs {
		out[i] = &evs[i].Event
	}
	writeJSON(w, 200, map[string]any{"events": out, "next_cursor": next})
}

func (s *Server) event(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, 400, "id: not an event id: "+quote(r.PathValue("id")))
		return
	}
	ev, err := s.st.Event(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, 404, fmt.Sprintf("no event %d", id))
		return
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, 200, &ev.Event)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	states, open, err := s.openState(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	countries := map[string]string{}
	ents, err := s.st.Entities(r.Context(), event.Country)
	if err != nil {
		s.internal(w, err)
		return
	}
	for _, e := range ents {
		countries[e.Code] = "normal"
	}
	for k, st := range states {
		if c, ok := strings.CutPrefix(k, "country/"); ok {
			countries[c] = st.state
		}
	}
	ongoing := make([]*event.Event, len(open))
	for i := range open {
		ongoing[i] = &open[i].Event
	}
	writeJSON(w, 200, map[string]any{"data_time": timeOrNil(s.opts.Status.DataTime()), "ongoing": ongoing, "countries": countries,
		"judging": s.judging()})
}

func kindList() string {
	s := make([]string, len(eventKinds))
	for i, k := range eventKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
