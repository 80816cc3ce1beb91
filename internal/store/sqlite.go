package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// FileName is the database file inside the data directory.
const FileName = "blackout.db"

const schema = `
CREATE TABLE IF NOT EXISTS bins (
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	family      TEXT NOT NULL,
	time        INTEGER NOT NULL, -- unix nanoseconds, data time
	space       REAL NOT NULL,
	min_space   REAL NOT NULL,
	baseline    REAL NOT NULL,
	prefixes    INTEGER NOT NULL,
	origins     INTEGER NOT NULL,
	churn       INTEGER NOT NULL,
	PRIMARY KEY (entity_type, entity_code, family, time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bins_time ON bins(time);
CREATE TABLE IF NOT EXISTS events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	start_kind  TEXT NOT NULL, -- the kind when the event started (natural key)
	kind        TEXT NOT NULL, -- the kind now
	family      TEXT NOT NULL,
	start       INTEGER NOT NULL,
	"end"       INTEGER,       -- NULL while ongoing
	severity    TEXT NOT NULL,
	json        TEXT NOT NULL, -- the event as replay --json prints it
	updated     INTEGER NOT NULL, -- unix nanoseconds, wall time
	UNIQUE (entity_type, entity_code, start_kind, family, start)
);
CREATE INDEX IF NOT EXISTS events_start ON events(start DESC, id DESC);
CREATE INDEX IF NOT EXISTS events_entity ON events(entity_type, entity_code, start DESC);
CREATE INDEX IF NOT EXISTS events_open ON events("end") WHERE "end" IS NULL;
CREATE TABLE IF NOT EXISTS entities (
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	families    TEXT NOT NULL,
	upstreams   TEXT NOT NULL,
	updated     INTEGER NOT NULL,
	PRIMARY KEY (entity_type, entity_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notices (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	ekey     TEXT NOT NULL,    -- the event's natural key
	type     TEXT NOT NULL,    -- start, escalate, end, retract
	time     INTEGER NOT NULL, -- unix nanoseconds, data time of the change
	event_id INTEGER NOT NULL,
	json     TEXT NOT NULL,    -- the event as announced
	created  INTEGER NOT NULL, -- unix nanoseconds, wall time
	UNIQUE (ekey, type, time)
);
CREATE INDEX IF NOT EXISTS notices_time ON notices(time);
CREATE TABLE IF NOT EXISTS deliveries (
	seq      INTEGER NOT NULL,
	sink     TEXT NOT NULL,
	state    TEXT NOT NULL,    -- delivered or dead
	attempts INTEGER NOT NULL,
	error    TEXT NOT NULL,
	time     INTEGER NOT NULL, -- unix nanoseconds, wall time of the last attempt
	PRIMARY KEY (sink, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries(seq DESC) WHERE state = 'dead';
CREATE TABLE IF NOT EXISTS alert_sinks (
	sink     TEXT PRIMARY KEY,
	from_seq INTEGER NOT NULL, -- the sink is sent the notices after this one
	done_seq INTEGER NOT NULL  -- every notice up to this one is handled
) WITHOUT ROWID;
-- Before the outbox (kept for old stores; no longer written).
CREATE TABLE IF NOT EXISTS dead_letters (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	time     INTEGER NOT NULL,
	sink     TEXT NOT NULL,
	payload  TEXT NOT NULL,
	error    TEXT NOT NULL,
	attempts INTEGER NOT NULL
);
`

// SQLite is the default Store.
type SQLite struct {
	db   *sql.DB
	path string

	mu    sync.Mutex    // serialises Write (and guards detID)
	detID map[int]int64 // detector id -> stored id, for preceded_by_instability
}

