package cluster

import (
	"context"
	"fmt"
	"io"
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
	it      jetstream.MessagesContext
	lastSeq uint64
	subject string        // of the message at lastSeq
	seen    atomic.Uint64 // lastSeq, for the watchdog
	read    int           // messages taken (route events and marks)
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
	if s.seen.Load() >= seq {
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
		s.it = it
		go s.watch(it)
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
		m, err := s.it.Next()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			// A failover or a lost connection: start again after the
			// last message seen.
			s.it.Stop()
			s.it = nil
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
		s.seen.Store(s.lastSeq)
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

// watch stops it when ctx is done (Next has no context), and when it
// stalls: no message for 5 s while the stream holds later ones (a
// consumer left on a node that lost the stream's leadership). Next then
// creates a consumer again after the last message seen.
func (s *streamSource) watch(it jetstream.MessagesContext) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	last := s.seen.Load()
	for {
		select {
		case <-s.ctx.Done():
			it.Stop()
			return
		case <-t.C:
		}
		now := s.seen.Load()
		if now != last {
			last = now
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		info, err := s.st.Info(ctx)
		cancel()
		if err == nil && info.State.LastSeq > now {
			s.stalls.Add(1)
			it.Stop()
			return
		}
	}
}

// Close stops the consumer.
func (s *streamSource) Close() {
	if s.it != nil {
		s.it.Stop()
		s.it = nil
	}
}

// skippable marks a bad message: the stream goes on after it.
type skippable struct{ error }

func (skippable) Skippable() bool { return true }
func (e skippable) Unwrap() error { return e.error }
