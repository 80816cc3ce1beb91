package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// KeyString returns an event's natural key as one string (Notice.Key).
func KeyString(k EventKey) string {
	return k.EntityType.String() + "/" + k.EntityCode + "/" + string(k.Kind) + "/" + k.Family.String() + "/" + strconv.FormatInt(nanos(k.Start), 10)
}

// writeNotice adds op's notice to the outbox unless it is there already,
// and sets its Seq (0 when it was).
func writeNotice(ctx context.Context, tx *sql.Tx, op EventOp, id, now int64) error {
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
	err = tx.QueryRowContext(ctx, `INSERT INTO notices (ekey, type, time, event_id, json, created) VALUES (?,?,?,?,?,?)
		ON CONFLICT (ekey, type, time) DO NOTHING RETURNING seq`,
		KeyString(op.Key), string(n.Type), nanos(n.Time), ev.ID, string(js), now).Scan(&n.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // stored by an earlier run
	}
	if err != nil {
		return fmt.Errorf("notice %s: %w", n.Type, err)
	}
	return nil
}

// NoticeColumns are the columns of the notices table that DecodeNotice
// reads, in its order; every store selects them so.
const NoticeColumns = `seq, ekey, type, time, json, created`

// DecodeNotice makes a Notice of one row of NoticeColumns (times in Unix
// nanoseconds): the part of reading the outbox every store shares.
func DecodeNotice(seq int64, key, typ string, t int64, js string, created int64) (Notice, error) {
	n := Notice{Seq: seq, Key: key, Time: fromNanos(t), Created: fromNanos(created)}
	nt, err := event.ParseNoticeType(typ)
	if err != nil {
		return n, fmt.Errorf("notice %d: %w", seq, err)
	}
	if err := json.Unmarshal([]byte(js), &n.Event); err != nil {
		return n, fmt.Errorf("notice %d: %w", seq, err)
	}
	n.Type = nt
	return n, nil
}

func scanNotices(rows *sql.Rows, err error) ([]Notice, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var seq, t, created int64
		var key, typ, js string
		if err := rows.Scan(&seq, &key, &typ, &t, &js, &created); err != nil {
			return nil, err
		}
		n, err := DecodeNotice(seq, key, typ, t, js, created)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notices implements Store.
func (s *SQLite) Notices(ctx context.Context, after int64, limit int) ([]Notice, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := scanNotices(s.db.QueryContext(ctx, `SELECT `+NoticeColumns+` FROM notices WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit))
	if err != nil {
		return nil, fmt.Errorf("store %s: notices: %w", s.path, err)
	}
	return out, nil
}

// NoticesOf implements Store.
func (s *SQLite) NoticesOf(ctx context.Context, key string) ([]Notice, error) {
	out, err := scanNotices(s.db.QueryContext(ctx, `SELECT `+NoticeColumns+` FROM notices WHERE ekey = ? ORDER BY seq`, key))
	if err != nil {
		return nil, fmt.Errorf("store %s: notices of %s: %w", s.path, key, err)
	}
	return out, nil
}

// NoticesIn implements Store.
func (s *SQLite) NoticesIn(ctx context.Context, from, until time.Time) ([]Notice, error) {
	out, err := scanNotices(s.db.QueryContext(ctx, `SELECT `+NoticeColumns+` FROM notices WHERE time >= ? AND time < ? ORDER BY seq`, nanos(from), nanos(until)))
	if err != nil {
		return nil, fmt.Errorf("store %s: notices in time range: %w", s.path, err)
	}
	return out, nil
}

// LastNoticeSeq implements Store.
func (s *SQLite) LastNoticeSeq(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM notices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store %s: notices: %w", s.path, err)
	}
	return n.Int64, nil
}

// Sink implements Store.
func (s *SQLite) Sink(ctx context.Context, name string) (from, done int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.db.ExecContext(ctx, `INSERT OR IGNORE INTO alert_sinks (sink, from_seq, done_seq)
		SELECT ?, coalesce(max(seq), 0), coalesce(max(seq), 0) FROM notices`, name)
	if err == nil {
		err = s.db.QueryRowContext(ctx, `SELECT from_seq, done_seq FROM alert_sinks WHERE sink = ?`, name).Scan(&from, &done)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store %s: alert sink %s: %w", s.path, name, err)
	}
	if v, ok, err := s.Meta(ctx, MetaAlertsFloor); err == nil && ok {
		if f, err := strconv.ParseInt(v, 10, 64); err == nil {
			from, done = max(from, f), max(done, f)
		}
	}
	return from, done, nil
}

// SetSinkDone implements Store.
func (s *SQLite) SetSinkDone(ctx context.Context, name string, done int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `UPDATE alert_sinks SET done_seq = max(done_seq, ?) WHERE sink = ?`, done, name); err != nil {
		return fmt.Errorf("store %s: alert sink %s: %w", s.path, name, err)
	}
	return nil
}

// Handled implements Store.
func (s *SQLite) Handled(ctx context.Context, sink string, after, through int64) (map[int64]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq FROM deliveries WHERE sink = ? AND seq > ? AND seq <= ?`, sink, after, through)
	if err != nil {
		return nil, fmt.Errorf("store %s: deliveries: %w", s.path, err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store %s: deliveries: %w", s.path, err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// RecordDelivery implements Store.
func (s *SQLite) RecordDelivery(ctx context.Context, d Delivery) error {
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.db.ExecContext(ctx, `INSERT INTO deliveries (seq, sink, state, attempts, error, time) VALUES (?,?,?,?,?,?)
		ON CONFLICT (sink, seq) DO UPDATE SET state=excluded.state, attempts=excluded.attempts, error=excluded.error, time=excluded.time`,
		d.Seq, d.Sink, d.State, d.Attempts, d.Error, nanos(d.Time))
	if err != nil {
		return fmt.Errorf("store %s: delivery of notice %d to %s: %w", s.path, d.Seq, d.Sink, err)
	}
	return nil
}

// DeadLetters implements Store.
func (s *SQLite) DeadLetters(ctx context.Context, f DeadFilter) ([]DeadLetter, error) {
	q := `SELECT d.seq, d.sink, d.state, d.attempts, d.error, d.time, n.seq, n.ekey, n.type, n.time, n.json, n.created
		FROM deliveries d JOIN notices n ON n.seq = d.seq WHERE d.state = 'dead'`
	var args []any
	if f.Sink != "" {
		q += ` AND d.sink = ?`
		args = append(args, f.Sink)
	}
	if len(f.Seqs) > 0 {
		q += ` AND d.seq IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.Seqs)), ",") + `)`
		for _, n := range f.Seqs {
			args = append(args, n)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(` ORDER BY d.seq DESC, d.sink LIMIT %d`, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: dead letters: %w", s.path, err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var t, nt, created int64
		var typ, js string
		if err := rows.Scan(&d.Seq, &d.Sink, &d.State, &d.Attempts, &d.Error, &t, &d.Notice.Seq, &d.Notice.Key, &typ, &nt, &js, &created); err != nil {
			return nil, fmt.Errorf("store %s: dead letters: %w", s.path, err)
		}
		d.Time, d.Notice.Time, d.Notice.Created = fromNanos(t), fromNanos(nt), fromNanos(created)
		d.Notice.Type = event.NoticeType(typ)
		if err := json.Unmarshal([]byte(js), &d.Notice.Event); err != nil {
			return nil, fmt.Errorf("store %s: dead letter %d: %w", s.path, d.Seq, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store %s: dead letters: %w", s.path, err)
	}
	return out, nil
}
