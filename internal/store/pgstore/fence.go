package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/blackout-bgp/blackout/internal/store"
)

// FenceIdleTimeout bounds how long a fenced writer's transaction may sit
// idle (its process paused between two statements, say): PostgreSQL then
// ends the session, releasing the fence row's lock, so that a newer
// writer's Fenced does not wait longer than this for a paused one.
const FenceIdleTimeout = 10 * time.Second

// Fenced makes token the fence named name (if it is at least the token
// the store holds for it) and returns a handle on the same database whose
// every write (Write, PruneBins and the outbox's Sink, SetSinkDone and
// RecordDelivery) first checks, in its own transaction, that the fence
// still holds token, and is refused with store.ErrFenced otherwise. A
// lease's revision is such a token: it only grows, so the holder of a
// newer lease fences out a paused older one, whose late writes are then
// refused. The check takes a share lock on the fence row, so that a newer
// Fenced waits for a write in flight to end and no write of the older
// token commits after it. A token below the store's is refused at once
// (store.ErrFenced). The handle shares s's connections: close s, not it.
func (s *Store) Fenced(ctx context.Context, name string, token int64) (*Store, error) {
	for {
		err := s.claim(ctx, name, token)
		if err == nil {
			return &Store{pool: s.pool, name: s.name, detID: map[int]int64{}, fence: name, token: token, borrowed: true, idle: FenceIdleTimeout}, nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" { // lock_not_available: a write in flight, wait for it
			return nil, s.wrap("fence "+name, err)
		}
		select {
		case <-ctx.Done():
			return nil, s.wrap("fence "+name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// claim raises the fence to token in one transaction.
func (s *Store) claim(ctx context.Context, name string, token int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
		return err
	}
	var got int64
	err = tx.QueryRow(ctx, `INSERT INTO fences (name, token) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET token = excluded.token
		WHERE fences.token <= excluded.token RETURNING token`, name, token).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		var cur int64
		if err := tx.QueryRow(ctx, `SELECT token FROM fences WHERE name = $1`, name).Scan(&cur); err != nil {
			return err
		}
		return fmt.Errorf("%w: token %d is below the store's %d", store.ErrFenced, token, cur)
	}
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Fence returns the handle's fence name and token ("" and 0 when it is
// not fenced).
func (s *Store) Fence() (name string, token int64) { return s.fence, s.token }

// FenceToken returns the token the store holds for the fence named name
// (0 if none).
func (s *Store) FenceToken(ctx context.Context, name string) (int64, error) {
	var cur int64
	err := s.pool.QueryRow(ctx, `SELECT token FROM fences WHERE name = $1`, name).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("fence "+name, err)
	}
	return cur, nil
}

// checkFence checks, in tx, that a fenced handle's token is still the
// store's (nothing for an unfenced one), holding the fence row's share
// lock until tx ends.
func (s *Store) checkFence(ctx context.Context, tx pgx.Tx) error {
	if s.fence == "" {
		return nil
	}
	// One round trip: the idle timeout for this transaction (set_config
	// with is_local) and the token under a share lock.
	var cur int64
	var set string
	err := tx.QueryRow(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $2, true), token FROM fences WHERE name = $1 FOR SHARE`,
		s.fence, strconv.FormatInt(s.idle.Milliseconds(), 10)).Scan(&set, &cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: fence %s is gone (token %d)", store.ErrFenced, s.fence, s.token)
	}
	if err != nil {
		return fmt.Errorf("fence %s: %w", s.fence, err)
	}
	if cur != s.token {
		return fmt.Errorf("%w: fence %s holds token %d, this writer's is %d", store.ErrFenced, s.fence, cur, s.token)
	}
	return nil
}

// errClosed is the error of a write through a closed handle.
var errClosed = errors.New("closed")

// querier is what a write runs its statements on: the pool, or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// guarded runs a write: on the pool for an unfenced handle, in a
// transaction behind the fence check for a fenced one.
func (s *Store) guarded(ctx context.Context, fn func(q querier) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.fence == "" {
		return fn(s.pool)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := s.checkFence(ctx, tx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
