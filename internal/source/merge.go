package source

import (
	"container/heap"
	"errors"
	"io"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// merger merges several sources into one stream in time order. Each source
// keeps its own buffers, so holding one pending event per source needs no
// copy. On equal times RIB entries come first, then the earlier source.
type merger struct {
	h    mergeHeap
	errs []error // errors of the sources, returned by Next before events
}

type mergeItem struct {
	src Source
	ev  *bgp.Event
	idx int
	// ev's time as numbers, compared on every event.
	sec  int64
	nsec int32
}

type mergeHeap []*mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	x, y := h[i], h[j]
	if x.sec != y.sec {
		return x.sec < y.sec
	}
	if x.nsec != y.nsec {
		return x.nsec < y.nsec
	}
	if x.ev.RIB != y.ev.RIB {
		return x.ev.RIB
	}
	return x.idx < y.idx
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// advance reads the item's next event; false at its end.
func (m *merger) advance(it *mergeItem) bool {
	for {
		ev, err := it.src.Next()
		if err == nil {
			it.ev = ev
			it.sec, it.nsec = ev.Time.Unix(), int32(ev.Time.Nanosecond())
			return true
		}
		if errors.Is(err, io.EOF) {
			return false
		}
		if !Skippable(err) {
			// An I/O error ends that source; the merged stream goes on.
			m.errs = append(m.errs, &sourceEnded{err})
			return false
		}
		m.errs = append(m.errs, err)
	}
}

// Merged is one Source made of several, merged in time order (on equal
// times RIB entries first, then the earlier source). Next returns the
// errors of the sources as they come, each skippable for the merged
// stream: a source that fails with an error that is not Skippable ends
// there, the others go on.
//
// Each source that may be read ahead (AheadReader: a File, an archive
// collector's stream) is read on its own goroutine, a few thousand
// events ahead (decompression and MRT decoding of every input run beside
// the stages that consume the stream, on the other cores); the stream is
// the same as reading them in turn. Other sources are read on the
// caller's goroutine. Stop ends that reading when the stream is not read
// to its end.
type Merged struct {
	m       merger
	prev    *mergeItem
	started bool
	srcs    []Source
	aheads  []*ahead
	waits   []*ahead // aheads Stop waits for
	// Serial reads the sources on the caller's goroutine instead (set
	// before the first Next; for comparisons).
	Serial bool
}

// Merge returns the sources merged in time order. Nothing is read before
// the first call of Next.
func Merge(srcs []Source) *Merged {
	return &Merged{srcs: srcs}
}

// sourceEnded is the error that ended one source of a merge: the merged
// stream goes on without it.
type sourceEnded struct{ err error }

func (e *sourceEnded) Error() string   { return e.err.Error() }
func (e *sourceEnded) Unwrap() error   { return e.err }
func (e *sourceEnded) Skippable() bool { return true }

// Next returns the earliest pending event (valid until the next call), or
// io.EOF when every source has ended.
func (m *Merged) Next() (*bgp.Event, error) {
	if !m.started {
		m.started = true
		for i, s := range m.srcs {
			if r, ok := s.(AheadReader); ok && r.ReadAhead() && !m.Serial {
				// Only sources that say so: others (live feeds) may
				// share state that one goroutine is meant to drive.
				a := newAhead(s)
				m.aheads = append(m.aheads, a)
				if _, file := s.(*File); !file {
					m.waits = append(m.waits, a)
				}
				s = a
			}
			it := &mergeItem{src: s, idx: i}
			if m.m.advance(it) {
				m.m.h = append(m.m.h, it)
			}
		}
		heap.Init(&m.m.h)
	} else if m.prev != nil {
		if m.m.advance(m.prev) {
			// Most often the same source is still the earliest: no
			// reordering (heap.Fix's first comparisons, without its
			// interface calls).
			h := m.m.h
			if (len(h) > 1 && h.Less(1, 0)) || (len(h) > 2 && h.Less(2, 0)) {
				heap.Fix(&m.m.h, 0)
			}
		} else {
			heap.Pop(&m.m.h)
		}
	}
	if len(m.m.errs) > 0 {
		err := m.m.errs[0]
		m.m.errs = m.m.errs[1:]
		m.prev = nil // advanced already: its next event waits in the heap
		return nil, err
	}
	if len(m.m.h) == 0 {
		m.prev = nil
		return nil, io.EOF
	}
	m.prev = m.m.h[0]
	return m.prev.ev, nil
}

// Stop ends the reading of the sources ahead of the stream (Next must not
// be called after it). pipeline.Run calls it when the run ends.
//
// For sources other than Files, Stop returns only once their reading
// goroutines have returned, so that the caller may close them right after
// (an archive stream's goroutine may be waiting for a download: it returns
// when the download ends or the stream's context is done). A File's
// reader may be blocked on its input (standard input, a pipe) for ever:
// it is let go, and returns at its next batch.
func (m *Merged) Stop() {
	for _, a := range m.aheads {
		a.Stop()
	}
	for _, a := range m.waits {
		a.Wait()
	}
}

// Undecoded adds the records its sources did not decode, by type name.
func (m *Merged) Undecoded(into map[string]int64) {
	for _, s := range m.srcs {
		if u, ok := s.(Undecoder); ok {
			u.Undecoded(into)
		}
	}
}
