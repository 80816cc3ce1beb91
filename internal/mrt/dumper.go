package mrt

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// BgpdumpDumper prints the events of a RouteReader as `bgpdump -m` lines,
// faster than AppendBgpdumpLine over RouteReader.Next: the attributes of a
// TABLE_DUMP_V2 RIB entry are decoded only when the line's fields after
// the prefix, which depend on the attribute bytes alone, are not in its
// cache of recent attribute blocks (in a real RIB about two thirds of the
// entries repeat a recent block). The output is the same, line for line.
type BgpdumpDumper struct {
	rr *RouteReader
}

// NewBgpdumpDumper returns a dumper of rr's events. From then on rr's
// events are fit only for AppendBgpdumpLine (which is what Next does with
// them): those of RIB entries no longer carry decoded attributes.
func NewBgpdumpDumper(rr *RouteReader) *BgpdumpDumper {
	rr.lazyRIB = true
	if rr.tails == nil {
		rr.tails = newTailCache()
	}
	return &BgpdumpDumper{rr: rr}
}

// Next reads the next event and appends its line to b (nothing for the
// events bgpdump does not print). Its errors are RouteReader.Next's, with
// io.EOF at the end; a *RecordError is not fatal.
func (d *BgpdumpDumper) Next(b []byte) ([]byte, error) {
	ev, err := d.rr.Next()
	if err != nil {
		return b, err
	}
	return AppendBgpdumpLine(b, d.rr, ev), nil
}

// decodeEntryAttrs decodes the attributes of the current TABLE_DUMP_V2
// RIB entry when the reader left them undecoded, and reports whether they
// decoded without error (an error goes out with the next call of Next).
func (rr *RouteReader) decodeEntryAttrs() bool {
	if !rr.attrsPending {
		return rr.deferred == nil
	}
	rr.attrsPending = false
	var none []wire.NLRI
	if err := rr.ribAttrs.Decode(rr.entry.Attrs, wire.AttrOptions{AS4: true, RIB: true}, &rr.attrs, &none, &none); err != nil {
		rr.stats.Errors++
		rr.deferred = rr.recordError(fmt.Errorf("RIB entry for %s from %s: %w", rr.rib.Prefix, rr.ev.Peer.Addr, err))
		return false
	}
	return true
}

// tailCache maps attribute blocks to the end of their `bgpdump -m` line,
// direct-mapped: a block evicts the one of the same slot. It allocates
// nothing once its slots have grown.
type tailCache struct {
	seed  maphash.Seed
	slots [tailSlots]tailSlot
}

const tailSlots = 1 << 14

type tailSlot struct {
	key, tail []byte
	used      bool
}

func newTailCache() *tailCache { return &tailCache{seed: maphash.MakeSeed()} }

func (c *tailCache) slot(key []byte) *tailSlot {
	return &c.slots[maphash.Bytes(c.seed, key)&(tailSlots-1)]
}

// get returns the tail of attribute block key, or nil.
func (c *tailCache) get(key []byte) []byte {
	s := c.slot(key)
	if s.used && bytes.Equal(s.key, key) {
		return s.tail
	}
	return nil
}

// put stores the tail of attribute block key.
func (c *tailCache) put(key, tail []byte) {
	if len(key) > 1024 || len(tail) > 4096 {
		return // rare and large: not worth keeping
	}
	s := c.slot(key)
	s.key = append(s.key[:0], key...)
	s.tail = append(s.tail[:0], tail...)
	s.used = true
}
