package partview

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"slices"
	"strings"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

// A checkpoint is a Worker's state (its peers' tables, their ADD-PATH
// routes and per-peer state) as of one route event of the stream, so that
// a worker taking a partition over, or a detector rebuilding one peer's
// table, starts from it and reads only the stream after it.
//
// Encoding (version 1), integers as unsigned varints unless said:
//
//	"BOVC" | version byte (1) | partition | seq | delta seq
//	paths:  count, then each: AS count, ASes..., origin
//	peers:  count, then each (sorted by collector, address, AS):
//	        collector (length, bytes) | address (length byte 0/4/16, bytes) | AS
//	        flags byte (1 up, 2 signals, 4 loading IPv4, 8 loading IPv6, 16 limited)
//	        routes: count, then each (sorted by prefix): prefix, path index
//	        ADD-PATH prefixes: count, then each: prefix, count, then (path id, path index)...
//	CRC-32 (IEEE) of all the bytes before it, 4 bytes big-endian
//
// A prefix is a byte (its family, 4 or 6, plus 0x80 when its address has
// bits beyond its length), its length byte, and its address's first
// ceil(length/8) bytes (all of them with 0x80). A path index counts from
// 1 in the order of the path table.

// CheckpointVersion is the version of the checkpoint encoding this build
// writes and reads.
const CheckpointVersion = 1

const checkpointMagic = "BOVC"

// CheckpointHeader says what a checkpoint covers.
type CheckpointHeader struct {
	Partition int    // the route stream partition
	Seq       uint64 // the last route stream sequence applied to the worker
	DeltaSeq  uint64 // the delta stream's sequence of Seq's delta (0: not known)
}

// Checkpoint is a decoded checkpoint: its header and the Worker it holds.
type Checkpoint struct {
	CheckpointHeader
	Worker *Worker
	Peers  int // the peers decoded (kept)
	Routes int // the routes decoded (kept)
}

// CheckpointError is a checkpoint that cannot be read: Offset is the byte
// at which it went wrong.
type CheckpointError struct {
	Offset int
	Err    error
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("checkpoint: byte offset %d: %v", e.Offset, e.Err)
}

func (e *CheckpointError) Unwrap() error { return e.Err }

// ErrForeign is a checkpoint of another format or version.
var ErrForeign = errors.New("not a blackout view checkpoint of this version")

