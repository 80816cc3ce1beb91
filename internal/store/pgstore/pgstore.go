// Package pgstore is the PostgreSQL backend of store.Store (pgx v5), the
// shared store of a blackout cluster: the detect role writes to it, any
// number of api roles read it. It has the semantics of the SQLite store:
// bins upserted on (entity, family, time), events on their natural key,
// ids never given twice (deleted events included), bins pruned behind the
// data time, and every write in one transaction so that a crash leaves
// either the whole batch or none of it.
//
// Times are kept as unix nanoseconds (BIGINT), as in SQLite, so that they
// round-trip exactly.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// schemaVersion is stored in the meta table as "pg_schema".
const schemaVersion = "1"

const schema = `
CREATE TABLE IF NOT EXISTS bins (
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	family      TEXT NOT NULL,
	time        BIGINT NOT NULL, -- unix nanoseconds, data time
	space       DOUBLE PRECISION NOT NULL,
	min_space   DOUBLE PRECISION NOT NULL,
	baseline    DOUBLE PRECISION NOT NULL,
	prefixes    INTEGER NOT NULL,
	origins     INTEGER NOT NULL,
	churn       INTEGER NOT NULL,
	PRIMARY KEY (entity_type, entity_code, family, time)
);
CREATE INDEX IF NOT EXISTS bins_time ON bins (time);
CREATE TABLE IF NOT EXISTS events (
	id          BIGINT PRIMARY KEY,
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	start_kind  TEXT NOT NULL, -- the kind when the event started (natural key)
	kind        TEXT NOT NULL, -- the kind now
	family      TEXT NOT NULL,
	start       BIGINT NOT NULL,
	"end"       BIGINT,        -- NULL while ongoing
	severity    TEXT NOT NULL,
	json        TEXT NOT NULL, -- the event as replay --json prints it
	updated     BIGINT NOT NULL, -- unix nanoseconds, wall time
	UNIQUE (entity_type, entity_code, start_kind, family, start)
);
CREATE INDEX IF NOT EXISTS events_start ON events (start DESC, id DESC);
CREATE INDEX IF NOT EXISTS events_entity ON events (entity_type, lower(entity_code), start DESC);
CREATE INDEX IF NOT EXISTS events_open ON events ("end") WHERE "end" IS NULL;
-- The highest event id ever assigned, deleted events included.
CREATE TABLE IF NOT EXISTS event_seq (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), last BIGINT NOT NULL);
INSERT INTO event_seq (one, last) VALUES (true, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS entities (
	entity_type TEXT NOT NULL,
	entity_code TEXT NOT NULL,
	families    TEXT NOT NULL,
	upstreams   TEXT NOT NULL,
	updated     BIGINT NOT NULL,
	PRIMARY KEY (entity_type, entity_code)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The alert outbox: every notice, in order, and what became of each
-- delivery to each sink.
CREATE TABLE IF NOT EXISTS notices (
	seq      BIGSERIAL PRIMARY KEY,
	ekey     TEXT NOT NULL,    -- the event's natural key (store.KeyString)
	type     TEXT NOT NULL,    -- start, escalate, end, retract
	time     BIGINT NOT NULL,  -- unix nanoseconds, data time of the change
	event_id BIGINT NOT NULL,
	json     TEXT NOT NULL,    -- the event as announced
	created  BIGINT NOT NULL,  -- unix nanoseconds, wall time
	UNIQUE (ekey, type, time)
);
CREATE INDEX IF NOT EXISTS notices_time ON notices (time);
CREATE INDEX IF NOT EXISTS notices_ekey ON notices (ekey, seq);
CREATE TABLE IF NOT EXISTS deliveries (
	seq      BIGINT NOT NULL,
	sink     TEXT NOT NULL,
	state    TEXT NOT NULL,    -- delivered or dead
	attempts INTEGER NOT NULL,
	error    TEXT NOT NULL,
	time     BIGINT NOT NULL,  -- unix nanoseconds, wall time of the last attempt
	PRIMARY KEY (sink, seq)
);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (seq DESC) WHERE state = 'dead';
CREATE TABLE IF NOT EXISTS alert_sinks (
	sink     TEXT PRIMARY KEY,
	from_seq BIGINT NOT NULL,  -- the sink is sent the notices after this one
	done_seq BIGINT NOT NULL   -- every notice up to this one is handled
);
-- Fencing tokens: a writer given a token under a name (Store.Fenced) may
-- write only while the row holds its token; a newer writer raises it.
CREATE TABLE IF NOT EXISTS fences (name TEXT PRIMARY KEY, token BIGINT NOT NULL);
INSERT INTO meta (key, value) VALUES ('pg_schema', '` + schemaVersion + `') ON CONFLICT DO NOTHING;
`

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	name string // the DSN without its password, for messages

	mu    sync.Mutex    // serialises Write (and guards detID)
	detID map[int]int64 // detector id -> stored id, for preceded_by_instability

	// A fenced handle (Fenced): its writes check that the fence named
	// fence still holds token; it shares its parent's pool (borrowed).
	fence    string
	token    int64
	borrowed bool
	idle     time.Duration // FenceIdleTimeout (shorter in tests)
	closed   atomic.Bool   // a fenced handle's Close: its writes fail from then on
}

