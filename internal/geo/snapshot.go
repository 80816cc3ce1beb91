package geo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The snapshot is the compact binary form of a DB: the magic line, then a
// zstd stream of
//
//	uvarint nsources, each: kind, name (uvarint length + bytes), date (uvarint Unix seconds), records (uvarint)
//	five maps: IPv4->country, IPv6->country, IPv4->AS, IPv6->AS, AS->country;
//	  each: uvarint n, then n run starts as deltas (32-bit maps: uvarint;
//	  IPv6 maps: uvarint delta of the high 64 bits, then uvarint of the low
//	  64 bits, a delta when the high bits did not change), then n values
//	  (uvarint; countries as c0<<8|c1, 0 = no data), then n source bytes
//	AS names: uvarint n, n AS number deltas, n source bytes, n name lengths, the names
//
// Columns are stored apart so that zstd finds their regularities.
const snapshotMagic = "blackout-geo-snapshot-1\n"

// WriteSnapshot writes db in the snapshot form.
func WriteSnapshot(w io.Writer, db *DB) error {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(db.srcs)-1))
	for _, s := range db.srcs[1:] {
		b = appendString(b, s.Kind)
		b = appendString(b, s.Name)
		var d uint64
		if !s.Date.IsZero() {
			d = uint64(s.Date.Unix())
		}
		b = binary.AppendUvarint(b, d)
		b = binary.AppendUvarint(b, uint64(s.Records))
	}
	b = appendFlat(b, db.cc4.flat(), false)
	b = appendFlat(b, db.cc6.flat(), true)
	b = appendFlat(b, db.as4.flat(), false)
	b = appendFlat(b, db.as6.flat(), true)
	b = appendFlat(b, db.asCC.flat(), false)
	n := db.name.len() // in ascending AS order
	b = binary.AppendUvarint(b, uint64(n))
	prev := uint32(0)
	for i := range n {
		a, _ := db.name.at(i)
		b = binary.AppendUvarint(b, uint64(a-prev))
		prev = a
	}
	for i := range n {
		_, r := db.name.at(i)
		b = append(b, r.src)
	}
	for i := range n {
		_, r := db.name.at(i)
		b = binary.AppendUvarint(b, uint64(len(r.name)))
	}
	for i := range n {
		_, r := db.name.at(i)
		b = append(b, r.name...)
	}
	if _, err := io.WriteString(w, snapshotMagic); err != nil {
		return fmt.Errorf("geo: writing snapshot: %w", err)
	}
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("geo: writing snapshot: %w", err)
	}
	if _, err := enc.Write(b); err != nil {
		enc.Close()
		return fmt.Errorf("geo: writing snapshot: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("geo: writing snapshot: %w", err)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFlat(b []byte, f flat, v6 bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	var prev u128
	for _, e := range f {
		if v6 {
			dh := e.start.hi - prev.hi
			b = binary.AppendUvarint(b, dh)
			if dh == 0 {
				b = binary.AppendUvarint(b, e.start.lo-prev.lo)
			} else {
				b = binary.AppendUvarint(b, e.start.lo)
			}
		} else {
			b = binary.AppendUvarint(b, e.start.lo-prev.lo)
		}
		prev = e.start
	}
	for _, e := range f {
		b = binary.AppendUvarint(b, uint64(e.val))
	}
	for _, e := range f {
		b = append(b, e.src)
	}
	return b
}

// errSnapshot marks a corrupt snapshot.
var errSnapshot = errors.New("corrupt snapshot")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errSnapshot
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errSnapshot
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b))+1 {
		r.err = errSnapshot
		return 0
	}
	return int(n)
}

