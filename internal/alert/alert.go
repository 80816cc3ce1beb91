package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// Notice is an event change to tell about.
type Notice struct {
	Seq   int64 // the outbox's sequence number (0 outside it)
	Type  event.NoticeType
	Event event.Event
	Time  time.Time // data time of the change
}

// Outbox is what the dispatcher needs of the store: the notices log and
// the deliveries.
type Outbox interface {
	Notices(ctx context.Context, after int64, limit int) ([]store.Notice, error)
	NoticesOf(ctx context.Context, key string) ([]store.Notice, error)
	NoticesIn(ctx context.Context, from, until time.Time) ([]store.Notice, error)
	Sink(ctx context.Context, name string) (from, done int64, err error)
	SetSinkDone(ctx context.Context, name string, done int64) error
	Handled(ctx context.Context, sink string, after, through int64) (map[int64]bool, error)
	RecordDelivery(ctx context.Context, d store.Delivery) error
}

// Options are the dispatcher's connections to the rest of the program.
type Options struct {
	Outbox    Outbox                       // required
	Logger    *slog.Logger                 // default slog.Default()
	Delivered func(sink string, err error) // after every attempt; may be nil
	Dead      func(sink string)            // after an alert is given up on; may be nil
	Client    *http.Client                 // default: a client without timeout (each attempt has its own)
	Now       func() time.Time             // the wall clock of the signatures (default time.Now)
	// Poll is how often the outbox is read without a Wake (default 5s).
	Poll time.Duration
}

// Dispatcher delivers the outbox's notices to the sinks of the rules
// they match. Each sink has a loader, which reads the notices after the
// last one handled and matches them, and delivers them concurrently
// (Concurrency at a time), one event's notices in order: a failing alert
// holds back only the later notices of its own event. What was delivered,
// or given up on (a dead letter), is recorded in the outbox, so that a
// restart resumes where the last run stopped and sends nothing twice.
type Dispatcher struct {
	rules   []Rule
	sinks   []*sinkRunner
	byName  map[string]*sinkRunner
	opts    Options
	closing chan struct{}   // closed by Close: stop loading, no more backoff
	ctx     context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	started bool

	limMu sync.Mutex
	lim   map[int]map[string]bool // rule -> event key -> announced (rate limits)
}

type message struct {
	notice Notice
	key    string
	text   string
}

// sinkRunner delivers to one sink.
type sinkRunner struct {
	cfg  SinkConfig
	d    *Dispatcher
	wake chan struct{}
	free chan struct{} // an outstanding notice was handled
	sem  chan struct{} // deliveries in flight

	after int64 // the loader's: the highest notice read
	done  int64 // the loader's: recorded as handled up to here

	mu          sync.Mutex
	outstanding map[int64]bool        // read and not handled yet
	chains      map[string][]*message // per event: the head is being delivered
}

// New returns a dispatcher for cfg; Start starts it.
func New(cfg Config, opts Options) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	d := &Dispatcher{rules: cfg.Rules, byName: map[string]*sinkRunner{}, opts: opts, closing: make(chan struct{}),
		lim: map[int]map[string]bool{}}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, s := range cfg.Sinks {
		if s.Timeout <= 0 {
			s.Timeout = Duration(10 * time.Second)
		}
		if s.QueueSize <= 0 {
			s.QueueSize = 256
		}
		if s.MaxAttempts <= 0 {
			s.MaxAttempts = 6
		}
		if s.Backoff <= 0 {
			s.Backoff = Duration(time.Second)
		}
		if s.MaxBackoff <= 0 {
			s.MaxBackoff = Duration(5 * time.Minute)
		}
		if s.Concurrency <= 0 {
			s.Concurrency = 4
		}
		r := &sinkRunner{cfg: s, d: d, wake: make(chan struct{}, 1), free: make(chan struct{}, 1), sem: make(chan struct{}, s.Concurrency),
			outstanding: map[int64]bool{}, chains: map[string][]*message{}}
		d.sinks = append(d.sinks, r)
		d.byName[s.Name] = r
	}
	return d, nil
}

// Start registers the sinks in the outbox (a sink seen for the first time
// starts after the latest notice) and starts their loaders.
func (d *Dispatcher) Start(ctx context.Context) error {
	if d == nil || len(d.sinks) == 0 {
		return nil
	}
	if d.opts.Outbox == nil {
		return errors.New("alerts: no outbox")
	}
	for _, s := range d.sinks {
		from, done, err := d.opts.Outbox.Sink(ctx, s.cfg.Name)
		if err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		s.after, s.done = max(from, done), max(from, done)
	}
	d.started = true
	for _, s := range d.sinks {
		d.wg.Add(1)
		go s.load()
	}
	return nil
}