// IsDSN reports whether s names a PostgreSQL database (postgres:// or
// postgresql:// URL).
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// redact drops the password from a URL DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// Open connects to the database at dsn (postgres://USER@HOST:PORT/DB?...)
// and creates the tables if needed. Several processes may open the same
// database; the schema creation is serialised by an advisory lock.
func Open(ctx context.Context, dsn string) (*Store, error) {
	name := redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	if cfg.MaxConns < 4 {
		cfg.MaxConns = 4
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	s := &Store{pool: pool, name: name, detID: map[int]int64{}}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Two nodes starting at once must not race on CREATE TABLE.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7210541)`); err != nil {
		return fmt.Errorf("schema lock: %w", err)
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	var v string
	if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'pg_schema'`).Scan(&v); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if v != schemaVersion {
		return fmt.Errorf("schema version %s, this program knows %s", v, schemaVersion)
	}
	return tx.Commit(ctx)
}

// Path returns the database's URL without its password (for logs).
func (s *Store) Path() string { return s.name }

// Pool returns the connection pool (for tests and tools).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the connections (a fenced handle's Close does nothing:
// the pool is its parent's).
func (s *Store) Close() error {
	if !s.borrowed {
		s.pool.Close()
	}
	s.closed.Store(true)
	return nil
}

func nanos(t time.Time) int64     { return t.UnixNano() }
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
func (s *Store) wrap(op string, err error) error {
	return fmt.Errorf("store %s: %s: %w", s.name, op, err)
}

// Write implements store.Store.
func (s *Store) Write(ctx context.Context, b *store.Batch) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, s.wrap("write", errClosed)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.wrap("write", err)
	}
	defer tx.Rollback(ctx)
	if err := s.checkFence(ctx, tx); err != nil {
		return nil, s.wrap("write", err)
	}
	ids, err := s.write(ctx, tx, b)
	if err != nil {
		return nil, s.wrap("write", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, s.wrap("write: commit", err)
	}
	for i, op := range b.Events {
		if !op.Delete && op.DetID != 0 {
			s.detID[op.DetID] = ids[i]
		}
	}
	return ids, nil
}

const upsertBin = `INSERT INTO bins (entity_type, entity_code, family, time, space, min_space, baseline, prefixes, origins, churn)
	VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
	ON CONFLICT (entity_type, entity_code, family, time) DO UPDATE SET space=excluded.space, min_space=excluded.min_space,
	baseline=excluded.baseline, prefixes=excluded.prefixes, origins=excluded.origins, churn=excluded.churn`

const upsertEntity = `INSERT INTO entities (entity_type, entity_code, families, upstreams, updated) VALUES ($1,$2,$3,$4,$5)
	ON CONFLICT (entity_type, entity_code) DO UPDATE SET families=excluded.families, upstreams=excluded.upstreams, updated=excluded.updated`

