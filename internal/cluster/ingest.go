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

// StreamConfig is the route stream's configuration.
func StreamConfig(replicas int, maxAge time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: StreamName, Subjects: []string{SubjectRoute + ".>", "bo.ctl.>"},
		Replicas: max(replicas, 1), Storage: jetstream.FileStorage, MaxAge: maxAge, Duplicates: 2 * time.Minute}
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
	msg      *nats.Msg
	id, prev string // its id and the id of the message before it
	ack      jetstream.PubAckFuture
}

// publisher publishes in order with a window of asynchronous publishes.
// Every message carries a message id (for the stream's deduplication) and
// the id of the message before it as the expected last message id, so
// that the stream stores them in exactly the order of the source even
// when a publish fails in the middle of the window (the later ones are
// then refused, and all are sent again, in order).
type publisher struct {
	js      jetstream.JetStream
	window  int
	prevID  string
	pend    []pending
	retries int64
}

func (p *publisher) publish(ctx context.Context, m *nats.Msg, id string) error {
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(id)}
	if p.prevID != "" {
		opts = append(opts, jetstream.WithExpectLastMsgID(p.prevID))
	}
	ack, err := p.js.PublishMsgAsync(m, opts...)
	if err != nil {
		// Too many in flight or disconnected: settle what is pending
		// and send this one synchronously.
		if err := p.settle(ctx); err != nil {
			return err
		}
		if err := p.sendSync(ctx, m, id, p.prevID); err != nil {
			return err
		}
		p.prevID = id
		return nil
	}
	p.pend = append(p.pend, pending{msg: m, id: id, prev: p.prevID, ack: ack})
	p.prevID = id
	// A sliding window: wait for the oldest only, so that the pipe stays
	// full; on a failure, settle all.
	for len(p.pend) >= p.window {
		select {
		case <-p.pend[0].ack.Ok():
			p.pend = p.pend[1:]
		case <-p.pend[0].ack.Err():
			return p.settle(ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return p.settle(ctx)
		}
	}
	return nil
}

// settle waits for the pending publishes; from the first that failed on,
// it sends them again in order.
func (p *publisher) settle(ctx context.Context) error {
	failed := -1
	for i, q := range p.pend {
		select {
		case <-q.ack.Ok():
		case <-q.ack.Err():
			if failed < 0 {
				failed = i
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			if failed < 0 {
				failed = i
			}
		}
	}
	if failed >= 0 {
		for _, q := range p.pend[failed:] {
			p.retries++
			if err := p.sendSync(ctx, q.msg, q.id, q.prev); err != nil {
				return err
			}
		}
	}
	p.pend = nil
	return nil
}

func (p *publisher) sendSync(ctx context.Context, m *nats.Msg, id, prev string) error {
	return bus.Retry(ctx, "publish "+id, func(ctx context.Context) error {
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(id)}
		if prev != "" {
			opts = append(opts, jetstream.WithExpectLastMsgID(prev))
		}
		// A copy: the client takes a message only once.
		c := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
		_, err := p.js.PublishMsg(ctx, c, opts...)
		return err
	})
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
	st, err := bus.EnsureStream(ctx, js, StreamConfig(cfg.Replicas, cfg.MaxAge))
	if err != nil {
		return res, err
	}
	tag := digest(cfg.Describe)
	if !cfg.Replay {
		tag = digest(cfg.Describe + time.Now().String()) // a live run's ids are its own
	}
	p := &publisher{js: js, window: cfg.Window}
	// Where an earlier run stopped.
	var skip int64
	var last *jetstream.RawStreamMsg
	err = bus.Retry(ctx, "last message", func(ctx context.Context) error {
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs == 0 {
			last = nil
			return nil
		}
		last, err = st.GetMsg(ctx, info.State.LastSeq)
		return err
	})
	if err != nil {
		return res, err
	}
	if last != nil {
		p.prevID = last.Header.Get(nats.MsgIdHdr)
		if cfg.Replay {
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
		id := tag + "-" + strconv.FormatInt(n, 10)
		m := &nats.Msg{Subject: SubjectRoute + "." + strconv.Itoa(Partition(ev.Peer, cfg.Partitions)), Data: data,
			Header: nats.Header{HeaderSeq: []string{strconv.FormatInt(n, 10)}, HeaderSource: []string{tag}}}
		if err := p.publish(ctx, m, id); err != nil {
			return res, fmt.Errorf("ingest: event %d: %w", n, err)
		}
		res.Published++
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	if err := p.settle(ctx); err != nil {
		return res, err
	}
	res.Retries = p.retries
	if cfg.Replay {
		m := &nats.Msg{Subject: SubjectEOF, Header: nats.Header{HeaderSeq: []string{strconv.FormatInt(n, 10)}, HeaderSource: []string{tag}}}
		if err := p.sendSync(ctx, m, tag+"-eof", p.prevID); err != nil {
			return res, err
		}
	}
	return res, nil
}