// Wake tells the loaders that new notices are in the outbox.
func (d *Dispatcher) Wake() {
	if d == nil {
		return
	}
	for _, s := range d.sinks {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops reading the outbox and gives the deliveries in flight until
// ctx is done (no more retries); the notices not delivered stay in the
// outbox for the next start.
func (d *Dispatcher) Close(ctx context.Context) {
	if d == nil {
		return
	}
	d.once.Do(func() {
		close(d.closing)
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			d.cancel() // abort the attempts in flight: they stay in the outbox
			<-done
		}
		d.cancel()
	})
}

// Match reports whether rule r selects notice n.
func (r *Rule) Match(n *Notice) bool {
	ev := &n.Event
	switch ev.EntityType {
	case event.Country:
		if !slices.Contains(r.Countries, "*") && !slices.ContainsFunc(r.Countries, func(c string) bool { return strings.EqualFold(c, ev.EntityCode) }) {
			return false
		}
	case event.OriginAS:
		if !r.AllASNs && !slices.ContainsFunc(r.ASNs, func(a uint32) bool { return a == 0 || fmt.Sprint(a) == ev.EntityCode }) {
			return false
		}
	case event.Peer:
		if !r.Peers {
			return false
		}
	default:
		return false
	}
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, ev.Kind) {
		return false
	}
	minSev := r.MinSeverity
	if minSev == "" {
		minSev = event.Warning
	}
	if max(1, ev.Severity.Rank()) < minSev.Rank() {
		return false
	}
	if len(r.Notices) > 0 && !slices.Contains(r.Notices, n.Type) {
		return false
	}
	return true
}

func toNotice(n *store.Notice) Notice {
	return Notice{Seq: n.Seq, Type: n.Type, Event: n.Event, Time: n.Time}
}

// wants reports whether notice n goes to sink: some rule naming the sink
// (or every sink) matches it and, if the rule has a rate limit, announces
// its event.
func (d *Dispatcher) wants(sink string, n *store.Notice) bool {
	an := toNotice(n)
	for i := range d.rules {
		r := &d.rules[i]
		if !r.Match(&an) || (len(r.Sinks) > 0 && !slices.Contains(r.Sinks, sink)) {
			continue
		}
		if r.RateLimit != nil && !d.announced(i, n) {
			continue
		}
		return true
	}
	return false
}

// announced applies rule ri's rate limit: it announces at most Max events
// per Per of data time (windows aligned on multiples of Per since the
// zero time), in the order of their first notice the rule matches; the
// other events get no notice from this rule at all (not their end
// either), and the notices of an announced event all go. The answer
// depends only on the outbox, so a restart decides the same.
func (d *Dispatcher) announced(ri int, n *store.Notice) bool {
	d.limMu.Lock()
	defer d.limMu.Unlock()
	if ok, seen := d.lim[ri][n.Key]; seen {
		return ok
	}
	r := &d.rules[ri]
	ctx := d.ctx
	f, err := d.firstMatch(ctx, ri, n.Key)
	if err != nil || f == nil {
		d.opts.Logger.Warn("alert rate limit not applied: the outbox could not be read", "rule", r.Name, "error", err)
		return true
	}
	per := time.Duration(r.RateLimit.Per)
	win := f.Time.Truncate(per)
	others, err := d.opts.Outbox.NoticesIn(ctx, win, win.Add(per))
	if err != nil {
		d.opts.Logger.Warn("alert rate limit not applied: the outbox could not be read", "rule", r.Name, "error", err)
		return true
	}
	counted := map[string]bool{}
	for i := range others {
		o := &others[i]
		if o.Seq >= f.Seq || o.Key == n.Key || counted[o.Key] {
			continue
		}
		if fo, err := d.firstMatch(ctx, ri, o.Key); err == nil && fo != nil && fo.Seq == o.Seq {
			counted[o.Key] = true
		}
	}
	ok := len(counted) < r.RateLimit.Max
	if d.lim[ri] == nil {
		d.lim[ri] = map[string]bool{}
	}
	d.lim[ri][n.Key] = ok
	if !ok {
		d.opts.Logger.Info("alert rate limit: event not announced", "rule", r.Name, "max", r.RateLimit.Max, "per", time.Duration(r.RateLimit.Per),
			"entity_type", n.Event.EntityType, "entity_code", n.Event.EntityCode, "kind", n.Event.Kind, "start", n.Event.Start)
	}
	return ok
}

// firstMatch returns the first notice of the event the rule matches. The
// caller holds limMu.
func (d *Dispatcher) firstMatch(ctx context.Context, ri int, key string) (*store.Notice, error) {
	ns, err := d.opts.Outbox.NoticesOf(ctx, key)
	if err != nil {
		return nil, err
	}
	for i := range ns {
		an := toNotice(&ns[i])
		if d.rules[ri].Match(&an) {
			return &ns[i], nil
		}
	}
	return nil, nil
}

