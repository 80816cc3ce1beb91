// Package cluster runs blackout over several processes: the roles of
// `blackout node` on the bus of package bus (NATS JetStream) and a shared
// store (PostgreSQL, package pgstore).
//
//   - ingest reads a source (the demo, MRT files, live feeds) and publishes
//     its route events, in the source's order, to one replicated stream,
//     on subjects partitioned by vantage point (collector, peer address,
//     peer AS), so that a peer's events stay in order on its partition;
//   - detect holds the detector's lease (a key in a JetStream key-value
//     bucket whose entries expire: a dead holder loses it after the TTL),
//     rebuilds its state by reading the stream from the start, runs the one
//     pipeline of package pipeline over it and writes bins, entities and
//     events to the store; standbys wait for the lease and take over;
//   - view (RunView) claims partitions of the stream (a lease each), keeps
//     those peers' tables (partview.Worker) and publishes each route
//     event's table delta; a detector with FromView keeps no tables and
//     runs its pipeline on a partview.Reducer fed from the stream's order
//     and those deltas;
//   - api serves the HTTP API and dashboard of package server over the
//     shared store, with live notices relayed over the bus.
//
// One logical detector (one writer of every entity) with hot standbys,
// fencing its store writes with its lease's token; not yet detector
// shards by entity, nor per-prefix-block partials.
package cluster

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Subjects and names on the bus.
const (
	StreamName   = "BLACKOUT_EVENTS"
	SubjectRoute = "bo.ev"      // bo.ev.<partition>
	SubjectEOF   = "bo.ctl.eof" // the source ended (replays)
	SubjectAll   = "bo.>"
	// SubjectNotice carries the detector's notices to the api roles (core
	// NATS, not stored: a missed notice is in the store anyway).
	SubjectNotice = "bo.notice"
	// SubjectCoverage carries what the detector judges (event.Coverage as
	// JSON), with every tick, to the api roles' health.
	SubjectCoverage = "bo.status.coverage"
	LeaseBucket     = "blackout_leases"
	LeaseDetect     = "detect"
)

// Message headers of the route stream.
const (
	HeaderSeq    = "Bo-Seq"    // the event's position in the source, from 1
	HeaderSource = "Bo-Source" // a digest of the source's description
)

// DefaultPartitions is the number of route event partitions.
const DefaultPartitions = 16

// Partition returns the partition of a vantage point: FNV-1a of
// (collector, address, AS), then murmur3's finaliser. FNV-1a alone is not
// enough: the low bits of its hash depend only on the low bits of each
// byte, so peers whose addresses differ in their high bits fall in the
// same partition (the demo's 30 peers went to 7 of 16, 10 in one).
func Partition(p bgp.Peer, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(p.Collector))
	h.Write([]byte{0})
	b, _ := p.Addr.MarshalBinary()
	h.Write(b)
	h.Write([]byte{byte(p.AS >> 24), byte(p.AS >> 16), byte(p.AS >> 8), byte(p.AS)})
	return int(fmix32(h.Sum32()) % uint32(n))
}

// fmix32 is murmur3's 32-bit finaliser: every bit of x reaches every bit
// of the result.
func fmix32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}

// MetaPartitioning is the route stream's metadata key naming how its
// events are partitioned (Partitioning); the ingest sets it, and the
// roles reading the stream check it against their --partitions.
const MetaPartitioning = "blackout_partitioning"

// Partitioning names the partition function and count n, as the route
// stream's metadata holds it.
func Partitioning(n int) string {
	if n <= 0 {
		n = DefaultPartitions
	}
	return "fnv1a-fmix32/" + strconv.Itoa(n)
}

// checkPartitioning returns an error when the route stream st was
// partitioned otherwise than in n partitions by Partition (its metadata
// says so; a stream without it was made before the metadata, by the
// FNV-1a partitioning alone).
func checkPartitioning(st jetstream.Stream, n int, role string) error {
	info := st.CachedInfo()
	if info == nil || info.State.Msgs == 0 {
		return nil
	}
	got := info.Config.Metadata[MetaPartitioning]
	if got == "" {
		got = "fnv1a (before " + Partitioning(n) + ")"
	}
	if got != Partitioning(n) {
		return fmt.Errorf("%s: the route stream %s is partitioned as %s, this node's --partitions %d as %s: use the ingest's --partitions, or purge the stream",
			role, StreamName, got, n, Partitioning(n))
	}
	return nil
}

