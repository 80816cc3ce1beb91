package pgstore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPostgresContract runs the store contract (shared with SQLite)
// against a real PostgreSQL server.
func TestPostgresContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) store.Store {
		dsn := pgtest.DB(t)
		return func(t *testing.T) store.Store { return open(t, dsn) }
	})
}

// TestPostgresContractFenced runs the contract through fenced handles
// (every write behind the fence check): fencing changes no semantics.
func TestPostgresContractFenced(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) store.Store {
		dsn := pgtest.DB(t)
		return func(t *testing.T) store.Store {
			parent := open(t, dsn)
			t.Cleanup(func() { parent.Close() })
			f, err := parent.Fenced(context.Background(), "detect", 1)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	})
}

// TestOpenConcurrently: several nodes opening one fresh database at once
// all get the schema (the advisory lock serialises its creation).
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.DB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := pgstore.Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			st.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBadDSN(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://nobody:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if s := err.Error(); !strings.Contains(s, "127.0.0.1:1") || strings.Contains(s, "secret") {
		t.Errorf("error %q: want the address named and the password left out", s)
	}
}

// TestFencedWrites: once a writer with a higher token fenced the store,
// every kind of write of the older token's handle is refused with
// store.ErrFenced and changes nothing, while the newer one writes; a
// token below the store's cannot fence it back.
func TestFencedWrites(t *testing.T) {
	ctx := context.Background()
	st := open(t, pgtest.DB(t))
	defer st.Close()
	meta := func(v string) *store.Batch { return &store.Batch{Meta: map[string]string{"writer": v}} }
	a, err := st.Fenced(ctx, "detect", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(ctx, meta("a")); err != nil {
		t.Fatalf("the only writer's write: %v", err)
	}
	b, err := st.Fenced(ctx, "detect", 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(ctx, meta("a, late")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("late write of the fenced writer: %v, want ErrFenced", err)
	}
	if _, err := a.PruneBins(ctx, time.Now()); !errors.Is(err, store.ErrFenced) {
		t.Errorf("late prune: %v, want ErrFenced", err)
	}
	if err := a.RecordDelivery(ctx, store.Delivery{Seq: 1, Sink: "x", State: store.Delivered}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("late delivery record: %v, want ErrFenced", err)
	}
	if err := a.SetSinkDone(ctx, "x", 3); !errors.Is(err, store.ErrFenced) {
		t.Errorf("late sink progress: %v, want ErrFenced", err)
	}
	if _, _, err := a.Sink(ctx, "x"); !errors.Is(err, store.ErrFenced) {
		t.Errorf("late sink registration: %v, want ErrFenced", err)
	}
	if _, err := st.Fenced(ctx, "detect", 6); !errors.Is(err, store.ErrFenced) {
		t.Errorf("fencing with an older token: %v, want ErrFenced", err)
	}
	if v, _, _ := st.Meta(ctx, "writer"); v != "a" {
		t.Errorf("after the refused write the store holds writer=%q, want %q", v, "a")
	}
	if dl, err := st.DeadLetters(ctx, store.DeadFilter{}); err != nil || len(dl) != 0 {
		t.Errorf("dead letters after refused writes: %v, %v", dl, err)
	}
	if _, err := b.Write(ctx, meta("b")); err != nil {
		t.Fatalf("the newer writer's write: %v", err)
	}
	if v, _, _ := st.Meta(ctx, "writer"); v != "b" {
		t.Errorf("store holds writer=%q, want %q", v, "b")
	}
	// The same token again (a writer re-fencing after a reconnect) is allowed.
	if _, err := st.Fenced(ctx, "detect", 7); err != nil {
		t.Errorf("re-fencing with the same token: %v", err)
	}
	if tok, err := st.FenceToken(ctx, "detect"); err != nil || tok != 7 {
		t.Errorf("fence token %d, %v; want 7", tok, err)
	}
	// Another fence name is independent.
	if _, err := st.Fenced(ctx, "alerts", 1); err != nil {
		t.Errorf("a second fence: %v", err)
	}
}

// BenchmarkWrite writes batches of 100 bins and one meta value through an
// unfenced handle and through a fenced one (the detector's: each
// transaction also sets its idle timeout and reads the fence row FOR
// SHARE), on a real PostgreSQL.
func BenchmarkWrite(b *testing.B) {
	dsn := pgtest.DB(b)
	st, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fenced, err := st.Fenced(context.Background(), "detect", 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		st   *pgstore.Store
	}{{"unfenced", st}, {"fenced", fenced}} {
		b.Run(c.name, func(b *testing.B) {
			t0 := time.Date(2014, 12, 22, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				batch := &store.Batch{Meta: map[string]string{"bench": "x"}}
				for j := range 100 {
					batch.Bins = append(batch.Bins, store.Bin{EntityType: event.OriginAS, EntityCode: strconv.Itoa(j), Family: bgp.IPv4,
						Time: t0.Add(time.Duration(i) * 5 * time.Minute), Space: float64(j)})
				}
				if _, err := c.st.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
