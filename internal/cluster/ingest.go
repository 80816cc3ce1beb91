package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/source"
)

// StreamConfig is the route stream's configuration, its events in
// partitions partitions (0: DefaultPartitions; its metadata says so).
func StreamConfig(replicas, partitions int, maxAge time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: StreamName, Subjects: []string{SubjectRoute + ".>", "bo.ctl.>"},
		Replicas: max(replicas, 1), Storage: jetstream.FileStorage, MaxAge: maxAge, Duplicates: 2 * time.Minute,
		Metadata: map[string]string{MetaPartitioning: Partitioning(partitions)}}
}

// IngestConfig configures the ingest role.
type IngestConfig struct {
	Source source.Source
	// Describe names the source (files and sizes, "demo"). For a replay
	// it identifies the source across restarts: an ingest restarted over
	// the same source goes on after the last event the stream holds; over
	// another source it stops with an error.
	Describe string
	// Replay marks a finite, deterministic source (the demo, MRT files):
	// the stream gets an end-of-source mark after its last event, and a
	// restart resumes by position. Live sources are not resumed.
	Replay     bool
	Speed      float64 // data seconds per wall second; 0 for no pacing
	Partitions int     // default DefaultPartitions
	Replicas   int     // of the stream (1 for a bus node alone, 3 for a cluster)
	MaxAge     time.Duration
	OnError    func(error) // skippable source errors (the source goes on)
	Logf       func(format string, args ...any)
	// Window is the number of publishes in flight (default 2048).
	Window int
}

// IngestResult is what an ingest run did.
type IngestResult struct {
	Published int64 // route events published by this run
	Skipped   int64 // route events an earlier run had published
	Retries   int64 // publishes sent again after a failure
}

// digest identifies a source description in message ids.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

type pending struct {
	msg *nats.Msg
	n   int64 // its position in the source
	ack jetstream.PubAckFuture
}

// publisher publishes in order with a window of asynchronous publishes.
// Every message carries the stream sequence it must follow (expected last
// sequence): the stream stores the messages in exactly the order of the
// source, once each, or refuses them. After any failure (a leader lost in
// the middle of the window) the publisher reads the stream's last message,
// whose position header says how far the stream got, and sends the rest
// again, in order.
type publisher struct {
	js      jetstream.JetStream
	st      jetstream.Stream
	window  int
	tag     string // this source's HeaderSource
	lastSeq uint64 // the stream sequence of the last message sent
	pend    []pending
	retries int64
}