// OpenSQLite opens (creating if needed) the database in dir.
func OpenSQLite(dir string) (*SQLite, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	if err := quickCheck(db); err != nil {
		db.Close()
		return nil, corrupt(path, dir, err)
	}
	var hadOutbox int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'notices'`).Scan(&hadOutbox); err != nil {
		db.Close()
		return nil, corrupt(path, dir, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, corrupt(path, dir, err)
	}
	if hadOutbox == 0 {
		// A store from before the outbox: its notices up to the data time
		// it reached were announced already.
		if _, err := db.Exec(`INSERT OR IGNORE INTO meta (key, value) SELECT ?, value FROM meta WHERE key = ?`, MetaOutboxFrom, MetaDataTime); err != nil {
			db.Close()
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("store %s: journal mode %q, want wal (%v)", path, mode, err)
	}
	return &SQLite{db: db, path: path, detID: map[int]int64{}}, nil
}

// Path returns the database file.
func (s *SQLite) Path() string { return s.path }

// DB returns the database handle (for tests and tools).
func (s *SQLite) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func nanos(t time.Time) int64 { return t.UnixNano() }
func fromNanos(n int64) time.Time {
	return time.Unix(0, n).UTC()
}

// Write implements Store.
func (s *SQLite) Write(ctx context.Context, b *Batch) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store %s: write: %w", s.path, err)
	}
	defer tx.Rollback()
	ids, err := s.write(ctx, tx, b)
	if err != nil {
		return nil, fmt.Errorf("store %s: write: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store %s: write: commit: %w", s.path, err)
	}
	for i, op := range b.Events {
		if !op.Delete && op.DetID != 0 {
			s.detID[op.DetID] = ids[i]
		}
	}
	return ids, nil
}

func (s *SQLite) write(ctx context.Context, tx *sql.Tx, b *Batch) ([]int64, error) {
	if len(b.Bins) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO bins (entity_type, entity_code, family, time, space, min_space, baseline, prefixes, origins, churn)
			VALUES (?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (entity_type, entity_code, family, time) DO UPDATE SET space=excluded.space, min_space=excluded.min_space,
			baseline=excluded.baseline, prefixes=excluded.prefixes, origins=excluded.origins, churn=excluded.churn`)
		if err != nil {
			return nil, fmt.Errorf("bins: %w", err)
		}
		defer st.Close()
		for _, x := range b.Bins {
			if _, err := st.ExecContext(ctx, x.EntityType.String(), x.EntityCode, x.Family.String(), nanos(x.Time), x.Space, x.MinSpace, x.Baseline, x.Prefixes, x.Origins, x.Churn); err != nil {
				return nil, fmt.Errorf("bin %s %s %s %s: %w", x.EntityType, x.EntityCode, x.Family, x.Time.Format(time.RFC3339), err)
			}
		}
	}
	ids := make([]int64, len(b.Events))
	local := map[int]int64{}
	now := time.Now().UnixNano()
	for i, op := range b.Events {
		id, err := s.writeEvent(ctx, tx, op, local, now)
		if err == nil && op.Notice != nil {
			err = writeNotice(ctx, tx, op, id, now)
		}
		if err != nil {
			k := op.Key
			return nil, fmt.Errorf("event %s %s %s %s %s: %w", k.EntityType, k.EntityCode, k.Kind, k.Family, k.Start.Format(time.RFC3339), err)
		}
		ids[i] = id
	}
	if len(b.Entities) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO entities (entity_type, entity_code, families, upstreams, updated) VALUES (?,?,?,?,?)
			ON CONFLICT (entity_type, entity_code) DO UPDATE SET families=excluded.families, upstreams=excluded.upstreams, updated=excluded.updated`)
		if err != nil {
			return nil, fmt.Errorf("entities: %w", err)
		}
		defer st.Close()
		for _, e := range b.Entities {
			ups, _ := json.Marshal(e.Upstreams)
			if e.Upstreams == nil {
				ups = []byte("[]")
			}
			fams := make([]string, len(e.Families))
			for i, f := range e.Families {
				fams[i] = f.String()
			}
			if _, err := st.ExecContext(ctx, e.Type.String(), e.Code, strings.Join(fams, ","), string(ups), nanos(e.Updated)); err != nil {
				return nil, fmt.Errorf("entity %s %s: %w", e.Type, e.Code, err)
			}
		}
	}
	for k, v := range b.Meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?,?) ON CONFLICT (key) DO UPDATE SET value=excluded.value`, k, v); err != nil {
			return nil, fmt.Errorf("meta %s: %w", k, err)
		}
	}
	return ids, nil
}