// load is a sink's loader: it reads the notices after the last one read,
// keeps those for the sink, and hands them to the event chains, no more
// than QueueSize outstanding.
func (s *sinkRunner) load() {
	defer s.d.wg.Done()
	t := time.NewTicker(s.d.opts.Poll)
	defer t.Stop()
	ob := s.d.opts.Outbox
	var lastErr string
	for {
		for {
			s.mu.Lock()
			room := s.cfg.QueueSize - len(s.outstanding)
			s.mu.Unlock()
			if room <= 0 {
				break
			}
			page, err := ob.Notices(s.d.ctx, s.after, min(room, 200))
			var handled map[int64]bool
			if err == nil && len(page) > 0 {
				handled, err = ob.Handled(s.d.ctx, s.cfg.Name, s.after, page[len(page)-1].Seq)
			}
			if err != nil {
				if msg := err.Error(); msg != lastErr && s.d.ctx.Err() == nil {
					s.d.opts.Logger.Error("alerts: the outbox could not be read; will retry", "sink", s.cfg.Name, "error", err)
					lastErr = msg
				}
				break
			}
			lastErr = ""
			for i := range page {
				n := &page[i]
				s.after = n.Seq
				if handled[n.Seq] || !s.d.wants(s.cfg.Name, n) {
					continue
				}
				s.enqueue(n)
			}
			if len(page) < min(room, 200) {
				break
			}
		}
		s.advance()
		select {
		case <-s.wake:
		case <-s.free:
		case <-t.C:
		case <-s.d.closing:
			return
		}
	}
}