func (s *Store) write(ctx context.Context, tx pgx.Tx, b *store.Batch) ([]int64, error) {
	// Bins and entities go in one round trip each (a pipelined batch, run
	// in order, so that a key twice in one batch is upserted twice as in
	// SQLite).
	if len(b.Bins) > 0 {
		var q pgx.Batch
		for _, x := range b.Bins {
			q.Queue(upsertBin, x.EntityType.String(), x.EntityCode, x.Family.String(), nanos(x.Time), x.Space, x.MinSpace, x.Baseline, x.Prefixes, x.Origins, x.Churn)
		}
		if err := tx.SendBatch(ctx, &q).Close(); err != nil {
			return nil, fmt.Errorf("bins: %w", err)
		}
	}
	ids := make([]int64, len(b.Events))
	local := map[int]int64{}
	now := time.Now().UnixNano()
	var maxID int64
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
		maxID = max(maxID, op.ID)
	}
	if maxID > 0 {
		if _, err := tx.Exec(ctx, `UPDATE event_seq SET last = greatest(last, $1)`, maxID); err != nil {
			return nil, fmt.Errorf("event id sequence: %w", err)
		}
	}
	if len(b.Entities) > 0 {
		var q pgx.Batch
		for _, e := range b.Entities {
			ups, _ := json.Marshal(e.Upstreams)
			if e.Upstreams == nil {
				ups = []byte("[]")
			}
			fams := make([]string, len(e.Families))
			for i, f := range e.Families {
				fams[i] = f.String()
			}
			q.Queue(upsertEntity, e.Type.String(), e.Code, strings.Join(fams, ","), string(ups), nanos(e.Updated))
		}
		if err := tx.SendBatch(ctx, &q).Close(); err != nil {
			return nil, fmt.Errorf("entities: %w", err)
		}
	}
	for k, v := range b.Meta {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value=excluded.value`, k, v); err != nil {
			return nil, fmt.Errorf("meta %s: %w", k, err)
		}
	}
	return ids, nil
}

// writeEvent applies one event operation and returns the event's stored
// id (0 for a deletion). local maps the detector ids of this batch.
func (s *Store) writeEvent(ctx context.Context, tx pgx.Tx, op store.EventOp, local map[int]int64, now int64) (int64, error) {
	k := op.Key
	typ, fam, start := k.EntityType.String(), k.Family.String(), nanos(k.Start)
	if op.Delete {
		_, err := tx.Exec(ctx, `DELETE FROM events WHERE entity_type=$1 AND entity_code=$2 AND start_kind=$3 AND family=$4 AND start=$5`,
			typ, k.EntityCode, string(k.Kind), fam, start)
		return 0, err
	}
	ev := op.Event
	id := op.ID
	if id == 0 {
		// Find the id by the natural key, or take the next one; resolve
		// preceded_by from the detector ids seen.
		err := tx.QueryRow(ctx, `SELECT id FROM events WHERE entity_type=$1 AND entity_code=$2 AND start_kind=$3 AND family=$4 AND start=$5`,
			typ, k.EntityCode, string(k.Kind), fam, start).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `UPDATE event_seq SET last = last + 1 RETURNING last`).Scan(&id)
			if err == nil {
				_, err = tx.Exec(ctx, `INSERT INTO events (id, entity_type, entity_code, start_kind, kind, family, start, severity, json, updated)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'{}',$9)`, id, typ, k.EntityCode, string(k.Kind), string(ev.Kind), fam, start, string(ev.Severity), now)
			}
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
	var end *int64
	if ev.End != nil {
		n := nanos(*ev.End)
		end = &n
	}
	if op.ID == 0 {
		_, err := tx.Exec(ctx, `UPDATE events SET kind=$1, severity=$2, "end"=$3, json=$4, updated=$5 WHERE id=$6`,
			string(ev.Kind), string(ev.Severity), end, string(js), now, id)
		return id, err
	}
	// The id was assigned by the caller: one upsert on the natural key.
	var got int64
	err = tx.QueryRow(ctx, `INSERT INTO events (id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json, updated)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
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