// writeEvent applies one event operation and returns the event's stored
// id (0 for a deletion). local maps the detector ids of this batch.
func (s *SQLite) writeEvent(ctx context.Context, tx *sql.Tx, op EventOp, local map[int]int64, now int64) (int64, error) {
	k := op.Key
	typ, fam, start := k.EntityType.String(), k.Family.String(), nanos(k.Start)
	if op.Delete {
		_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE entity_type=? AND entity_code=? AND start_kind=? AND family=? AND start=?`,
			typ, k.EntityCode, string(k.Kind), fam, start)
		return 0, err
	}
	ev := op.Event
	id := op.ID
	if id == 0 {
		// Find the id by the natural key, or let SQLite assign the next one;
		// resolve preceded_by from the detector ids seen.
		err := tx.QueryRowContext(ctx, `SELECT id FROM events WHERE entity_type=? AND entity_code=? AND start_kind=? AND family=? AND start=?`,
			typ, k.EntityCode, string(k.Kind), fam, start).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `INSERT INTO events (entity_type, entity_code, start_kind, kind, family, start, severity, json, updated)
				VALUES (?,?,?,?,?,?,?,'{}',?) RETURNING id`, typ, k.EntityCode, string(k.Kind), string(ev.Kind), fam, start, string(ev.Severity), now).Scan(&id)
		}
		if err != nil {
			return 0, err
		}
		if op.DetID != 0 {
			local[op.DetID] = id
		}
		if ev.PrecededBy != nil {
			p, ok := local[*ev.PrecededBy]
			if !ok {
				p, ok = s.detID[*ev.PrecededBy]
			}
			if ok {
				pi := int(p)
				ev.PrecededBy = &pi
			} else {
				ev.PrecededBy = nil
			}
		}
	}
	ev.ID = int(id)
	js, err := json.Marshal(&ev)
	if err != nil {
		return 0, err
	}
	var end any
	if ev.End != nil {
		end = nanos(*ev.End)
	}
	if op.ID == 0 {
		_, err := tx.ExecContext(ctx, `UPDATE events SET kind=?, severity=?, "end"=?, json=?, updated=? WHERE id=?`,
			string(ev.Kind), string(ev.Severity), end, string(js), now, id)
		return id, err
	}
	// The id was assigned by the caller: one upsert on the natural key.
	var got int64
	err = tx.QueryRowContext(ctx, `INSERT INTO events (id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json, updated)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (entity_type, entity_code, start_kind, family, start) DO UPDATE SET kind=excluded.kind, severity=excluded.severity,
		"end"=excluded."end", json=excluded.json, updated=excluded.updated
		RETURNING id`, id, typ, k.EntityCode, string(k.Kind), string(ev.Kind), fam, start, end, string(ev.Severity), string(js), now).Scan(&got)
	if err != nil {
		return 0, err
	}
	if got != id {
		return 0, fmt.Errorf("stored under id %d, not the assigned %d (another writer?)", got, id)
	}
	return id, nil
}

// EventIDs implements Store.
func (s *SQLite) EventIDs(ctx context.Context) (map[EventKey]int64, int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, entity_type, entity_code, start_kind, family, start FROM events`)
	if err != nil {
		return nil, 0, fmt.Errorf("store %s: event ids: %w", s.path, err)
	}
	defer rows.Close()
	ids := map[EventKey]int64{}
	var maxID int64
	for rows.Next() {
		var id, start int64
		var typ, code, kind, fam string
		if err := rows.Scan(&id, &typ, &code, &kind, &fam, &start); err != nil {
			return nil, 0, fmt.Errorf("store %s: event ids: %w", s.path, err)
		}
		k, err := parseKey(typ, code, kind, fam, start)
		if err != nil {
			return nil, 0, fmt.Errorf("store %s: event %d: %w", s.path, id, err)
		}
		ids[k] = id
		maxID = max(maxID, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store %s: event ids: %w", s.path, err)
	}
	// AUTOINCREMENT remembers the highest id ever used, deleted rows included.
	var seq sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'events'`).Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("store %s: event id sequence: %w", s.path, err)
	}
	return ids, max(maxID, seq.Int64), nil
}

// parseKey parses a natural key as stored.
func parseKey(typ, code, kind, fam string, start int64) (EventKey, error) {
	t, err := event.ParseEntityType(typ)
	if err != nil {
		return EventKey{}, err
	}
	f, err := bgp.ParseFamily(fam)
	if err != nil {
		return EventKey{}, err
	}
	k, err := event.ParseKind(kind)
	if err != nil {
		return EventKey{}, err
	}
	return EventKey{EntityType: t, EntityCode: code, Kind: k, Family: f, Start: fromNanos(start)}, nil
}

// Bins implements Store.
func (s *SQLite) Bins(ctx context.Context, typ event.EntityType, code string, family bgp.Family, from, until time.Time) ([]Bin, error) {
	var out []Bin
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			b := Bin{EntityType: typ, EntityCode: code, Family: family}
			var t int64
			if err := rows.Scan(&t, &b.Space, &b.MinSpace, &b.Baseline, &b.Prefixes, &b.Origins, &b.Churn); err != nil {
				return err
			}
			b.Time = fromNanos(t)
			out = append(out, b)
		}
		return rows.Err()
	}
	const cols = `time, space, min_space, baseline, prefixes, origins, churn`
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM bins WHERE entity_type=? AND entity_code=? AND family=? AND time < ? ORDER BY time DESC LIMIT 1`,
		typ.String(), code, family.String(), nanos(from))
	if err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	if err := scan(rows); err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT `+cols+` FROM bins WHERE entity_type=? AND entity_code=? AND family=? AND time >= ? AND time <= ? ORDER BY time`,
		typ.String(), code, family.String(), nanos(from), nanos(until))
	if err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	if err := scan(rows); err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	return out, nil
}

// LastBinTime implements Store.
func (s *SQLite) LastBinTime(ctx context.Context) (time.Time, error) {
	var t sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(time) FROM bins`).Scan(&t); err != nil {
		return time.Time{}, err
	}
	if !t.Valid {
		return time.Time{}, nil
	}
	return fromNanos(t.Int64), nil
}

