package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/progress"
	"github.com/blackout-bgp/blackout/internal/source"
)

// Summary is one line on what the fetcher did: files, downloaded (bytes
// and time), from the cache, missing from the archive, failed, and the
// cache directory.
func (f *Fetcher) Summary() string {
	s := &f.Stats
	return fmt.Sprintf("%d files: %d downloaded (%s in %s), %d from the cache, %d missing from the archive, %d failed; cache %s",
		s.FilesTotal.Load(), s.FilesDone.Load()-s.FromCache.Load()-s.Gaps.Load()-s.Failed.Load(), progress.Bytes(s.Bytes.Load()),
		s.Elapsed().Round(time.Millisecond), s.FromCache.Load(), s.Gaps.Load(), s.Failed.Load(), f.Dir)
}

// RangeLine is one line on a replay's plan: the range, the collectors,
// the number of files and the cache directory.
func RangeLine(from, until time.Time, cols []Collector, files int, cacheDir string) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return fmt.Sprintf("%s to %s from %s: %d files; cache %s", from.Format(time.RFC3339), until.Format(time.RFC3339),
		strings.Join(names, ", "), files, cacheDir)
}

// ProgressText is the text of a progress line elapsed after the start:
// files and bytes fetched and the download rate, then, if ps is not nil,
// the files and route events parsed, their rate and the data's clock.
func ProgressText(title string, s *Stats, ps *ParseStats, elapsed time.Duration) string {
	el := elapsed.Seconds()
	line := fmt.Sprintf("%s: files %d/%d (%d cached, %d missing), %s at %s/s", title, s.FilesDone.Load(), s.FilesTotal.Load(),
		s.FromCache.Load(), s.Gaps.Load(), progress.Bytes(s.Bytes.Load()), progress.Bytes(int64(float64(s.Bytes.Load())/el)))
	if n := s.Failed.Load(); n > 0 {
		line += fmt.Sprintf(", %d failed", n)
	}
	if n := s.Retries.Load(); n > 0 {
		line += fmt.Sprintf(", %d retries", n)
	}
	if ps != nil {
		n := ps.Events.Load()
		line += fmt.Sprintf("; parsed %d files, %d events (%.0f/s)", ps.FilesParsed.Load(), n, float64(n)/el)
		if c := ps.Clock(); !c.IsZero() {
			line += ", data clock " + progress.Clock(c)
		}
	}
	return line
}

// EvictExcept bounds the fetcher's cache to maxBytes after a run (see
// Evict), keeping the files of the run's downloads ds. It returns the
// number of files and bytes removed.
func (f *Fetcher) EvictExcept(maxBytes int64, ds []*Download) (files int, bytes int64, err error) {
	keep := make(map[string]bool, len(ds))
	for _, d := range ds {
		keep[f.LocalPath(d.File)] = true
	}
	return Evict(f.Dir, maxBytes, keep)
}

// Listing is a planned file as `blackout archive list --json` prints it.
type Listing struct {
	Collector string    `json:"collector"`
	Project   string    `json:"project"`
	Kind      string    `json:"kind"`
	Time      time.Time `json:"time"`
	End       time.Time `json:"end"`
	URL       string    `json:"url"`
}

// Listing returns the file's listing; End is Time for a RIB.
func (f File) Listing() Listing {
	return Listing{f.Collector, f.Project.String(), string(f.Kind), f.Time, f.Time.Add(f.Span), f.URL}
}

// ListLine is the file's line in `blackout archive list`: collector, kind,
// time and URL in columns, ending in a newline.
func (f File) ListLine() string {
	return fmt.Sprintf("%-22s %-7s %s  %s\n", f.Collector, f.Kind, f.Time.Format("2006-01-02 15:04"), f.URL)
}

// WriteList writes files as `blackout archive list` prints them: one
// ListLine each, or with asJSON one Listing each as a JSON object on its
// own line.
func WriteList(w io.Writer, files []File, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, f := range files {
		var err error
		if asJSON {
			err = enc.Encode(f.Listing())
		} else {
			_, err = io.WriteString(w, f.ListLine())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WhenAllEnd wraps sources (the streams of a replay) so that end is
// called once, when the last of them first returns io.EOF: a replay's
// progress line goes then, before its report. The sources may be read on
// goroutines of their own (source.Merge reads each ahead, as the wrapped
// source's ReadAhead says); end is then called on the goroutine of the
// last source to end, so it must be safe to call from any goroutine.
func WhenAllEnd[S source.Source](srcs []S, end func()) []source.Source {
	left := new(atomic.Int64)
	left.Store(int64(len(srcs)))
	out := make([]source.Source, len(srcs))
	for i, s := range srcs {
		out[i] = &endHook{Source: s, end: func() {
			if left.Add(-1) == 0 {
				end()
			}
		}}
	}
	return out
}

// endHook calls end once, when its source first returns io.EOF.
type endHook struct {
	source.Source
	end  func()
	done bool
}

// ReadAhead reports whether the wrapped source may be read ahead: the
// hook itself keeps only its own state and an atomic count.
func (h *endHook) ReadAhead() bool {
	r, ok := h.Source.(source.AheadReader)
	return ok && r.ReadAhead()
}

// BeforeWait passes f to the wrapped source if it is a source.Blocker.
func (h *endHook) BeforeWait(f func()) {
	if b, ok := h.Source.(source.Blocker); ok {
		b.BeforeWait(f)
	}
}

func (h *endHook) Next() (*bgp.Event, error) {
	ev, err := h.Source.Next()
	if errors.Is(err, io.EOF) && !h.done {
		h.done = true
		h.end()
	}
	return ev, err
}
