package mrt

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"github.com/blackout-bgp/blackout/internal/bgp"
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

// DeferRIBAttrs makes rr leave the attributes of TABLE_DUMP_V2 RIB
// entries undecoded after Next: the caller decodes each such entry's with
// DecodeRIBAttrs, into memory of its own, before the next call of Next
// (the event's Attrs are not valid until then). A reader that keeps the
// events it is handed saves copying them that way.
func (rr *RouteReader) DeferRIBAttrs() { rr.lazyRIB = true }

// DecodeRIBAttrs decodes the attributes of the RIB entry the last Next
// returned into dst, if DeferRIBAttrs left them undecoded, and reports
// whether it did. Where they do not decode, dst holds what did and the
// error goes out with the next call of Next, as without DeferRIBAttrs.
func (rr *RouteReader) DecodeRIBAttrs(dst *bgp.Attrs) bool {
	if !rr.attrsPending {
		return false
	}
	rr.decodeEntryAttrsInto(dst)
	return true
}

// decodeEntryAttrs decodes the attributes of the current TABLE_DUMP_V2
// RIB entry when the reader left them undecoded, and reports whether they
// decoded without error (an error goes out with the next call of Next).
func (rr *RouteReader) decodeEntryAttrs() bool { return rr.decodeEntryAttrsInto(&rr.attrs) }

// decodeEntryAttrsInto is decodeEntryAttrs into dst.
func (rr *RouteReader) decodeEntryAttrsInto(dst *bgp.Attrs) bool {
	if !rr.attrsPending {
		return rr.deferred == nil
	}
	rr.attrsPending = false
	var none []wire.NLRI
	if err := rr.ribAttrs.Decode(rr.entry.Attrs, wire.AttrOptions{AS4: true, RIB: true}, dst, &none, &none); err != nil {
		rr.stats.Errors++
		rr.deferred = rr.recordError(fmt.Errorf("RIB entry for %s from %s: %w", rr.rib.Prefix, rr.ev.Peer.Addr, err))
		return false
	}
	return true
}

// tailCache maps attribute blocks to the end of their `bgpdump -m` line.
// It looks first at the slot of the last block of the same peer (a peer
// often has the same attributes for neighbouring prefixes: 45% of the
// entries of a real RIB), then at the slot the block hashes to, in a
// direct-mapped table where a block evicts the one of the same slot
// (another 20%). It allocates nothing once its slots have grown. Where
// blocks rarely repeat (a synthetic RIB with random communities) the
// lookups cost more than they save: when fewer than one in eight hit, it
// turns itself off for a while, then tries again.
type tailCache struct {
	seed          maphash.Seed
	lookups, hits int
	off           int      // lookups left to skip
	peers         []uint16 // by peer index: the slot of its last block
	missed        uint16   // the slot of the block the last get did not find
	slots         [tailSlots]tailSlot
}

const (
	tailSlots = 1 << 12
	// tailProbe lookups are counted before the hit rate is judged;
	// tailPause are skipped when it is too low.
	tailProbe = 1 << 13
	tailPause = 1 << 18
)

// tailSlot holds an attribute block and its tail, one after the other.
type tailSlot struct {
	data []byte
	klen int // 0: empty
}

func (s *tailSlot) lookup(key []byte) []byte {
	if s.klen == len(key) && s.klen > 0 && bytes.Equal(s.data[:s.klen], key) {
		return s.data[s.klen:]
	}
	return nil
}

func newTailCache() *tailCache { return &tailCache{seed: maphash.MakeSeed()} }

func (c *tailCache) slotOf(key []byte) uint16 {
	return uint16(maphash.Bytes(c.seed, key) & (tailSlots - 1))
}

func (c *tailCache) peer(i uint16) *uint16 {
	for int(i) >= len(c.peers) {
		c.peers = append(c.peers, 0)
	}
	return &c.peers[i]
}

// get returns the tail of attribute block key of peer index peer, or nil.
// When it returns nil with ok false, the cache is off and put need not be
// called.
func (c *tailCache) get(peer uint16, key []byte) (tail []byte, ok bool) {
	if c.off > 0 {
		c.off--
		return nil, false
	}
	c.lookups++
	if c.lookups == tailProbe {
		if c.hits*8 < c.lookups {
			c.off = tailPause
		}
		c.lookups, c.hits = 0, 0
	}
	last := c.peer(peer)
	if t := c.slots[*last].lookup(key); t != nil {
		c.hits++
		return t, true
	}
	i := c.slotOf(key)
	if t := c.slots[i].lookup(key); t != nil {
		c.hits++
		*last = i
		return t, true
	}
	c.missed = i
	return nil, true
}

// put stores the tail of attribute block key of peer index peer, which
// the last get did not find.
func (c *tailCache) put(peer uint16, key, tail []byte) {
	if len(key) > 1024 || len(tail) > 4096 {
		return // rare and large: not worth keeping
	}
	i := c.missed
	s := &c.slots[i]
	s.data = append(append(s.data[:0], key...), tail...)
	s.klen = len(key)
	*c.peer(peer) = i
}
