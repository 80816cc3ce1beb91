package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
)

// ErrCorrupt marks a store whose database file is damaged.
var ErrCorrupt = errors.New("the store's database file is damaged")

// SQLite's primary result codes that say what went wrong with the file.
const (
	codePerm     = 3
	codeBusy     = 5
	codeReadOnly = 8
	codeIOErr    = 10
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeNotADB   = 26
)

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// Describe says in plain words what a store error means, without SQL
// internals: what the API and the health check tell clients. The full
// error goes to the log.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, ErrCorrupt):
		return "the database file is damaged"
	case errors.Is(err, syscall.ENOSPC):
		return "no space left on the device"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the request was cancelled"
	}
	switch sqliteCode(err) {
	case codeFull:
		return "no space left on the device (database or disk is full)"
	case codeIOErr:
		return "an I/O error on the database file"
	case codeCorrupt, codeNotADB:
		return "the database file is damaged"
	case codeReadOnly, codePerm:
		return "the database file cannot be written (read-only or no permission)"
	case codeCantOpen:
		return "the database file cannot be opened"
	case codeBusy:
		return "the database is busy (another process holds it)"
	}
	return "a storage error (see the log)"
}

// IsCorrupt reports whether err says the database file is damaged.
func IsCorrupt(err error) bool {
	c := sqliteCode(err)
	return errors.Is(err, ErrCorrupt) || c == codeCorrupt || c == codeNotADB
}

// quickCheck runs PRAGMA quick_check (O(size of the file), without the
// index cross-checks of integrity_check).
func quickCheck(db *sql.DB) error {
	probs, err := check(context.Background(), db, "quick_check", 10)
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		var lines []string
		for _, p := range probs {
			for _, l := range strings.Split(p, "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "***") {
					lines = append(lines, l)
				}
			}
		}
		msg := strings.Join(lines, "; ")
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return fmt.Errorf("%w (PRAGMA quick_check: %s)", ErrCorrupt, msg)
	}
	return nil
}

// check runs an integrity pragma and returns the problems it lists.
func check(ctx context.Context, db *sql.DB, pragma string, max int) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", pragma, max))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var probs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s != "ok" {
			probs = append(probs, s)
		}
	}
	return probs, rows.Err()
}

// corrupt turns an error opening the store into one that names the file
// and the way out, when it says the file is damaged.
func corrupt(path, dir string, err error) error {
	if !IsCorrupt(err) {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w (%v)", ErrCorrupt, err)
	}
	return fmt.Errorf("store %s: %w; check it with `blackout store check --data %s`, then rebuild it from the sources with `blackout store rebuild --data %s FILE...` (or --demo), which moves the damaged file aside", path, err, dir, dir)
}

// CheckResult is what Check found.
type CheckResult struct {
	Path     string
	Problems []string // empty: the file is sound
	Notices  int64    // notices in the outbox
	Events   int64
	DataTime string // the data time reached ("" if none)
}

// Check runs PRAGMA integrity_check over the store in dir (read-only,
// without creating anything) and reports what it found. An error means the
// file could not be read at all.
func Check(ctx context.Context, dir string) (*CheckResult, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	defer db.Close()
	r := &CheckResult{Path: path}
	probs, err := check(ctx, db, "integrity_check", 100)
	if err != nil {
		if IsCorrupt(err) {
			r.Problems = []string{Describe(err) + ": " + err.Error()}
			return r, nil
		}
		return nil, fmt.Errorf("store %s: integrity check: %w", path, err)
	}
	r.Problems = probs
	if len(probs) == 0 {
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&r.Events)
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM notices`).Scan(&r.Notices)
		_ = db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, MetaDataTime).Scan(&r.DataTime)
	}
	return r, nil
}

// MoveAside renames the store's files in dir (the database and its WAL
// and shared-memory files) to NAME.damaged-TIME, so that a new store can
// be built in its place, and returns the new name of the database.
func MoveAside(dir string, now time.Time) (string, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	suffix := ".damaged-" + now.UTC().Format("20060102T150405Z")
	for _, ext := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+ext, path+suffix+ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("store %s: move aside: %w", path+ext, err)
		}
	}
	return path + suffix, nil
}
