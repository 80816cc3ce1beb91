package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// writeNotice adds op's notice to the outbox unless it is there already,
// and sets its Seq (0 when it was), as the SQLite store does.
func writeNotice(ctx context.Context, tx pgx.Tx, op store.EventOp, id, now int64) error {
	n := op.Notice
	n.Seq = 0
	ev := n.Event
	if ev.ID == 0 {
		ev.ID = int(id)
	}
	js, err := json.Marshal(&ev)
	if err != nil {
		return fmt.Errorf("notice %s: %w", n.Type, err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO notices (ekey, type, time, event_id, json, created) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (ekey, type, time) DO NOTHING RETURNING seq`,
		store.KeyString(op.Key), string(n.Type), nanos(n.Time), ev.ID, string(js), now).Scan(&n.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // stored by an earlier run
	}
	if err != nil {
		return fmt.Errorf("notice %s: %w", n.Type, err)
	}
	return nil
}

func scanNotices(rows pgx.Rows, err error) ([]store.Notice, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Notice
	for rows.Next() {
		var seq, t, created int64
		var key, typ, js string
		if err := rows.Scan(&seq, &key, &typ, &t, &js, &created); err != nil {
			return nil, err
		}
		n, err := store.DecodeNotice(seq, key, typ, t, js, created)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notices implements store.Store.
func (s *Store) Notices(ctx context.Context, after int64, limit int) ([]store.Notice, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := scanNotices(s.pool.Query(ctx, `SELECT `+store.NoticeColumns+` FROM notices WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit))
	if err != nil {
		return nil, s.wrap("notices", err)
	}
	return out, nil
}

// NoticesOf implements store.Store.
func (s *Store) NoticesOf(ctx context.Context, key string) ([]store.Notice, error) {
	out, err := scanNotices(s.pool.Query(ctx, `SELECT `+store.NoticeColumns+` FROM notices WHERE ekey = $1 ORDER BY seq`, key))
	if err != nil {
		return nil, s.wrap("notices of "+key, err)
	}
	return out, nil
}

// NoticesIn implements store.Store.
func (s *Store) NoticesIn(ctx context.Context, from, until time.Time) ([]store.Notice, error) {
	out, err := scanNotices(s.pool.Query(ctx, `SELECT `+store.NoticeColumns+` FROM notices WHERE time >= $1 AND time < $2 ORDER BY seq`, nanos(from), nanos(until)))
	if err != nil {
		return nil, s.wrap("notices in time range", err)
	}
	return out, nil
}

// LastNoticeSeq implements store.Store.
func (s *Store) LastNoticeSeq(ctx context.Context) (int64, error) {
	var n *int64
	if err := s.pool.QueryRow(ctx, `SELECT max(seq) FROM notices`).Scan(&n); err != nil {
		return 0, s.wrap("notices", err)
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}

// Sink implements store.Store.
func (s *Store) Sink(ctx context.Context, name string) (from, done int64, err error) {
	err = s.guarded(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO alert_sinks (sink, from_seq, done_seq)
		SELECT $1, coalesce(max(seq), 0), coalesce(max(seq), 0) FROM notices ON CONFLICT (sink) DO NOTHING`, name)
		if err == nil {
			err = q.QueryRow(ctx, `SELECT from_seq, done_seq FROM alert_sinks WHERE sink = $1`, name).Scan(&from, &done)
		}
		return err
	})
	if err != nil {
		return 0, 0, s.wrap("alert sink "+name, err)
	}
	if v, ok, err := s.Meta(ctx, store.MetaAlertsFloor); err == nil && ok {
		if f, err := strconv.ParseInt(v, 10, 64); err == nil {
			from, done = max(from, f), max(done, f)
		}
	}
	return from, done, nil
}

// SetSinkDone implements store.Store.
func (s *Store) SetSinkDone(ctx context.Context, name string, done int64) error {
	err := s.guarded(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `UPDATE alert_sinks SET done_seq = greatest(done_seq, $1) WHERE sink = $2`, done, name)
		return err
	})
	if err != nil {
		return s.wrap("alert sink "+name, err)
	}
	return nil
}

// Handled implements store.Store.
func (s *Store) Handled(ctx context.Context, sink string, after, through int64) (map[int64]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq FROM deliveries WHERE sink = $1 AND seq > $2 AND seq <= $3`, sink, after, through)
	if err != nil {
		return nil, s.wrap("deliveries", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, s.wrap("deliveries", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// RecordDelivery implements store.Store.
func (s *Store) RecordDelivery(ctx context.Context, d store.Delivery) error {
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	err := s.guarded(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO deliveries (seq, sink, state, attempts, error, time) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (sink, seq) DO UPDATE SET state=excluded.state, attempts=excluded.attempts, error=excluded.error, time=excluded.time`,
			d.Seq, d.Sink, d.State, d.Attempts, d.Error, nanos(d.Time))
		return err
	})
	if err != nil {
		return s.wrap(fmt.Sprintf("delivery of notice %d to %s", d.Seq, d.Sink), err)
	}
	return nil
}

// DeadLetters implements store.Store.
func (s *Store) DeadLetters(ctx context.Context, f store.DeadFilter) ([]store.DeadLetter, error) {
	q := `SELECT d.seq, d.sink, d.state, d.attempts, d.error, d.time, n.seq, n.ekey, n.type, n.time, n.json, n.created
		FROM deliveries d JOIN notices n ON n.seq = d.seq WHERE d.state = 'dead'`
	var args []any
	if f.Sink != "" {
		args = append(args, f.Sink)
		q += ` AND d.sink = $1`
	}
	if len(f.Seqs) > 0 {
		args = append(args, f.Seqs)
		q += fmt.Sprintf(` AND d.seq = ANY($%d)`, len(args))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(` ORDER BY d.seq DESC, d.sink LIMIT %d`, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("dead letters", err)
	}
	defer rows.Close()
	var out []store.DeadLetter
	for rows.Next() {
		var d store.DeadLetter
		var t, nt, created int64
		var typ, js string
		if err := rows.Scan(&d.Seq, &d.Sink, &d.State, &d.Attempts, &d.Error, &t, &d.Notice.Seq, &d.Notice.Key, &typ, &nt, &js, &created); err != nil {
			return nil, s.wrap("dead letters", err)
		}
		d.Time, d.Notice.Time, d.Notice.Created = fromNanos(t), fromNanos(nt), fromNanos(created)
		d.Notice.Type = event.NoticeType(typ)
		if err := json.Unmarshal([]byte(js), &d.Notice.Event); err != nil {
			return nil, s.wrap(fmt.Sprintf("dead letter %d", d.Seq), err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