func (p *publisher) publish(ctx context.Context, m *nats.Msg, n int64) error {
	ack, err := p.js.PublishMsgAsync(m, jetstream.WithExpectLastSequence(p.lastSeq))
	if err != nil {
		// Too many in flight or disconnected: keep it, and recover.
		p.pend = append(p.pend, pending{msg: m, n: n})
		return p.recover(ctx)
	}
	p.pend = append(p.pend, pending{msg: m, n: n, ack: ack})
	p.lastSeq++
	// A sliding window: wait for the oldest only, so that the pipe stays
	// full.
	for len(p.pend) >= p.window {
		select {
		case <-p.pend[0].ack.Ok():
			p.pend = p.pend[1:]
		case <-p.pend[0].ack.Err():
			return p.recover(ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return p.recover(ctx)
		}
	}
	return nil
}

// flush waits for every pending publish.
func (p *publisher) flush(ctx context.Context) error {
	for len(p.pend) > 0 {
		if p.pend[0].ack == nil {
			return p.recover(ctx)
		}
		select {
		case <-p.pend[0].ack.Ok():
			p.pend = p.pend[1:]
		case <-p.pend[0].ack.Err():
			return p.recover(ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return p.recover(ctx)
		}
	}
	return nil
}

// position reads the stream's last sequence and the source position of
// its last message (0 if none).
func (p *publisher) position(ctx context.Context) (last *jetstream.RawStreamMsg, err error) {
	err = bus.Retry(ctx, "last message of "+StreamName, func(ctx context.Context) error {
		info, err := p.st.Info(ctx)
		if err != nil {
			return err
		}
		p.lastSeq, last = info.State.LastSeq, nil
		if info.State.Msgs == 0 {
			return nil
		}
		last, err = p.st.GetMsg(ctx, info.State.LastSeq)
		return err
	})
	return last, err
}

// recover waits for the publishes in flight, finds how far the stream
// got, and sends the rest one by one.
func (p *publisher) recover(ctx context.Context) error {
	for {
		// Wait (at most 15 s in all) for what is in flight to settle, so
		// that it cannot land after the messages sent below.
		deadline := time.After(15 * time.Second)
	wait:
		for _, q := range p.pend {
			if q.ack == nil {
				continue
			}
			select {
			case <-q.ack.Ok():
			case <-q.ack.Err():
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline:
				break wait
			}
		}
		last, err := p.position(ctx)
		if err != nil {
			return err
		}
		var stored int64
		if last != nil && last.Header.Get(HeaderSource) == p.tag {
			stored, _ = strconv.ParseInt(last.Header.Get(HeaderSeq), 10, 64)
		}
		for len(p.pend) > 0 && p.pend[0].n <= stored {
			p.pend = p.pend[1:]
		}
		failed := false
		for len(p.pend) > 0 && !failed {
			q := p.pend[0]
			p.retries++
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			// A copy: the client takes a message only once.
			ack, err := p.js.PublishMsg(actx, &nats.Msg{Subject: q.msg.Subject, Header: q.msg.Header, Data: q.msg.Data}, jetstream.WithExpectLastSequence(p.lastSeq))
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed = true
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
			p.lastSeq = ack.Sequence
			p.pend = p.pend[1:]
		}
		if !failed {
			return nil
		}
		for i := range p.pend {
			p.pend[i].ack = nil
		}
	}
}

// Ingest publishes the source's route events to the route stream until
// the source ends (then, for a replay, the end mark) or ctx is done.
func Ingest(ctx context.Context, js jetstream.JetStream, cfg IngestConfig) (IngestResult, error) {
	var res IngestResult
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Window <= 0 {
		cfg.Window = 2048
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// A stream that holds events partitioned otherwise is refused before
	// the configuration (and its metadata) is updated.
	if old, err := js.Stream(ctx, StreamName); err == nil {
		if err := checkPartitioning(old, cfg.Partitions, "ingest"); err != nil {
			return res, err
		}
	}
	st, err := bus.EnsureStream(ctx, js, StreamConfig(cfg.Replicas, cfg.Partitions, cfg.MaxAge))
	if err != nil {
		return res, err
	}
	tag := digest(cfg.Describe)
	if !cfg.Replay {
		tag = digest(cfg.Describe + time.Now().String()) // a live run's ids are its own
	}
	p := &publisher{js: js, st: st, window: cfg.Window, tag: tag}
	// Where an earlier run stopped.
	var skip int64
	last, err := p.position(ctx)
	if err != nil {
		return res, err
	}
	if last != nil && cfg.Replay {
		if src := last.Header.Get(HeaderSource); src != tag {
			return res, fmt.Errorf("ingest: the stream %s holds the events of another source (%s, not %s = %s): give the bus a new --dir, or purge the stream", StreamName, src, tag, cfg.Describe)
		}
		if last.Subject == SubjectEOF {
			logf("the stream already holds all of %s (%s); nothing to publish", cfg.Describe, tag)
			return res, nil
		}
		skip, _ = strconv.ParseInt(last.Header.Get(HeaderSeq), 10, 64)
		logf("resuming %s after event %d, which the stream holds", cfg.Describe, skip)
	}
	var n int64
	var wallStart, dataStart time.Time
	for {
		ev, err := cfg.Source.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if source.Skippable(err) {
				if cfg.OnError != nil {
					cfg.OnError(err)
				}
				continue
			}
			// What was read before the failure goes out first, so that
			// a restart resumes right after it.
			if ferr := p.flush(ctx); ferr != nil {
				return res, fmt.Errorf("ingest: %w (and publishing what came before: %v)", err, ferr)
			}
			res.Retries = p.retries
			return res, fmt.Errorf("ingest: %w", err)
		}
		n++
		if n <= skip {
			res.Skipped++
			continue
		}
		if cfg.Speed > 0 {
			if wallStart.IsZero() {
				wallStart, dataStart = time.Now(), ev.Time
			}
			if d := time.Until(wallStart.Add(time.Duration(float64(ev.Time.Sub(dataStart)) / cfg.Speed))); d > time.Millisecond {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return res, ctx.Err()
				}
			}
		}
		data, err := Encode(ev)
		if err != nil {
			return res, fmt.Errorf("ingest: event %d: %w", n, err)
		}
		m := &nats.Msg{Subject: SubjectRoute + "." + strconv.Itoa(Partition(ev.Peer, cfg.Partitions)), Data: data,
			Header: nats.Header{HeaderSeq: []string{strconv.FormatInt(n, 10)}, HeaderSource: []string{tag}}}
		if err := p.publish(ctx, m, n); err != nil {
			return res, fmt.Errorf("ingest: event %d: %w", n, err)
		}
		res.Published++
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	if err := p.flush(ctx); err != nil {
		return res, err
	}
	if cfg.Replay {
		n++
		m := &nats.Msg{Subject: SubjectEOF, Header: nats.Header{HeaderSeq: []string{strconv.FormatInt(n, 10)}, HeaderSource: []string{tag}}}
		p.pend = append(p.pend, pending{msg: m, n: n})
		retries := p.retries
		if err := p.recover(ctx); err != nil {
			return res, err
		}
		p.retries = retries + max(p.retries-retries-1, 0) // the mark's own send is no retry
	}
	res.Retries = p.retries
	return res, nil
}