// EventIDs implements store.Store.
func (s *Store) EventIDs(ctx context.Context) (map[store.EventKey]int64, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, entity_type, entity_code, start_kind, family, start FROM events`)
	if err != nil {
		return nil, 0, s.wrap("event ids", err)
	}
	defer rows.Close()
	ids := map[store.EventKey]int64{}
	var maxID int64
	for rows.Next() {
		var id, start int64
		var typ, code, kind, fam string
		if err := rows.Scan(&id, &typ, &code, &kind, &fam, &start); err != nil {
			return nil, 0, s.wrap("event ids", err)
		}
		k, err := parseKey(typ, code, kind, fam, start)
		if err != nil {
			return nil, 0, s.wrap(fmt.Sprintf("event %d", id), err)
		}
		ids[k] = id
		maxID = max(maxID, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.wrap("event ids", err)
	}
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT last FROM event_seq`).Scan(&seq); err != nil {
		return nil, 0, s.wrap("event id sequence", err)
	}
	return ids, max(maxID, seq), nil
}

// parseKey parses a natural key as stored.
func parseKey(typ, code, kind, fam string, start int64) (store.EventKey, error) {
	t, err := event.ParseEntityType(typ)
	if err != nil {
		return store.EventKey{}, err
	}
	f, err := bgp.ParseFamily(fam)
	if err != nil {
		return store.EventKey{}, err
	}
	k, err := event.ParseKind(kind)
	if err != nil {
		return store.EventKey{}, err
	}
	return store.EventKey{EntityType: t, EntityCode: code, Kind: k, Family: f, Start: fromNanos(start)}, nil
}