// readSnapshot decodes a snapshot into a builder, with source indices
// shifted past the sources already in it.
func readSnapshot(data []byte, b *builder, path string) error {
	if !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		return fmt.Errorf("geo: %s: not a blackout geo snapshot", path)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("geo: %s: %w", path, err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(data[len(snapshotMagic):], nil)
	if err != nil {
		return fmt.Errorf("geo: %s: %w", path, err)
	}
	r := &reader{b: raw}
	ns := r.count()
	base := len(b.srcs) - 1
	if base+ns >= 255 {
		return fmt.Errorf("geo: %s: too many sources", path)
	}
	for i := 0; i < ns; i++ {
		s := &Dataset{Kind: string(r.bytes(r.uvarint())), Name: string(r.bytes(r.uvarint())), Path: path}
		if d := r.uvarint(); d != 0 {
			s.Date = time.Unix(int64(d), 0).UTC()
		}
		s.Records = int(r.uvarint())
		b.srcs = append(b.srcs, s)
	}
	shift := func(s byte) (uint8, bool) {
		if s == 0 {
			return 0, true
		}
		if int(s) > ns {
			return 0, false
		}
		return uint8(int(s) + base), true
	}
	readFlat := func(v6 bool) flat {
		n := r.count()
		if r.err != nil || n == 0 {
			r.err = errSnapshot
			return nil
		}
		f := make(flat, n)
		var prev u128
		for i := range f {
			if v6 {
				dh := r.uvarint()
				lo := r.uvarint()
				if dh == 0 {
					lo += prev.lo
				}
				prev = u128{prev.hi + dh, lo}
			} else {
				prev.lo += r.uvarint()
			}
			f[i].start = prev
		}
		for i := range f {
			f[i].val = uint32(r.uvarint())
		}
		src := r.bytes(uint64(n))
		for i := range f {
			if r.err != nil {
				return nil
			}
			s, ok := shift(src[i])
			if !ok {
				r.err = errSnapshot
				return nil
			}
			f[i].src = s
		}
		return f
	}
	top := []*flat{&b.cc4, &b.cc6, &b.as4, &b.as6, &b.asCC}
	for i, v6 := range []bool{false, true, false, true, false} {
		f := readFlat(v6)
		if r.err != nil {
			return fmt.Errorf("geo: %s: %w", path, r.err)
		}
		*top[i] = overlay(*top[i], f)
	}
	n := r.count()
	asns := make([]uint32, n)
	prev := uint32(0)
	for i := range asns {
		prev += uint32(r.uvarint())
		asns[i] = prev
	}
	srcs := r.bytes(uint64(n))
	lens := make([]uint64, n)
	for i := range lens {
		lens[i] = r.uvarint()
	}
	for i, a := range asns {
		name := r.bytes(lens[i])
		if r.err != nil {
			break
		}
		s, ok := shift(srcs[i])
		if !ok {
			r.err = errSnapshot
			break
		}
		b.names[a] = nameRec{name: string(name), src: s}
	}
	if r.err != nil {
		return fmt.Errorf("geo: %s: %w", path, r.err)
	}
	return nil
}

// SnapshotInput is one file of a snapshot build and the source it stands
// for. Inputs with the same Name share one Source.
type SnapshotInput struct {
	Path string
	Name string
	Date time.Time
}

// BuildSnapshot loads inputs without the default or cache (later inputs win),
// optionally derives AS countries (see below), writes the snapshot to w and
// returns the DB it holds.
//
// With deriveASCountry, every AS that has address space in an address->AS
// input but no registered country gets the country that holds most of its
// IPv4 addresses (IPv6 /64s for IPv6-only ASes), as a Source of kind
// "derived". This is a best-effort stand-in, used for the embedded snapshot
// because its public inputs carry no AS->country table; the RIR delegated
// files (`geo update`, --geo) give the registered country and override it.
func BuildSnapshot(w io.Writer, inputs []SnapshotInput, deriveAS bool) (*DB, error) {
	b := newBuilder()
	byName := map[string]*Dataset{}
	for _, in := range inputs {
		l, err := LoadFile(in.Path)
		if err != nil {
			return nil, err
		}
		if in.Name != "" {
			s := byName[in.Name]
			if s == nil {
				s = &Dataset{Kind: "snapshot", Name: in.Name, Date: in.Date}
				byName[in.Name] = s
			}
			s.Records += l.layer.src.Records
			s.Skipped += l.layer.src.Skipped
			l.layer.src = s
		}
		if err := b.add(l.layer); err != nil {
			return nil, err
		}
	}
	db := b.build()
	if deriveAS {
		var date time.Time
		for _, in := range inputs {
			if in.Date.After(date) {
				date = in.Date
			}
		}
		l := deriveASCountry(db, &Dataset{Kind: "derived", Name: "AS country derived from address space", Date: date})
		l.src.Records = len(l.asCC)
		if err := b.add(l); err != nil {
			return nil, err
		}
		db = b.build()
	}
	for _, s := range db.srcs[1:] {
		s.Path = ""
	}
	if err := WriteSnapshot(w, db); err != nil {
		return nil, err
	}
	return db, nil
}
