package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/source"
)

// ParseStats counts what the sources of a replay have parsed, safe for
// concurrent use: the streams, each read on a goroutine of its own, add
// to it, a progress line reads it. A stream adds its events in runs of
// a few thousand (so that streams on different cores do not contend for
// the counters) and at the end of each file.
type ParseStats struct {
	Events      atomic.Int64
	FilesParsed atomic.Int64
	SourcesDone atomic.Int64
	clock       atomic.Int64 // unix microseconds of the latest event
}

// Clock returns the time of the latest event parsed (the data's clock).
func (p *ParseStats) Clock() time.Time {
	us := p.clock.Load()
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// add counts n events, the latest at us (unix microseconds): the clock
// only moves forward.
func (p *ParseStats) add(n, us int64) {
	p.Events.Add(n)
	for {
		c := p.clock.Load()
		if us <= c || p.clock.CompareAndSwap(c, us) {
			return
		}
	}
}

// statsRun is how many events a stream counts before adding them to its
// ParseStats.
const statsRun = 4096

// Stream is the route events of one collector's files, read in time order
// as each file arrives: it waits for a file's download, parses it, then
// goes on with the next. It is a source.Source.
//
// A file missing from the archive (a gap) and a file that cannot be read
// to its end (corrupt or truncated) are returned as a *FileError naming
// the file; it is skippable, so the pipeline reports and counts it as an
// input error before going on with the next file. Event times are checked
// per file (source.CheckTime).
//
// Streams share nothing but their ParseStats (safe for concurrent use),
// so source.Merge reads each on a goroutine of its own (ReadAhead).
type Stream struct {
	ctx        context.Context
	collector  string
	downloads  []*Download
	next       int
	cur        *source.File
	curRC      io.ReadCloser
	curName    string
	curPath    string
	stats      *ParseStats
	beforeWait func()
	pending    int64 // events not yet added to stats
	latest     int64 // the latest of their times, unix microseconds
	done       bool
}

// NewSources groups downloads by collector (each group in time order, RIB
// first) and returns one Source per collector, in the order the collectors
// first appear. stats may be nil.
func NewSources(ctx context.Context, downloads []*Download, stats *ParseStats) []*Stream {
	if stats == nil {
		stats = &ParseStats{}
	}
	files := make([]File, len(downloads))
	byFile := map[File]*Download{}
	for i, d := range downloads {
		files[i] = d.File
		byFile[d.File] = d
	}
	names, per := ByCollector(files)
	out := make([]*Stream, 0, len(names))
	for _, n := range names {
		s := &Stream{ctx: ctx, collector: n, stats: stats}
		for _, f := range per[n] {
			s.downloads = append(s.downloads, byFile[f])
		}
		out = append(out, s)
	}
	return out
}

// Collector returns the collector's name.
func (s *Stream) Collector() string { return s.collector }

// ReadAhead reports true: source.Merge reads the stream on a goroutine of
// its own.
func (s *Stream) ReadAhead() bool { return true }

// BeforeWait sets f to be called before Next waits for a download
// (source.Blocker): the reader ahead (source.Merge) hands over the events
// it holds then.
func (s *Stream) BeforeWait(f func()) { s.beforeWait = f }

// flushStats adds the events counted since the last call to the stats.
func (s *Stream) flushStats() {
	if s.pending > 0 {
		s.stats.add(s.pending, s.latest)
		s.pending = 0
	}
}

// Next returns the next route event; io.EOF after the last file.
func (s *Stream) Next() (*bgp.Event, error) {
	for {
		if s.cur != nil {
			ev, err := s.cur.Next()
			if err == nil {
				s.pending++
				if us := ev.Time.UnixMicro(); us > s.latest {
					s.latest = us
				}
				if s.pending >= statsRun {
					s.flushStats()
				}
				return ev, nil
			}
			if source.Skippable(err) {
				return nil, err // one bad record: the file goes on
			}
			off := s.cur.Reader().Offset()
			name, path := s.curName, s.curPath
			s.closeFile()
			if errors.Is(err, io.EOF) {
				continue
			}
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			// The file cannot be read further: report it, go on with the next.
			return nil, &FileError{Name: name, Offset: off, Err: &skipped{"unreadable from here, the rest of this file is skipped: " + rootMessage(err, name, path), err}}
		}
		if s.next >= len(s.downloads) {
			s.flushStats()
			if !s.done {
				s.done = true
				s.stats.SourcesDone.Add(1)
			}
			return nil, io.EOF
		}
		d := s.downloads[s.next]
		s.next++
		if s.beforeWait != nil {
			select {
			case <-d.Done():
			default:
				s.flushStats()
				s.beforeWait()
			}
		}
		path, err := d.Wait(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			var ge *GapError
			if errors.As(err, &ge) {
				err = &skipped{fmt.Sprintf("gap in the data: %s is not in the archive (HTTP %s); the replay goes on without it", d.File, ge.Status), err}
			}
			return nil, &FileError{Name: d.File.URL, Offset: -1, Err: err}
		}
		rc, err := compress.Open(s.ctx, path)
		if err != nil {
			return nil, &FileError{Name: d.File.URL, Offset: -1, Err: &skipped{"corrupt file, skipped: " + rootMessage(err, d.File.URL, path), err}}
		}
		s.cur = source.NewFile(rc, d.File.URL, s.collector)
		s.curRC = rc
		s.curName, s.curPath = d.File.URL, path
	}
}

func (s *Stream) closeFile() {
	s.flushStats()
	if s.curRC != nil {
		s.curRC.Close()
	}
	s.cur, s.curRC, s.curName = nil, nil, ""
	s.stats.FilesParsed.Add(1)
}

// Close releases the file being read, if any.
func (s *Stream) Close() error {
	if s.curRC != nil {
		err := s.curRC.Close()
		s.cur, s.curRC = nil, nil
		return err
	}
	return nil
}

// FileError is an archive file that is missing (a gap) or cannot be read
// to its end. It is skippable: the stream goes on with the next file.
type FileError struct {
	Name   string // the file's URL
	Offset int64  // where reading stopped in the decompressed file, -1 if it was not read
	Err    error
}

func (e *FileError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("%s: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s: offset %d: %v", e.Name, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Skippable reports true: the stream goes on with the next file.
func (e *FileError) Skippable() bool { return true }

// skipped is an error with a message of its own that keeps the cause.
type skipped struct {
	msg   string
	cause error
}

func (s *skipped) Error() string { return s.msg }
func (s *skipped) Unwrap() error { return s.cause }

// rootMessage is err's text without the prefixes naming the file again
// (its URL and offset, its cache path), which the report already shows.
func rootMessage(err error, url, path string) string {
	msg := err.Error()
	for {
		trimmed := msg
		for _, p := range []string{url + ": ", path + ": ", "open " + path + ": "} {
			trimmed = strings.TrimPrefix(trimmed, p)
		}
		if rest, ok := strings.CutPrefix(trimmed, "offset "); ok {
			if i := strings.Index(rest, ": "); i > 0 && strings.Trim(rest[:i], "0123456789") == "" {
				trimmed = rest[i+2:]
			}
		}
		if trimmed == msg {
			return msg
		}
		msg = trimmed
	}
}
