// Package admin holds the maintenance commands of a blackout store, run
// beside or instead of `blackout serve`: check the database file, rebuild
// a damaged one (moving it aside and replaying the sources), list the
// alerts given up on (dead letters) and send them again. cmd/blackout
// parses the flags and calls these.
package admin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to read a damaged file

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

// ErrProblems is returned by Check when the file is damaged (exit status 1).
var ErrProblems = errors.New("the store is damaged")

// Check runs a full integrity check of the store in dir and prints what
// it found.
func Check(ctx context.Context, w io.Writer, dir string) error {
	r, err := store.Check(ctx, dir)
	if err != nil {
		return err
	}
	if len(r.Problems) == 0 {
		dt := r.DataTime
		if dt == "" {
			dt = "none"
		}
		fmt.Fprintf(w, "%s: ok (%d events, %d notices, data time %s)\n", r.Path, r.Events, r.Notices, dt)
		return nil
	}
	fmt.Fprintf(w, "%s: damaged (%d problems):\n", r.Path, len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintf(w, "Rebuild it from the sources: blackout store rebuild --data %s FILE... (or --demo); the damaged file is moved aside.\n", dir)
	return ErrProblems
}

// RebuildOptions configure Rebuild.
type RebuildOptions struct {
	Dir string
	// The sources replayed into the new store: the embedded scenario, or
	// MRT files (merged in time order); neither: only move the damaged
	// file aside.
	Demo  bool
	Files []string
	// Options are the pipeline's (zero: the defaults over Geo, with the
	// old store's bin width when it can be read).
	Options pipeline.Options
	Geo     *geo.DB // default geo.Default()
	Logger  *slog.Logger
}

// IDs is a repeatable flag of dead-letter ids (flag.Value).
type IDs []int64

// String implements flag.Value.
func (ids *IDs) String() string { return fmt.Sprint([]int64(*ids)) }

// Set implements flag.Value.
func (ids *IDs) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a dead letter's id (a positive number), got %q", v)
	}
	*ids = append(*ids, n)
	return nil
}

// Rebuild moves the store in o.Dir aside and builds a new one: from the
// source if one is given (as `serve --speed max` would), so that a serve
// started afterwards with the same sources finds it complete. No alert is
// sent again for what the old store had announced (the bin width is the
// old store's when it can be read): the notices the
// rebuild replays are marked as sent (store.MetaAlertsFloor), and without
// a source the data time the old store had reached is kept as the start
// of the new outbox (store.MetaOutboxFrom).
func Rebuild(ctx context.Context, w io.Writer, o RebuildOptions) error {
	var src source.Source
	switch {
	case o.Demo:
		src = source.Merge(demo.Sources())
	case len(o.Files) > 0:
		files, err := source.OpenFiles(ctx, o.Files)
		if err != nil {
			return err
		}
		srcs := make([]source.Source, len(files))
		for i, f := range files {
			defer f.Close()
			srcs[i] = f
		}
		src = source.Merge(srcs)
	}
	oldTime, oldBin := readMeta(ctx, o.Dir, store.MetaDataTime), readMeta(ctx, o.Dir, store.MetaBin)
	if _, err := os.Stat(filepath.Join(o.Dir, store.FileName)); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(w, "no store in %s yet: building one\n", o.Dir)
	} else {
		moved, err := store.MoveAside(o.Dir, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "moved the old store to %s\n", moved)
	}
	st, err := store.OpenSQLite(o.Dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if src == nil {
		if oldTime == "" {
			fmt.Fprintln(w, "warning: the old store's data time could not be read: a serve replaying the sources will send their alerts again")
		} else if err := setMeta(ctx, st, store.MetaOutboxFrom, oldTime); err != nil {
			return err
		}
		fmt.Fprintf(w, "new empty store %s; start `blackout serve --data %s` with the same sources to replay them into it\n", st.Path(), o.Dir)
		return nil
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, Geo: o.Geo, Logger: log})
	if err != nil {
		return err
	}
	if o.Geo == nil {
		if o.Geo, err = geo.Default(); err != nil {
			return err
		}
	}
	opts := o.Options
	if opts.Config.Geo == nil {
		opts.Config = pipeline.DefaultConfig(o.Geo)
	}
	opts.Speed = 0
	if d, err := time.ParseDuration(oldBin); err == nil && d > 0 && opts.Bin == 0 {
		opts.Bin = d
	}
	res, runErr := eng.Run(ctx, src, opts)
	if err := eng.Close(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if runErr != nil {
		return fmt.Errorf("rebuild: %w", runErr)
	}
	last, err := st.LastNoticeSeq(ctx)
	if err != nil {
		return err
	}
	if err := setMeta(ctx, st, store.MetaAlertsFloor, strconv.FormatInt(last, 10)); err != nil {
		return err
	}
	fmt.Fprintf(w, "rebuilt %s: %d route events up to %s, %d events, %d notices (marked as sent)\n", st.Path(), res.RouteEvents,
		eng.DataTime().Format(time.RFC3339), eng.Events(), last)
	return nil
}