const eventCols = `id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json, updated`

func scanEvent(sc interface{ Scan(...any) error }) (*StoredEvent, error) {
	var e StoredEvent
	var start, updated int64
	var end sql.NullInt64
	var typ, code, startKind, kind, fam, sev, js string
	if err := sc.Scan(&e.ID, &typ, &code, &startKind, &kind, &fam, &start, &end, &sev, &js, &updated); err != nil {
		return nil, err
	}
	var err error
	if e.Key, err = parseKey(typ, code, startKind, fam, start); err != nil {
		return nil, fmt.Errorf("event %d: %w", e.ID, err)
	}
	if e.Kind, err = event.ParseKind(kind); err != nil {
		return nil, fmt.Errorf("event %d: %w", e.ID, err)
	}
	if e.Severity, err = event.ParseSeverity(sev); err != nil {
		return nil, fmt.Errorf("event %d: %w", e.ID, err)
	}
	e.Updated = fromNanos(updated)
	if end.Valid {
		t := fromNanos(end.Int64)
		e.End = &t
	}
	if err := json.Unmarshal([]byte(js), &e.Event); err != nil {
		return nil, fmt.Errorf("event %d: %w", e.ID, err)
	}
	e.Event.ID = int(e.ID)
	return &e, nil
}

// EventsQuery returns the query of Events for f over the events table
// (the columns scanEvent reads, newest first), with "?" placeholders and their
// arguments; codeMatch is the store's case-insensitive comparison of
// entity_code with one argument ("entity_code = ? COLLATE NOCASE").
func EventsQuery(f EventFilter, codeMatch string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.EntityType != 0 {
		add("entity_type = ?", f.EntityType.String())
	}
	if f.EntityCode != "" {
		add(codeMatch, f.EntityCode)
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	switch f.Severity {
	case "":
	case event.Warning: // minimum severity: warning includes critical
	default:
		add("severity = ?", string(f.Severity))
	}
	if !f.From.IsZero() {
		add(`("end" IS NULL OR "end" >= ?)`, nanos(f.From))
	}
	if !f.Until.IsZero() {
		add("start <= ?", nanos(f.Until))
	}
	if f.Ongoing {
		add(`"end" IS NULL`)
	}
	if f.After != nil {
		add("(start < ? OR (start = ? AND id < ?))", nanos(f.After.Start), nanos(f.After.Start), f.After.ID)
	}
	q := `SELECT ` + eventCols + ` FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return q + fmt.Sprintf(" ORDER BY start DESC, id DESC LIMIT %d", limit), args
}

// Events implements Store.
func (s *SQLite) Events(ctx context.Context, f EventFilter) ([]StoredEvent, error) {
	q, args := EventsQuery(f, "entity_code = ? COLLATE NOCASE")
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return out, nil
}

// CountOpen implements Store.
func (s *SQLite) CountOpen(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE "end" IS NULL`).Scan(&n)
	return n, err
}

