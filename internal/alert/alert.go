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
	"strings"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Notice is an event change to tell about. Event is a snapshot the
// dispatcher may keep.
type Notice struct {
	Type  event.NoticeType
	Event event.Event
	Time  time.Time // data time of the change
}

// DeadLetter is an alert that was not delivered.
type DeadLetter struct {
	Sink     string
	Payload  []byte
	Error    string
	Attempts int
}

// Options are the dispatcher's connections to the rest of the program.
type Options struct {
	Logger     *slog.Logger
	DeadLetter func(DeadLetter)             // may be nil
	Delivered  func(sink string, err error) // after every attempt; may be nil
	Client     *http.Client                 // default: a client without timeout (each attempt has its own)
}

// Dispatcher matches notices against the rules and queues them to sinks.
type Dispatcher struct {
	rules   []Rule
	workers map[string]*worker
	order   []string
	opts    Options
	// mu makes Close's closing of the queues exclusive with Notify's
	// sends: Notify sends (without blocking) under the read lock, Close
	// sets closed and closes the queues under the write lock.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{}   // closed by Close: workers stop backing off
	ctx     context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

type message struct {
	notice  Notice
	payload []byte
	text    string
}

type worker struct {
	cfg   SinkConfig
	queue chan *message
	d     *Dispatcher
}

// New starts a dispatcher with one worker per sink.
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
	d := &Dispatcher{rules: cfg.Rules, workers: map[string]*worker{}, opts: opts, closing: make(chan struct{})}
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
		w := &worker{cfg: s, queue: make(chan *message, s.QueueSize), d: d}
		d.workers[s.Name] = w
		d.order = append(d.order, s.Name)
		d.wg.Add(1)
		go w.run()
	}
	return d, nil
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

// Notify queues n to the sinks of every matching rule. It never waits for
// a sink: when a sink's queue is full, or once Close has begun, the alert
// goes to the dead letters. It is safe to call from any goroutine, during
// and after Close.
func (d *Dispatcher) Notify(n Notice) {
	if d == nil {
		return
	}
	sinks := map[string]bool{}
	for i := range d.rules {
		r := &d.rules[i]
		if !r.Match(&n) {
			continue
		}
		if len(r.Sinks) == 0 {
			for _, s := range d.order {
				sinks[s] = true
			}
		}
		for _, s := range r.Sinks {
			sinks[s] = true
		}
	}
	if len(sinks) == 0 {
		return
	}
	text := Text(&n)
	type undelivered struct {
		w      *worker
		m      *message
		reason string
	}
	var dead []undelivered
	msgs := make([]*message, len(d.order))
	for i, name := range d.order {
		if sinks[name] {
			msgs[i] = &message{notice: n, text: text, payload: d.workers[name].payload(&n, text)}
		}
	}
	d.mu.RLock()
	for i, name := range d.order {
		m := msgs[i]
		if m == nil {
			continue
		}
		w := d.workers[name]
		if d.closed {
			dead = append(dead, undelivered{w, m, "shutting down"})
			continue
		}
		select {
		case w.queue <- m:
		default:
			dead = append(dead, undelivered{w, m, "queue full"})
		}
	}
	d.mu.RUnlock()
	// Outside the lock: a dead letter may be written to disk.
	for _, x := range dead {
		d.dead(x.w, x.m, x.reason, 0)
	}
}

func (d *Dispatcher) dead(w *worker, m *message, reason string, attempts int) {
	d.opts.Logger.Warn("alert not delivered", "sink", w.cfg.Name, "error", reason, "attempts", attempts, "text", m.text)
	if d.opts.DeadLetter != nil {
		d.opts.DeadLetter(DeadLetter{Sink: w.cfg.Name, Payload: m.payload, Error: reason, Attempts: attempts})
	}
}

// Close stops accepting notices and gives the workers until ctx is done to
// deliver what is queued (one attempt each, no more backoff); what is left
// goes to the dead letters.
func (d *Dispatcher) Close(ctx context.Context) {
	if d == nil {
		return
	}
	d.once.Do(func() {
		// No Notify is between its check of closed and its send while
		// the write lock is held, so none sends on a closed queue.
		d.mu.Lock()
		d.closed = true
		close(d.closing)
		for _, w := range d.workers {
			close(w.queue)
		}
		d.mu.Unlock()
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			d.cancel() // abort attempts in flight; the rest go to the dead letters
			<-done
		}
		d.cancel()
	})
}

func (w *worker) payload(n *Notice, text string) []byte {
	var v any
	switch w.cfg.Type {
	case "slack":
		v = map[string]string{"text": text}
	case "log":
		return []byte(text)
	default:
		v = struct {
			Type  event.NoticeType `json:"type"`
			Text  string           `json:"text"`
			Time  time.Time        `json:"time"`
			Event *event.Event     `json:"event"`
		}{n.Type, text, n.Time, &n.Event}
	}
	b, _ := json.Marshal(v)
	return b
}

// Sign returns the value of the X-Blackout-Signature header for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// errPermanent marks a failure that retrying will not fix.
type errPermanent struct{ error }

func (w *worker) run() {
	defer w.d.wg.Done()
	for m := range w.queue {
		w.deliverWithRetries(m)
	}
}

func (w *worker) deliverWithRetries(m *message) {
	backoff := time.Duration(w.cfg.Backoff)
	var err error
	attempts := 0
	for attempts < w.cfg.MaxAttempts {
		if w.d.ctx.Err() != nil {
			if err == nil {
				err = errors.New("not attempted")
			}
			w.d.dead(w, m, "shutting down: "+err.Error(), attempts)
			return
		}
		attempts++
		err = w.deliver(m)
		if w.d.opts.Delivered != nil {
			w.d.opts.Delivered(w.cfg.Name, err)
		}
		if err == nil {
			return
		}
		var perm errPermanent
		if errors.As(err, &perm) || attempts >= w.cfg.MaxAttempts {
			break
		}
		w.d.opts.Logger.Info("alert delivery failed; will retry", "sink", w.cfg.Name, "attempt", attempts, "in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-w.d.closing:
			w.d.dead(w, m, "shutting down after: "+err.Error(), attempts)
			return
		}
		backoff = min(backoff*2, time.Duration(w.cfg.MaxBackoff))
	}
	w.d.dead(w, m, err.Error(), attempts)
}

func (w *worker) deliver(m *message) error {
	if w.cfg.Type == "log" {
		ev := &m.notice.Event
		w.d.opts.Logger.Info("alert", "sink", w.cfg.Name, "notice", m.notice.Type, "entity_type", ev.EntityType,
			"entity_code", ev.EntityCode, "kind", ev.Kind, "severity", ev.Severity, "event_id", ev.ID, "text", m.text)
		return nil
	}
	ctx, cancel := context.WithTimeout(w.d.ctx, time.Duration(w.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(m.payload))
	if err != nil {
		return errPermanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "blackout-alert")
	if w.cfg.Type == "webhook" {
		req.Header.Set("X-Blackout-Notice", string(m.notice.Type))
		if w.cfg.Secret != "" {
			req.Header.Set("X-Blackout-Signature", Sign(w.cfg.Secret, m.payload))
		}
	}
	resp, err := w.d.opts.Client.Do(req)
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