func setMeta(ctx context.Context, st *store.SQLite, k, v string) error {
	_, err := st.Write(ctx, &store.Batch{Meta: map[string]string{k: v}})
	return err
}

// readMeta reads what it can of a (maybe damaged) store's metadata.
func readMeta(ctx context.Context, dir, key string) string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.FileName)+"?mode=ro")
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	_ = db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v
}

// Dead prints the dead letters of the store in dir (the latest first).
func Dead(ctx context.Context, w io.Writer, dir, sink string, limit int, asJSON bool) error {
	st, err := store.OpenSQLite(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	dls, err := st.DeadLetters(ctx, store.DeadFilter{Sink: sink, Limit: limit})
	if err != nil {
		return err
	}
	if asJSON {
		type row struct {
			ID       int64       `json:"id"`
			Sink     string      `json:"sink"`
			Attempts int         `json:"attempts"`
			Error    string      `json:"error"`
			Time     time.Time   `json:"time"`
			Type     string      `json:"type"`
			Event    interface{} `json:"event"`
		}
		out := make([]row, len(dls))
		for i, d := range dls {
			out[i] = row{d.Seq, d.Sink, d.Attempts, d.Error, d.Time, string(d.Notice.Type), &dls[i].Notice.Event}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"dead_letters": out})
	}
	if len(dls) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	for _, d := range dls {
		n := alert.Notice{Seq: d.Seq, Type: d.Notice.Type, Event: d.Notice.Event, Time: d.Notice.Time}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d attempts\t%s\t%s\n", d.Seq, d.Sink, d.Time.UTC().Format("2006-01-02 15:04:05Z"), d.Attempts,
			oneLine(d.Error, 120), oneLine(alert.Text(&n), 160))
	}
	fmt.Fprintf(w, "%d dead letters; send them again with: blackout alerts resend --data %s --config FILE --all (or --id N)\n", len(dls), dir)
	return nil
}

// Resend sends dead letters again to their sinks, as configured in cfg:
// the ones with the given ids (notice sequence numbers), or all of them
// (of one sink if sink is set). It returns an error when some stayed dead.
func Resend(ctx context.Context, w io.Writer, dir string, cfg alert.Config, ids []int64, sink string, log *slog.Logger) error {
	st, err := store.OpenSQLite(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	dls, err := st.DeadLetters(ctx, store.DeadFilter{Sink: sink, Seqs: ids, Limit: 100000})
	if err != nil {
		return err
	}
	if len(dls) == 0 {
		fmt.Fprintln(w, "no dead letters to send")
		return nil
	}
	d, err := alert.New(cfg, alert.Options{Outbox: st, Logger: log})
	if err != nil {
		return err
	}
	failed := 0
	// The oldest first, so that an event's notices go in order.
	for i := len(dls) - 1; i >= 0; i-- {
		dl := dls[i]
		del, err := d.Resend(ctx, dl)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(w, "%d\t%s\tnot sent: %v\n", dl.Seq, dl.Sink, err)
		case del.State == store.Delivered:
			fmt.Fprintf(w, "%d\t%s\tdelivered\n", dl.Seq, dl.Sink)
		default:
			failed++
			fmt.Fprintf(w, "%d\t%s\tstill dead after %d attempts: %s\n", dl.Seq, dl.Sink, del.Attempts, oneLine(del.Error, 120))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d not delivered", failed, len(dls))
	}
	return nil
}

// oneLine makes s printable on one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