// AppendCheckpoint appends the worker's state as a checkpoint with header
// h to b. The bytes are the same for two workers with the same tables.
func (w *Worker) AppendCheckpoint(b []byte, h CheckpointHeader) []byte {
	start := len(b)
	b = append(b, checkpointMagic...)
	b = append(b, CheckpointVersion)
	b = binary.AppendUvarint(b, uint64(h.Partition))
	b = binary.AppendUvarint(b, h.Seq)
	b = binary.AppendUvarint(b, h.DeltaSeq)

	peers := make([]bgp.Peer, 0, len(w.peers))
	for p := range w.peers {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, comparePeers)
	// The path table, in the order of first use.
	index := map[*Path]uint64{}
	var paths []*Path
	use := func(p *Path) {
		if _, ok := index[p]; !ok {
			paths = append(paths, p)
			index[p] = uint64(len(paths))
		}
	}
	type sorted struct {
		routes  []netip.Prefix
		addPath []netip.Prefix
	}
	order := make([]sorted, len(peers))
	for i, p := range peers {
		ps := w.peers[p]
		s := &order[i]
		s.routes = make([]netip.Prefix, 0, len(ps.routes))
		for q := range ps.routes {
			s.routes = append(s.routes, q)
		}
		slices.SortFunc(s.routes, netip.Prefix.Compare)
		for _, q := range s.routes {
			use(ps.routes[q])
		}
		for q := range ps.addPath {
			s.addPath = append(s.addPath, q)
		}
		slices.SortFunc(s.addPath, netip.Prefix.Compare)
		for _, q := range s.addPath {
			for _, r := range ps.addPath[q] {
				use(r.path)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(paths)))
	for _, p := range paths {
		b = binary.AppendUvarint(b, uint64(len(p.ASes)))
		for _, a := range p.ASes {
			b = binary.AppendUvarint(b, uint64(a))
		}
		b = binary.AppendUvarint(b, uint64(p.Origin))
	}
	b = binary.AppendUvarint(b, uint64(len(peers)))
	for i, p := range peers {
		ps := w.peers[p]
		b = binary.AppendUvarint(b, uint64(len(p.Collector)))
		b = append(b, p.Collector...)
		a := p.Addr.AsSlice()
		b = append(b, byte(len(a)))
		b = append(b, a...)
		b = binary.AppendUvarint(b, uint64(p.AS))
		var fl byte
		for bit, on := range []bool{ps.up, ps.signals, ps.loading[0], ps.loading[1], ps.limited} {
			if on {
				fl |= 1 << bit
			}
		}
		b = append(b, fl)
		b = binary.AppendUvarint(b, uint64(len(order[i].routes)))
		for _, q := range order[i].routes {
			b = appendPrefix(b, q)
			b = binary.AppendUvarint(b, index[ps.routes[q]])
		}
		b = binary.AppendUvarint(b, uint64(len(order[i].addPath)))
		for _, q := range order[i].addPath {
			rs := ps.addPath[q]
			b = appendPrefix(b, q)
			b = binary.AppendUvarint(b, uint64(len(rs)))
			for _, r := range rs {
				b = binary.AppendUvarint(b, uint64(r.pathID))
				b = binary.AppendUvarint(b, index[r.path])
			}
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

func comparePeers(a, b bgp.Peer) int {
	return cmp.Or(strings.Compare(a.Collector, b.Collector), a.Addr.Compare(b.Addr), cmp.Compare(a.AS, b.AS))
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	a := p.Addr().AsSlice()
	f := byte(4)
	if len(a) == 16 {
		f = 6
	}
	n := (p.Bits() + 7) / 8
	if p.Masked() != p {
		f |= 0x80
		n = len(a)
	}
	b = append(b, f, byte(p.Bits()))
	return append(b, a[:n]...)
}

// DecodeCheckpoint reads a checkpoint written by AppendCheckpoint into a
// new Worker with configuration cfg. keep, if set, says which peers to
// keep (a detector rebuilding one peer's table keeps only that one); the
// others are read and dropped. A checkpoint that cannot be read gives a
// *CheckpointError naming the byte offset (ErrForeign for another format
// or version).
func DecodeCheckpoint(b []byte, cfg view.Config, keep func(bgp.Peer) bool) (*Checkpoint, error) {
	if len(b) < len(checkpointMagic)+1+4 || string(b[:len(checkpointMagic)]) != checkpointMagic {
		n := min(len(b), len(checkpointMagic))
		return nil, &CheckpointError{0, fmt.Errorf("%w (starts with %q)", ErrForeign, b[:n])}
	}
	if v := b[len(checkpointMagic)]; v != CheckpointVersion {
		return nil, &CheckpointError{len(checkpointMagic), fmt.Errorf("%w: version %d, this build reads %d", ErrForeign, v, CheckpointVersion)}
	}
	body := len(b) - 4
	if got, want := crc32.ChecksumIEEE(b[:body]), binary.BigEndian.Uint32(b[body:]); got != want {
		return nil, &CheckpointError{body, fmt.Errorf("checksum %08x, the bytes give %08x (corrupt or truncated, %d bytes)", want, got, len(b))}
	}
	return decodeBody(b[:body], cfg, keep)
}

// reader reads a checkpoint's body, keeping its offset for errors.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(off int, f string, a ...any) {
	if r.err == nil {
		r.err = &CheckpointError{off, fmt.Errorf(f, a...)}
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(r.off, "%s: bad or truncated number", what)
		return 0
	}
	r.off += n
	return v
}

// count reads a count of items taking at least min bytes each.
func (r *reader) count(what string, size int) int {
	at := r.off
	v := r.uvarint(what)
	if r.err == nil && v > uint64((len(r.b)-r.off)/size) {
		r.fail(at, "%s: %d, more than the %d bytes left hold", what, v, len(r.b)-r.off)
		return 0
	}
	return int(v)
}

func (r *reader) bytes(what string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.fail(r.off, "%s: %d bytes, %d left", what, n, len(r.b)-r.off)
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) byte(what string) byte {
	if x := r.bytes(what, 1); x != nil {
		return x[0]
	}
	return 0
}

func (r *reader) uint32(what string) uint32 {
	at := r.off
	v := r.uvarint(what)
	if v > 1<<32-1 {
		r.fail(at, "%s: %d does not fit 32 bits", what, v)
	}
	return uint32(v)
}

func (r *reader) prefix() netip.Prefix {
	at := r.off
	f := r.byte("prefix family")
	bits := int(r.byte("prefix length"))
	if r.err != nil {
		return netip.Prefix{}
	}
	size := 4
	switch f &^ 0x80 {
	case 4:
	case 6:
		size = 16
	default:
		r.fail(at, "prefix family %d", f)
		return netip.Prefix{}
	}
	if bits > size*8 {
		r.fail(at, "prefix length %d for a %d-byte address", bits, size)
		return netip.Prefix{}
	}
	n := (bits + 7) / 8
	if f&0x80 != 0 {
		n = size
	}
	var a [16]byte
	copy(a[:], r.bytes("prefix address", n))
	addr := netip.AddrFrom4([4]byte(a[:4]))
	if size == 16 {
		addr = netip.AddrFrom16(a)
	}
	return netip.PrefixFrom(addr, bits)
}

func (r *reader) path(paths []*Path) *Path {
	at := r.off
	i := r.uvarint("path index")
	if r.err == nil && (i == 0 || i > uint64(len(paths))) {
		r.fail(at, "path index %d of %d paths", i, len(paths))
		return nil
	}
	if r.err != nil {
		return nil
	}
	return paths[i-1]
}

func decodeBody(b []byte, cfg view.Config, keep func(bgp.Peer) bool) (*Checkpoint, error) {
	r := &reader{b: b, off: len(checkpointMagic) + 1}
	if len(b) < r.off {
		return nil, &CheckpointError{0, fmt.Errorf("%w: %d bytes", ErrForeign, len(b))}
	}
	ck := &Checkpoint{Worker: NewWorker(cfg)}
	at := r.off
	part := r.uvarint("partition")
	if part > 1<<20 {
		r.fail(at, "partition %d", part)
	}
	ck.Partition = int(part)
	ck.Seq = r.uvarint("sequence")
	ck.DeltaSeq = r.uvarint("delta sequence")
	w := ck.Worker
	paths := make([]*Path, r.count("paths", 2))
	for i := range paths {
		p := &Path{ASes: make([]bgp.ASN, r.count("path length", 1))}
		for j := range p.ASes {
			p.ASes[j] = bgp.ASN(r.uint32("AS"))
		}
		p.Origin = bgp.ASN(r.uint32("origin"))
		if r.err != nil {
			return nil, r.err
		}
		key := string(appendKey(nil, p.ASes, p.Origin))
		if w.paths[key] != nil {
			r.fail(at, "path %d is there twice", i+1)
			return nil, r.err
		}
		w.paths[key] = p
		paths[i] = p
	}
	var last bgp.Peer
	for i := range r.count("peers", 4) {
		at := r.off
		coll := string(r.bytes("collector", r.count("collector length", 1)))
		var addr netip.Addr
		switch n := r.byte("address length"); n {
		case 0:
		case 4:
			if x := r.bytes("address", 4); x != nil {
				addr = netip.AddrFrom4([4]byte(x))
			}
		case 16:
			if x := r.bytes("address", 16); x != nil {
				addr = netip.AddrFrom16([16]byte(x))
			}
		default:
			r.fail(r.off-1, "address length %d", n)
		}
		peer := bgp.Peer{Collector: coll, Addr: addr, AS: bgp.ASN(r.uint32("peer AS"))}
		if r.err != nil {
			return nil, r.err
		}
		if i > 0 && comparePeers(last, peer) >= 0 {
			r.fail(at, "peer %s out of order (after %s)", peer, last)
			return nil, r.err
		}
		last = peer
		fl := r.byte("peer flags")
		if fl >= 32 {
			r.fail(r.off-1, "peer flags %#x", fl)
		}
		ps := &peerTable{routes: map[netip.Prefix]*Path{}, up: fl&1 != 0, signals: fl&2 != 0, loading: [2]bool{fl&4 != 0, fl&8 != 0}, limited: fl&16 != 0}
		n := r.count("routes", 3)
		for range n {
			at := r.off
			q := r.prefix()
			p := r.path(paths)
			if r.err != nil {
				return nil, r.err
			}
			if ps.routes[q] != nil {
				r.fail(at, "peer %s: route %s twice", peer, q)
				return nil, r.err
			}
			ps.routes[q] = p
			ps.n[fam(q)]++
		}
		for range r.count("ADD-PATH prefixes", 4) {
			at := r.off
			q := r.prefix()
			rs := make([]apRoute, r.count("ADD-PATH routes", 2))
			for j := range rs {
				rs[j] = apRoute{pathID: r.uint32("path id"), path: r.path(paths)}
			}
			if r.err != nil {
				return nil, r.err
			}
			if ps.addPath == nil {
				ps.addPath = map[netip.Prefix][]apRoute{}
			}
			if ps.addPath[q] != nil || len(rs) == 0 {
				r.fail(at, "peer %s: ADD-PATH prefix %s twice or empty", peer, q)
				return nil, r.err
			}
			ps.addPath[q] = rs
		}
		if r.err != nil {
			return nil, r.err
		}
		if keep == nil || keep(peer) {
			w.peers[peer] = ps
			ck.Peers++
			ck.Routes += n
		}
	}
	if r.err == nil && r.off != len(b) {
		r.fail(r.off, "%d bytes after the last peer", len(b)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return ck, nil
}
