// Package storeopen opens the store a command is told to use: a
// PostgreSQL database by its URL (package pgstore), else the SQLite store
// in a directory (package store).
package storeopen

import (
	"context"
	"fmt"

	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
)

// Store is a store that can say where it is (for logs).
type Store interface {
	store.Store
	Path() string // the SQLite file, or the PostgreSQL URL without its password
}

// ErrNotPostgres is returned for a dsn that is not a postgres:// URL.
var ErrNotPostgres = fmt.Errorf("want a postgres:// or postgresql:// URL")

// Open opens the PostgreSQL store at dsn, or else (dsn empty) the SQLite
// store in dataDir.
func Open(ctx context.Context, dataDir, dsn string) (Store, error) {
	if dsn != "" {
		if !pgstore.IsDSN(dsn) {
			return nil, fmt.Errorf("--store %q: %w", dsn, ErrNotPostgres)
		}
		return pgstore.Open(ctx, dsn)
	}
	return store.OpenSQLite(dataDir)
}