func (s *sinkRunner) enqueue(n *store.Notice) {
	an := toNotice(n)
	m := &message{notice: an, key: n.Key, text: Text(&an)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outstanding[n.Seq] = true
	q := s.chains[n.Key]
	s.chains[n.Key] = append(q, m)
	if len(q) == 0 {
		s.d.wg.Add(1)
		go s.chain(n.Key)
	}
}

// advance records how far every notice is handled. Only the loader calls it.
func (s *sinkRunner) advance() {
	s.mu.Lock()
	done := s.after
	for seq := range s.outstanding {
		done = min(done, seq-1)
	}
	s.mu.Unlock()
	if done <= s.done {
		return
	}
	if err := s.d.opts.Outbox.SetSinkDone(s.d.ctx, s.cfg.Name, done); err == nil {
		s.done = done
	}
}

// chain delivers one event's notices in order, then ends.
func (s *sinkRunner) chain(key string) {
	defer s.d.wg.Done()
	for {
		s.mu.Lock()
		q := s.chains[key]
		if len(q) == 0 {
			delete(s.chains, key)
			s.mu.Unlock()
			return
		}
		m := q[0]
		s.mu.Unlock()
		d, ok := s.deliverWithRetries(m, 0)
		if !ok {
			return // shutting down: stays in the outbox
		}
		s.record(d)
		s.mu.Lock()
		s.chains[key] = s.chains[key][1:]
		delete(s.outstanding, m.notice.Seq)
		s.mu.Unlock()
		select {
		case s.free <- struct{}{}:
		default:
		}
	}
}

// record writes what became of a delivery, retrying while the store
// fails (until shutdown: then the notice is sent again after a restart).
func (s *sinkRunner) record(d store.Delivery) {
	wait := 100 * time.Millisecond
	for {
		err := s.d.opts.Outbox.RecordDelivery(context.WithoutCancel(s.d.ctx), d)
		if err == nil {
			return
		}
		s.d.opts.Logger.Error("alerts: delivery not recorded; will retry", "sink", d.Sink, "seq", d.Seq, "error", err)
		select {
		case <-time.After(wait):
		case <-s.d.closing:
			return
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// errPermanent marks a failure that retrying will not fix.
type errPermanent struct{ error }

// deliverWithRetries delivers m with the sink's retries; prior counts
// the attempts made before (a resend). ok is false when it stopped for a
// shutdown before the alert was delivered or given up on.
func (s *sinkRunner) deliverWithRetries(m *message, prior int) (d store.Delivery, ok bool) {
	backoff := time.Duration(s.cfg.Backoff)
	d = store.Delivery{Seq: m.notice.Seq, Sink: s.cfg.Name}
	for attempts := 1; ; attempts++ {
		if s.d.ctx.Err() != nil {
			return d, false
		}
		// A slot for the attempt only: an alert waiting to retry holds
		// none, so it never holds back the other events' alerts.
		select {
		case s.sem <- struct{}{}:
		case <-s.d.closing:
			return d, false
		}
		err := s.deliver(m)
		<-s.sem
		if s.d.opts.Delivered != nil {
			s.d.opts.Delivered(s.cfg.Name, err)
		}
		d.Attempts, d.Time = prior+attempts, s.d.opts.Now()
		if err == nil {
			d.State = store.Delivered
			return d, true
		}
		if s.d.ctx.Err() != nil {
			return d, false
		}
		var perm errPermanent
		if errors.As(err, &perm) || attempts >= s.cfg.MaxAttempts {
			d.State, d.Error = store.Dead, err.Error()
			s.d.opts.Logger.Warn("alert not delivered", "sink", s.cfg.Name, "seq", d.Seq, "error", err, "attempts", d.Attempts, "text", m.text)
			if s.d.opts.Dead != nil {
				s.d.opts.Dead(s.cfg.Name)
			}
			return d, true
		}
		s.d.opts.Logger.Info("alert delivery failed; will retry", "sink", s.cfg.Name, "seq", d.Seq, "attempt", attempts, "in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-s.d.closing:
			return d, false
		}
		backoff = min(backoff*2, time.Duration(s.cfg.MaxBackoff))
	}
}

// Payload returns the body sent to a sink of type typ.
func Payload(typ string, n *Notice) []byte {
	text := Text(n)
	var v any
	switch typ {
	case "slack":
		v = map[string]string{"text": text}
	case "log":
		return []byte(text)
	default:
		v = struct {
			Seq   int64            `json:"seq"`
			Type  event.NoticeType `json:"type"`
			Text  string           `json:"text"`
			Time  time.Time        `json:"time"`
			Event *event.Event     `json:"event"`
		}{n.Seq, n.Type, text, n.Time, &n.Event}
	}
	b, _ := json.Marshal(v)
	return b
}

// Sign returns the value of the X-Blackout-Signature header of a webhook
// body sent at ts (the X-Blackout-Timestamp header, unix seconds):
// "sha256=" and the hex HMAC-SHA256, keyed by the secret, of the
// timestamp, a dot and the body.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook delivery as a receiver should: the signature
// must match the timestamp and the body, and the timestamp must be within
// tolerance of now (an old delivery replayed is rejected).
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("X-Blackout-Timestamp %q: not unix seconds", timestamp)
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return errors.New("X-Blackout-Signature does not match the timestamp and body")
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("X-Blackout-Timestamp is %v away from now (tolerance %v): a replay?", age.Round(time.Second), tolerance)
	}
	return nil
}

func (s *sinkRunner) deliver(m *message) error {
	if s.cfg.Type == "log" {
		ev := &m.notice.Event
		s.d.opts.Logger.Info("alert", "sink", s.cfg.Name, "seq", m.notice.Seq, "notice", m.notice.Type, "entity_type", ev.EntityType,
			"entity_code", ev.EntityCode, "kind", ev.Kind, "severity", ev.Severity, "event_id", ev.ID, "text", m.text)
		return nil
	}
	body := Payload(s.cfg.Type, &m.notice)
	ctx, cancel := context.WithTimeout(s.d.ctx, time.Duration(s.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return errPermanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "blackout-alert")
	if s.cfg.Type == "webhook" {
		req.Header.Set("X-Blackout-Notice", string(m.notice.Type))
		req.Header.Set("X-Blackout-Delivery", strconv.FormatInt(m.notice.Seq, 10))
		if s.cfg.Secret != "" {
			ts := s.d.opts.Now().Unix()
			req.Header.Set("X-Blackout-Timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("X-Blackout-Signature", Sign(s.cfg.Secret, ts, body))
		}
	}
	resp, err := s.d.opts.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("HTTP %s", resp.Status)
	default:
		return errPermanent{fmt.Errorf("HTTP %s", resp.Status)}
	}
}

// Resend delivers a dead letter once more to its sink (with the sink's
// retries) and records the outcome: delivered, or dead again with the
// attempts added up. The dispatcher need not be started.
func (d *Dispatcher) Resend(ctx context.Context, dl store.DeadLetter) (store.Delivery, error) {
	s := d.byName[dl.Sink]
	if s == nil {
		return store.Delivery{}, fmt.Errorf("dead letter %d: sink %q is not in the configuration", dl.Seq, dl.Sink)
	}
	stop := context.AfterFunc(ctx, d.cancel)
	defer stop()
	n := toNotice(&dl.Notice)
	del, ok := s.deliverWithRetries(&message{notice: n, key: dl.Notice.Key, text: Text(&n)}, dl.Attempts)
	if !ok {
		return del, fmt.Errorf("dead letter %d: %w", dl.Seq, context.Cause(ctx))
	}
	if err := d.opts.Outbox.RecordDelivery(context.WithoutCancel(ctx), del); err != nil {
		return del, err
	}
	return del, nil
}
