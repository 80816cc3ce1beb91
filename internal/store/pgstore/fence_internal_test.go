package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
)

// TestFencePausedInTransaction: a fenced writer paused inside its write
// transaction (fence row share-locked, the client silent) holds a newer
// writer's Fenced back only until PostgreSQL ends the idle session (the
// handle's idle timeout, FenceIdleTimeout in production); the newer
// writer then fences the store and the paused transaction cannot commit.
func TestFencePausedInTransaction(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.Fenced(ctx, "detect", 1)
	if err != nil {
		t.Fatal(err)
	}
	a.idle = time.Second
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := a.checkFence(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('paused', 'yes')`); err != nil {
		t.Fatal(err)
	}
	// The client pauses here; a newer writer comes.
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := st.Fenced(fctx, "detect", 2); err != nil {
		t.Fatalf("the newer writer's fence behind a paused transaction: %v", err)
	}
	waited := time.Since(start)
	t.Logf("the newer writer fenced the store %s after the pause (idle timeout 1s)", waited.Round(time.Millisecond))
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("the paused transaction committed after the newer writer fenced the store")
	}
	if _, ok, _ := st.Meta(ctx, "paused"); ok {
		t.Error("the paused transaction's write is in the store")
	}
}