// Event implements Store.
func (s *SQLite) Event(ctx context.Context, id int64) (*StoredEvent, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

func scanEntity(sc interface{ Scan(...any) error }) (*Entity, error) {
	var e Entity
	var typ, fams, ups string
	var updated int64
	if err := sc.Scan(&typ, &e.Code, &fams, &ups, &updated); err != nil {
		return nil, err
	}
	var err error
	if e.Type, err = event.ParseEntityType(typ); err != nil {
		return nil, fmt.Errorf("entity %s: %w", e.Code, err)
	}
	if fams != "" {
		for _, s := range strings.Split(fams, ",") {
			f, err := bgp.ParseFamily(s)
			if err != nil {
				return nil, fmt.Errorf("entity %s %s: %w", e.Type, e.Code, err)
			}
			e.Families = append(e.Families, f)
		}
	}
	_ = json.Unmarshal([]byte(ups), &e.Upstreams)
	e.Updated = fromNanos(updated)
	return &e, nil
}

// Entities implements Store.
func (s *SQLite) Entities(ctx context.Context, typ event.EntityType) ([]Entity, error) {
	q := `SELECT entity_type, entity_code, families, upstreams, updated FROM entities`
	var args []any
	if typ != 0 {
		q += ` WHERE entity_type = ?`
		args = append(args, typ.String())
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY entity_type, entity_code`, args...)
	if err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	defer rows.Close()
	var out []Entity
	for rows.Next() {
		e, err := scanEntity(rows)
		if err != nil {
			return nil, fmt.Errorf("entities: %w", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	return out, nil
}

// Entity implements Store.
func (s *SQLite) Entity(ctx context.Context, typ event.EntityType, code string) (*Entity, error) {
	e, err := scanEntity(s.db.QueryRowContext(ctx, `SELECT entity_type, entity_code, families, upstreams, updated FROM entities WHERE entity_type = ? AND entity_code = ?`, typ.String(), code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// Meta implements Store.
func (s *SQLite) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// PruneBins implements Store.
func (s *SQLite) PruneBins(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.db.ExecContext(ctx, `DELETE FROM bins WHERE time < ?`, nanos(before))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

var _ Store = (*SQLite)(nil)