// Bins implements store.Store.
func (s *Store) Bins(ctx context.Context, typ event.EntityType, code string, family bgp.Family, from, until time.Time) ([]store.Bin, error) {
	const cols = `time, space, min_space, baseline, prefixes, origins, churn`
	// The last bin before from, then the bins in [from, until].
	rows, err := s.pool.Query(ctx, `(SELECT `+cols+` FROM bins WHERE entity_type=$1 AND entity_code=$2 AND family=$3 AND time < $4 ORDER BY time DESC LIMIT 1)
		UNION ALL (SELECT `+cols+` FROM bins WHERE entity_type=$1 AND entity_code=$2 AND family=$3 AND time >= $4 AND time <= $5 ORDER BY time)`,
		typ.String(), code, family.String(), nanos(from), nanos(until))
	if err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	defer rows.Close()
	var out []store.Bin
	for rows.Next() {
		b := store.Bin{EntityType: typ, EntityCode: code, Family: family}
		var t int64
		if err := rows.Scan(&t, &b.Space, &b.MinSpace, &b.Baseline, &b.Prefixes, &b.Origins, &b.Churn); err != nil {
			return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
		}
		b.Time = fromNanos(t)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bins of %s %s %s: %w", typ, code, family, err)
	}
	// UNION ALL keeps the branches in order in practice, but SQL does not
	// promise it: sort (the list is short and nearly sorted).
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Time.Before(out[j-1].Time); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// LastBinTime implements store.Store.
func (s *Store) LastBinTime(ctx context.Context) (time.Time, error) {
	var t *int64
	if err := s.pool.QueryRow(ctx, `SELECT max(time) FROM bins`).Scan(&t); err != nil {
		return time.Time{}, s.wrap("latest bin", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return fromNanos(*t), nil
}

const eventCols = `id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json, updated`

func scanEvent(sc pgx.Row) (*store.StoredEvent, error) {
	var e store.StoredEvent
	var start, updated int64
	var end *int64
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
	if end != nil {
		t := fromNanos(*end)
		e.End = &t
	}
	if err := json.Unmarshal([]byte(js), &e.Event); err != nil {
		return nil, fmt.Errorf("event %d: %w", e.ID, err)
	}
	e.Event.ID = int(e.ID)
	return &e, nil
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, f store.EventFilter) ([]store.StoredEvent, error) {
	q, args := store.EventsQuery(f, "lower(entity_code) = lower(?)")
	q = numbered(q)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []store.StoredEvent
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

// CountOpen implements store.Store.
func (s *Store) CountOpen(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE "end" IS NULL`).Scan(&n)
	return n, err
}

// Event implements store.Store.
func (s *Store) Event(ctx context.Context, id int64) (*store.StoredEvent, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return e, err
}

func scanEntity(sc pgx.Row) (*store.Entity, error) {
	var e store.Entity
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

// Entities implements store.Store.
func (s *Store) Entities(ctx context.Context, typ event.EntityType) ([]store.Entity, error) {
	q := `SELECT entity_type, entity_code, families, upstreams, updated FROM entities`
	var args []any
	if typ != 0 {
		q += ` WHERE entity_type = $1`
		args = append(args, typ.String())
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY entity_type, entity_code`, args...)
	if err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	defer rows.Close()
	var out []store.Entity
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

// Entity implements store.Store.
func (s *Store) Entity(ctx context.Context, typ event.EntityType, code string) (*store.Entity, error) {
	e, err := scanEntity(s.pool.QueryRow(ctx, `SELECT entity_type, entity_code, families, upstreams, updated FROM entities WHERE entity_type = $1 AND entity_code = $2`, typ.String(), code))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return e, err
}

// Meta implements store.Store.
func (s *Store) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("meta "+key, err)
	}
	return v, true, nil
}

// PruneBins implements store.Store.
func (s *Store) PruneBins(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.guarded(ctx, func(q querier) error {
		r, err := q.Exec(ctx, `DELETE FROM bins WHERE time < $1`, nanos(before))
		n = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.wrap("prune bins", err)
	}
	return n, nil
}

var _ store.Store = (*Store)(nil)

// LatestBins implements store.LatestBinner: the last bin at or before at
// of each entity of type typ in family.
func (s *Store) LatestBins(ctx context.Context, typ event.EntityType, family bgp.Family, at time.Time) ([]store.Bin, error) {
	return s.edgeBins(ctx, typ, family, at, "max")
}

// FirstBins implements store.LatestBinner: the first bin of each entity
// of type typ in family.
func (s *Store) FirstBins(ctx context.Context, typ event.EntityType, family bgp.Family) ([]store.Bin, error) {
	return s.edgeBins(ctx, typ, family, time.Unix(1<<33, 0), "min")
}

func (s *Store) edgeBins(ctx context.Context, typ event.EntityType, family bgp.Family, at time.Time, agg string) ([]store.Bin, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.entity_code, b.time, b.space, b.min_space, b.baseline, b.prefixes, b.origins, b.churn
		FROM bins b JOIN (SELECT entity_code, `+agg+`(time) AS t FROM bins WHERE entity_type=$1 AND family=$2 AND time <= $3 GROUP BY entity_code) m
		ON b.entity_type=$1 AND b.family=$2 AND b.entity_code=m.entity_code AND b.time=m.t ORDER BY b.entity_code`,
		typ.String(), family.String(), nanos(at))
	if err != nil {
		return nil, fmt.Errorf("%s bins of %s %s: %w", agg, typ, family, err)
	}
	defer rows.Close()
	var out []store.Bin
	for rows.Next() {
		b := store.Bin{EntityType: typ, Family: family}
		var t int64
		if err := rows.Scan(&b.EntityCode, &t, &b.Space, &b.MinSpace, &b.Baseline, &b.Prefixes, &b.Origins, &b.Churn); err != nil {
			return nil, fmt.Errorf("%s bins of %s %s: %w", agg, typ, family, err)
		}
		b.Time = fromNanos(t)
		out = append(out, b)
	}
	return out, rows.Err()
}

var _ store.LatestBinner = (*Store)(nil)

// numbered rewrites the "?" placeholders of q as PostgreSQL's $1, $2, ...
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
