package store_test

import (
	"testing"

	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

// TestSQLiteContract runs the store contract (shared with PostgreSQL)
// against the SQLite store.
func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) store.Store {
		dir := t.TempDir()
		return func(t *testing.T) store.Store {
			t.Helper()
			st, err := store.OpenSQLite(dir)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	})
}
