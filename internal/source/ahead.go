package source

import (
	"errors"
	"io"
	"sync"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// ahead reads a source on its own goroutine, a few batches ahead of its
// reader, so that decompressing and decoding one file runs on another core
// than the stages that consume its events (and several files of a merge
// decode at once). A batch goes to the reader when it is full, at the
// source's end, or when the source would wait for input (Blocker). The reader sees exactly the events and errors of the
// source, in order: each event is copied into storage owned by its batch,
// which is reused once the reader has moved past the batch.
type ahead struct {
	src Source
	blk Blocker // src's, or nil
	// ribAttrs is src when it decodes RIB entries' attributes into the
	// batch's own (see ribAttrsDecoder), or nil.
	ribAttrs ribAttrsDecoder
	b        *batch // the batch being filled (run's goroutine only)
	// stopped is set (on run's goroutine) once Stop is seen.
	stopped bool
	full    chan *batch // batches read, in order
	empty   chan *batch // batches the reader is done with
	stop    chan struct{}
	exited  chan struct{} // closed when run returns: src is not read any more
	once    sync.Once
	cur     *batch
	i       int
}

// aheadBatch events per batch, aheadDepth batches in flight.
const (
	aheadBatch = 512
	aheadDepth = 4
)

// batch is a run of a source's events (or errors) and the storage their
// attributes point into.
type batch struct {
	// own are attributes the batch decodes RIB entries' into (see
	// ribAttrsDecoder): each keeps its slices from one fill to the next.
	own   []*ownAttrs
	evs   []bgp.Event
	errs  []error // by event: non-nil where the source returned an error
	end   error   // the source's end (io.EOF or the error that ended it), set on the last batch
	attrs []bgp.Attrs
	segs  []bgp.Segment
	asns  []bgp.ASN
	comms []bgp.Community
	large []bgp.LargeCommunity
	raw   []bgp.RawAttr
	bytes []byte
}

func newAhead(src Source) *ahead {
	a := &ahead{src: src, full: make(chan *batch, aheadDepth), empty: make(chan *batch, aheadDepth+2), stop: make(chan struct{}), exited: make(chan struct{})}
	a.blk, _ = src.(Blocker)
	if d, ok := src.(ribAttrsDecoder); ok {
		d.DeferRIBAttrs()
		a.ribAttrs = d
	}
	for range aheadDepth + 2 {
		a.empty <- &batch{}
	}
	go a.run()
	return a
}

// run reads the source into batches until it ends or Stop is called.
func (a *ahead) run() {
	defer close(a.exited)
	if a.blk != nil {
		a.blk.BeforeWait(a.handOver)
		defer a.blk.BeforeWait(nil)
	}
	for {
		if !a.take() {
			return
		}
		for len(a.b.evs) < aheadBatch {
			ev, err := a.src.Next() // may hand a.b over (handOver) and take another
			if a.stopped {
				return
			}
			b := a.b
			if err != nil {
				if errors.Is(err, io.EOF) || !Skippable(err) {
					b.end = err
					break
				}
				b.evs = append(b.evs, bgp.Event{})
				b.errs = append(b.errs, err)
				continue
			}
			if a.ribAttrs != nil && ev.RIB {
				if o := b.spareAttrs(); a.ribAttrs.DecodeRIBAttrs(&o.a) {
					b.addOwn(ev, o)
					continue
				}
			}
			b.add(ev)
		}
		if !a.send() {
			return
		}
		if a.b.end != nil {
			return
		}
	}
}

// take gets an empty batch into a.b; false when stopped.
func (a *ahead) take() bool {
	select {
	case a.b = <-a.empty:
		a.b.reset()
		return true
	case <-a.stop:
		a.stopped = true
		return false
	}
}

// send hands a.b to the reader; false when stopped.
func (a *ahead) send() bool {
	select {
	case a.full <- a.b:
		return true
	case <-a.stop:
		a.stopped = true
		return false
	}
}

// handOver, called by the source (Blocker) before it waits for input,
// hands the events read so far to the reader and takes a new batch.
func (a *ahead) handOver() {
	if a.stopped || len(a.b.evs) == 0 {
		return
	}
	if a.send() {
		a.take()
	}
}

// Next returns the source's next event or error.
func (a *ahead) Next() (*bgp.Event, error) {
	for a.cur == nil || a.i >= len(a.cur.evs) {
		if a.cur != nil {
			if a.cur.end != nil {
				return nil, a.cur.end
			}
			a.empty <- a.cur
		}
		a.cur, a.i = <-a.full, 0
	}
	i := a.i
	a.i++
	if err := a.cur.errs[i]; err != nil {
		return nil, err
	}
	return &a.cur.evs[i], nil
}

// Stop ends the reading goroutine (the source is not read further). The
// goroutine returns once the call of the source's Next it may be in
// returns; Wait waits for that.
func (a *ahead) Stop() { a.once.Do(func() { close(a.stop) }) }

// Wait returns when the reading goroutine has returned.
func (a *ahead) Wait() { <-a.exited }

// ribAttrsDecoder is a source that can leave RIB entries' attributes
// undecoded after Next and decode them into memory given (File): the
// batch then decodes them into attributes of its own, reused batch after
// batch, instead of copying every event's attributes out of the source's.
type ribAttrsDecoder interface {
	DeferRIBAttrs()
	DecodeRIBAttrs(dst *bgp.Attrs) bool
}

// ownAttrs are attributes a batch decodes a RIB entry's into, with what
// the decoder leaves in memory of its own (the AS path's numbers) or in
// the record (unknown attributes' values) copied into buffers of theirs.
type ownAttrs struct {
	a     bgp.Attrs
	asns  []bgp.ASN
	bytes []byte
}

// detach copies what o.a points to outside itself into o's buffers. A
// buffer that grows leaves the earlier slices in its old array, which
// keeps their values.
func (o *ownAttrs) detach() {
	o.asns, o.bytes = o.asns[:0], o.bytes[:0]
	for i := range o.a.Path.Segments {
		sg := &o.a.Path.Segments[i]
		k := len(o.asns)
		o.asns = append(o.asns, sg.ASNs...)
		sg.ASNs = o.asns[k:len(o.asns):len(o.asns)]
	}
	for i := range o.a.Unknown {
		u := &o.a.Unknown[i]
		k := len(o.bytes)
		o.bytes = append(o.bytes, u.Value...)
		u.Value = o.bytes[k:len(o.bytes):len(o.bytes)]
	}
}

// spareAttrs returns the batch's next own attributes, not taken yet
// (addOwn takes them): those of an earlier fill, or new ones.
func (b *batch) spareAttrs() *ownAttrs {
	n := len(b.own)
	if n == cap(b.own) {
		b.own = append(b.own, nil)[:n]
	}
	if s := b.own[:n+1]; s[n] == nil {
		s[n] = &ownAttrs{}
	}
	return b.own[:n+1][n]
}

// addOwn adds ev with the attributes o, spareAttrs' (decoded into).
func (b *batch) addOwn(ev *bgp.Event, o *ownAttrs) {
	b.own = b.own[:len(b.own)+1]
	o.detach()
	b.evs = append(b.evs, *ev)
	b.errs = append(b.errs, nil)
	b.evs[len(b.evs)-1].Attrs = &o.a
}

func (b *batch) reset() {
	b.own = b.own[:0] // kept, with their slices, for the next fill
	b.evs, b.errs, b.end = b.evs[:0], b.errs[:0], nil
	b.attrs, b.segs, b.asns = b.attrs[:0], b.segs[:0], b.asns[:0]
	b.comms, b.large, b.raw, b.bytes = b.comms[:0], b.large[:0], b.raw[:0], b.bytes[:0]
}

// add copies ev into the batch. The attributes' slices point into the
// batch's slabs; a slab that grows leaves the earlier events pointing into
// its old array, which keeps their values.
func (b *batch) add(ev *bgp.Event) {
	b.evs = append(b.evs, *ev)
	b.errs = append(b.errs, nil)
	if ev.Attrs == nil {
		return
	}
	if cap(b.attrs) == 0 {
		// Attrs are pointed to by the events: the array must not move.
		b.attrs = make([]bgp.Attrs, 0, aheadBatch)
	}
	b.attrs = append(b.attrs, *ev.Attrs)
	c := &b.attrs[len(b.attrs)-1]
	b.evs[len(b.evs)-1].Attrs = c
	src := ev.Attrs
	s0 := len(b.segs)
	for _, sg := range src.Path.Segments {
		a0 := len(b.asns)
		b.asns = append(b.asns, sg.ASNs...)
		b.segs = append(b.segs, bgp.Segment{Type: sg.Type, ASNs: b.asns[a0:len(b.asns):len(b.asns)]})
	}
	c.Path.Segments = b.segs[s0:len(b.segs):len(b.segs)]
	if src.Communities != nil {
		k := len(b.comms)
		b.comms = append(b.comms, src.Communities...)
		c.Communities = b.comms[k:len(b.comms):len(b.comms)]
	}
	if src.LargeCommunities != nil {
		k := len(b.large)
		b.large = append(b.large, src.LargeCommunities...)
		c.LargeCommunities = b.large[k:len(b.large):len(b.large)]
	}
	if src.Unknown != nil {
		k := len(b.raw)
		for _, u := range src.Unknown {
			v := len(b.bytes)
			b.bytes = append(b.bytes, u.Value...)
			b.raw = append(b.raw, bgp.RawAttr{Flags: u.Flags, Type: u.Type, Value: b.bytes[v:len(b.bytes):len(b.bytes)]})
		}
		c.Unknown = b.raw[k:len(b.raw):len(b.raw)]
	}
}
