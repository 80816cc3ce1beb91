package pgstore_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

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
