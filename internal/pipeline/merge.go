package pipeline

import (
	"container/heap"
	"errors"
	"io"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// EventSource yields route events; the event stays valid until the next
// call. It returns io.EOF at the end; other errors are not fatal.
type EventSource interface {
	Next() (*bgp.Event, error)
}

// merger merges several sources into one stream in time order. Each source
// keeps its own buffers, so holding one pending event per source needs no
// copy. On equal times RIB entries come first, then the earlier source.
type merger struct {
	h       mergeHeap
	onError func(error)
}

type mergeItem struct {
	src EventSource
	ev  *bgp.Event
	idx int
}

type mergeHeap []*mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	a, b := h[i].ev, h[j].ev
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.RIB != b.RIB {
		return a.RIB
	}
	return h[i].idx < h[j].idx
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newMerger(srcs []EventSource, onError func(error)) *merger {
	m := &merger{onError: onError}
	for i, s := range srcs {
		it := &mergeItem{src: s, idx: i}
		if m.advance(it) {
			m.h = append(m.h, it)
		}
	}
	heap.Init(&m.h)
	return m
}

// advance reads the item's next event; false at its end.
func (m *merger) advance(it *mergeItem) bool {
	for {
		ev, err := it.src.Next()
		if err == nil {
			it.ev = ev
			return true
		}
		if errors.Is(err, io.EOF) {
			return false
		}
		m.onError(err)
		var re *mrt.RecordError
		if !errors.As(err, &re) {
			return false // an I/O error ends that source
		}
	}
}

// next returns the earliest pending event, or nil at the end. The event is
// valid until the next call.
func (m *merger) next(prev *mergeItem) (*bgp.Event, *mergeItem) {
	if prev != nil {
		if m.advance(prev) {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	if len(m.h) == 0 {
		return nil, nil
	}
	return m.h[0].ev, m.h[0]
}

// Merged is one EventSource made of several, merged in time order (on equal
// times RIB entries first, then the earlier source). Errors of the sources
// go to the onError given to Merge; a source that fails with anything but
// a *mrt.RecordError ends there, the others go on.
type Merged struct {
	m    *merger
	prev *mergeItem
}

// Merge returns the sources merged in time order. onError may be nil.
func Merge(srcs []EventSource, onError func(error)) *Merged {
	if onError == nil {
		onError = func(error) {}
	}
	return &Merged{m: newMerger(srcs, onError)}
}

// Next returns the earliest pending event (valid until the next call), or
// io.EOF when every source has ended.
func (m *Merged) Next() (*bgp.Event, error) {
	var ev *bgp.Event
	ev, m.prev = m.m.next(m.prev)
	if ev == nil {
		return nil, io.EOF
	}
	return ev, nil
}

// ChannelSource is an EventSource reading a live source's channel (see
// package source): Next blocks until an event arrives, and returns io.EOF
// once the channel is closed.
type ChannelSource struct {
	ch <-chan bgp.Event
	ev bgp.Event
}

// FromChannel returns an EventSource of ch.
func FromChannel(ch <-chan bgp.Event) *ChannelSource { return &ChannelSource{ch: ch} }

// Next returns the next event of the channel, valid until the next call.
func (c *ChannelSource) Next() (*bgp.Event, error) {
	ev, ok := <-c.ch
	if !ok {
		return nil, io.EOF
	}
	c.ev = ev
	return &c.ev, nil
}
