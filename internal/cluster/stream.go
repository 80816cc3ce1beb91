package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
)

// streamSource is the route stream read from the start, in stream order,
// as a source.Source: an ordered consumer, re-created after the last
// sequence seen when the bus fails over. It ends with io.EOF at the
// end-of-source mark of a replay, and with ctx's error when ctx is done.
type streamSource struct {
	ctx     context.Context
	st      jetstream.Stream
	filter  []string
	watched // the consumer; its prog.seen is lastSeq
	lastSeq uint64
	subject string // of the message at lastSeq
	read    int    // messages taken (route events and marks)
	ev      bgp.Event
	dec     eventDecoder // ev's attributes, reused (an event stays valid until the next call)
	// Resets counts the consumers created again after an error; stalls
	// those stopped by the watchdog.
	resets int
	stalls atomic.Int64
	reach  atomic.Pointer[reachHook] // set by onReach, from any goroutine
}

// reachHook is a function called once, when a source has read the
// stream's message at seq or a later one.
type reachHook struct {
	seq uint64
	f   func()
}

// onReach calls f once the source has read the stream's message at
// sequence seq or a later one (at once if it has): a new holder's
// re-read has caught up with the stream as it was at its takeover. It
// may be called from another goroutine than Next's.
func (s *streamSource) onReach(seq uint64, f func()) {
	h := &reachHook{seq: seq, f: f}
	s.reach.Store(h)
	if s.prog.seen.Load() >= seq {
		s.fire(h)
	}
}

func (s *streamSource) fire(h *reachHook) {
	if s.reach.CompareAndSwap(h, nil) {
		h.f()
	}
}

// openStream waits for the route stream to exist (the ingest role creates
// it) and returns a source over it.
func openStream(ctx context.Context, js jetstream.JetStream) (*streamSource, error) {
	var st jetstream.Stream
	err := bus.Retry(ctx, "stream "+StreamName, func(ctx context.Context) error {
		var err error
		st, err = js.Stream(ctx, StreamName)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &streamSource{ctx: ctx, st: st, filter: []string{SubjectRoute + ".>", SubjectEOF}}, nil
}

func (s *streamSource) consume() error {
	return bus.Retry(s.ctx, "consumer on "+StreamName, func(ctx context.Context) error {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: s.filter, DeliverPolicy: jetstream.DeliverAllPolicy}
		if s.lastSeq > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, s.lastSeq+1
		}
		c, err := s.st.OrderedConsumer(ctx, cfg)
		if err != nil {
			return err
		}
		it, err := c.Messages(jetstream.PullMaxMessages(2048), jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second))
		if err != nil {
			return err
		}
		s.watch(s.ctx, it, stallAfter, func(ctx context.Context, seq uint64) bool { return holdsLater(ctx, s.st, s.filter, seq) }, &s.stalls)
		return nil
	})
}

// Next implements source.Source.
func (s *streamSource) Next() (*bgp.Event, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if s.it == nil {
			if err := s.consume(); err != nil {
				return nil, err
			}
		}
		m, err := s.next()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			// A failover or a lost connection: start again after the
			// last message seen.
			s.drop()
			s.resets++
			select {
			case <-s.ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("route stream: %w", err)
		}
		if meta.Sequence.Stream <= s.lastSeq {
			continue // seen before a reset
		}
		s.lastSeq, s.subject = meta.Sequence.Stream, m.Subject()
		s.prog.seen.Store(s.lastSeq)
		s.read++
		if h := s.reach.Load(); h != nil && s.lastSeq >= h.seq {
			s.fire(h)
		}
		if m.Subject() == SubjectEOF {
			return nil, io.EOF
		}
		ev, err := decodeEvent(m.Data(), &s.dec)
		if err != nil {
			return nil, skippable{fmt.Errorf("route stream message %d: %w", meta.Sequence.Stream, err)}
		}
		s.ev = ev
		return &s.ev, nil
	}
}

// stallAfter is how long a consumer may deliver nothing while its
// stream holds a later message for it before it is taken for stalled.
const stallAfter = 5 * time.Second

// progress is what a consumer's reader has taken, and whether it is
// waiting for more, for watchStall.
type progress struct {
	seen    atomic.Uint64 // the stream sequence of the last message taken
	waiting atomic.Int64  // since when the reader waits in Next (UnixNano; 0: it does not)
}

// watched is a consumer's iterator under watchStall, and what its reader
// has taken (kept across iterators: a new one starts after it).
type watched struct {
	it   jetstream.MessagesContext // nil: none at the moment
	quit chan struct{}             // closed when it is given up (ends its watchStall)
	prog progress
}

// watch makes it the current iterator and starts its watchStall.
func (w *watched) watch(ctx context.Context, it jetstream.MessagesContext, after time.Duration, later func(context.Context, uint64) bool, stalls *atomic.Int64) {
	w.it, w.quit = it, make(chan struct{})
	go watchStall(ctx, w.quit, it, after, &w.prog, later, stalls)
}

// next waits for the iterator's next message, marked as waiting meanwhile.
func (w *watched) next() (jetstream.Msg, error) {
	w.prog.waiting.Store(time.Now().UnixNano())
	defer w.prog.waiting.Store(0)
	return w.it.Next()
}

// drop gives the current iterator up.
func (w *watched) drop() {
	w.it.Stop()
	w.it = nil
	close(w.quit)
}

// watchStall stops it when ctx is done (Next has no context), and when
// it stalls: its reader has waited in Next for more than after while
// later says the stream holds a message for it after the last one taken
// (a consumer left on a node that lost the stream's leadership, or on a
// dead one). A reader busy elsewhere, not asking, is not stalled. Its
// Next then fails, and the reader creates a consumer again after the
// last message it took. It returns when quit is closed (the reader has
// given the consumer up).
func watchStall(ctx context.Context, quit <-chan struct{}, it jetstream.MessagesContext, after time.Duration, p *progress, later func(context.Context, uint64) bool, stalls *atomic.Int64) {
	t := time.NewTicker(after / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			it.Stop()
			return
		case <-quit:
			return
		case <-t.C:
		}
		w := p.waiting.Load()
		if w == 0 || time.Since(time.Unix(0, w)) < after {
			continue
		}
		if later(ctx, p.seen.Load()) {
			stalls.Add(1)
			it.Stop()
			return
		}
	}
}

// holdsLater says whether st holds a message after seq on one of
// subjects: each subject's last message, or, with a wildcard among them,
// the stream's last of any subject.
func holdsLater(ctx context.Context, st jetstream.Stream, subjects []string, seq uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, subj := range subjects {
		if strings.ContainsAny(subj, "*>") {
			info, err := st.Info(ctx)
			return err == nil && info.State.LastSeq > seq
		}
	}
	for _, subj := range subjects {
		if m, err := st.GetLastMsgForSubject(ctx, subj); err == nil && m.Sequence > seq {
			return true
		}
	}
	return false
}

// Close stops the consumer.
func (s *streamSource) Close() {
	if s.it != nil {
		s.drop()
	}
}

// skippable marks a bad message: the stream goes on after it.
type skippable struct{ error }

func (skippable) Skippable() bool { return true }
func (e skippable) Unwrap() error { return e.error }