// wireEvent is the JSON form of a route event on the bus, written before
// the binary form (binary.go) and still read: every field of bgp.Event
// but SignalsReady, the time as unix nanoseconds.
type wireEvent struct {
	T         int64        `json:"t"`
	Kind      uint8        `json:"k"`
	Collector string       `json:"c,omitempty"`
	Addr      netip.Addr   `json:"a"`
	AS        uint32       `json:"as"`
	Prefix    netip.Prefix `json:"p,omitzero"`
	PathID    uint32       `json:"id,omitempty"`
	Attrs     *bgp.Attrs   `json:"at,omitempty"`
	Old       uint16       `json:"o,omitempty"`
	New       uint16       `json:"n,omitempty"`
	RIB       bool         `json:"r,omitempty"`
	Multicast bool         `json:"m,omitempty"`
}

// Encode returns the wire form of ev: the binary form (AppendEvent).
func Encode(ev *bgp.Event) ([]byte, error) {
	return AppendEvent(make([]byte, 0, 64+eventAttrsSize(ev.Attrs)), ev), nil
}

// eventAttrsSize estimates the bytes of a's binary form.
func eventAttrsSize(a *bgp.Attrs) int {
	if a == nil {
		return 0
	}
	n := 48 + 5*len(a.Communities) + 15*len(a.LargeCommunities)
	for _, s := range a.Path.Segments {
		n += 2 + 5*len(s.ASNs)
	}
	for _, u := range a.Unknown {
		n += 4 + len(u.Value)
	}
	return n
}

// encodeJSON returns the JSON form of ev, as Encode wrote it before the
// binary form (for tests and benchmarks of the readers).
func encodeJSON(ev *bgp.Event) ([]byte, error) {
	w := wireEvent{T: ev.Time.UnixNano(), Kind: uint8(ev.Kind), Collector: ev.Peer.Collector, Addr: ev.Peer.Addr, AS: uint32(ev.Peer.AS),
		Prefix: ev.Prefix, PathID: ev.PathID, Attrs: ev.Attrs, Old: uint16(ev.OldState), New: uint16(ev.NewState), RIB: ev.RIB, Multicast: ev.Multicast}
	return json.Marshal(&w)
}

// Decode parses the wire form of a route event, binary or JSON (told
// apart by the first byte).
func Decode(b []byte) (bgp.Event, error) { return decodeEvent(b, nil) }

// decodeEvent is Decode reusing what dec keeps (nil: nothing) when the
// message is binary: the event is valid until the next call with dec.
func decodeEvent(b []byte, dec *eventDecoder) (bgp.Event, error) {
	if len(b) > 0 && b[0] == tagEventV1 {
		return decodeBinaryEvent(b, dec)
	}
	if len(b) > 0 && b[0] >= 0x80 {
		return bgp.Event{}, fmt.Errorf("route event: byte offset 0: format tag %#x, not %#x (binary, version 1) nor JSON", b[0], tagEventV1)
	}
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return bgp.Event{}, fmt.Errorf("route event: %w", err)
	}
	k := bgp.EventKind(w.Kind)
	if k < bgp.Announce || k > bgp.EndOfRIB {
		return bgp.Event{}, fmt.Errorf("route event: kind %d", w.Kind)
	}
	if k != bgp.PeerState && !w.Prefix.IsValid() {
		return bgp.Event{}, fmt.Errorf("route event: %s without a prefix", k)
	}
	if k == bgp.Announce && w.Attrs == nil {
		w.Attrs = &bgp.Attrs{}
	}
	return bgp.Event{Time: time.Unix(0, w.T).UTC(), Kind: k, Peer: bgp.Peer{Collector: w.Collector, Addr: w.Addr, AS: bgp.ASN(w.AS)},
		Prefix: w.Prefix, PathID: w.PathID, Attrs: w.Attrs, OldState: bgp.State(w.Old), NewState: bgp.State(w.New), RIB: w.RIB, Multicast: w.Multicast}, nil
}
