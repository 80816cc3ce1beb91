package bgp

import (
	"strconv"
	"strings"
)

// SegmentType is the type of an AS_PATH segment (RFC 4271, RFC 5065).
type SegmentType uint8

// AS_PATH segment types.
const (
	ASSet            SegmentType = 1
	ASSequence       SegmentType = 2
	ASConfedSequence SegmentType = 3
	ASConfedSet      SegmentType = 4
)

// Segment is one AS_PATH segment.
type Segment struct {
	Type SegmentType
	ASNs []ASN
}

// Path is an AS path: its segments in order, from the neighbour to the origin.
type Path struct {
	Segments []Segment
}

// Len returns the path length as BGP's decision process counts it: each
// AS_SEQUENCE member counts 1, each AS_SET 1, confederation segments 0.
func (p Path) Len() int {
	n := 0
	for _, s := range p.Segments {
		switch s.Type {
		case ASSequence:
			n += len(s.ASNs)
		case ASSet:
			n++
		}
	}
	return n
}

// Origin returns the origin AS: the last AS of the path when the path ends in
// an AS_SEQUENCE. ok is false for an empty path or one that ends in a set
// (the origin is then ambiguous).
func (p Path) Origin() (asn ASN, ok bool) {
	if len(p.Segments) == 0 {
		return 0, false
	}
	last := p.Segments[len(p.Segments)-1]
	if last.Type != ASSequence || len(last.ASNs) == 0 {
		if last.Type == ASSet && len(last.ASNs) == 1 {
			return last.ASNs[0], true
		}
		return 0, false
	}
	return last.ASNs[len(last.ASNs)-1], true
}

// First returns the first AS of the path (the vantage point's neighbour),
// skipping confederation segments.
func (p Path) First() (asn ASN, ok bool) {
	for _, s := range p.Segments {
		if (s.Type == ASSequence || s.Type == ASSet) && len(s.ASNs) > 0 {
			return s.ASNs[0], true
		}
	}
	return 0, false
}

// AppendFlat appends the ASNs of the path's AS_SEQUENCE segments, in order,
// with consecutive repeats (prepending) removed, to dst. Sets and
// confederation segments are skipped.
func (p Path) AppendFlat(dst []ASN) []ASN {
	for _, s := range p.Segments {
		if s.Type != ASSequence {
			continue
		}
		for _, a := range s.ASNs {
			if n := len(dst); n > 0 && dst[n-1] == a {
				continue
			}
			dst = append(dst, a)
		}
	}
	return dst
}

// AppendString appends the path in the notation of bgpdump: sequences as
// space separated numbers, AS_SET as {a,b}, AS_CONFED_SEQUENCE as (a b) and
// AS_CONFED_SET as [a,b].
func (p Path) AppendString(b []byte) []byte {
	for i, s := range p.Segments {
		if i > 0 {
			b = append(b, ' ')
		}
		open, sep, close := "", " ", ""
		switch s.Type {
		case ASSet:
			open, sep, close = "{", ",", "}"
		case ASConfedSequence:
			open, sep, close = "(", " ", ")"
		case ASConfedSet:
			open, sep, close = "[", ",", "]"
		}
		b = append(b, open...)
		for j, a := range s.ASNs {
			if j > 0 {
				b = append(b, sep...)
			}
			b = strconv.AppendUint(b, uint64(a), 10)
		}
		b = append(b, close...)
	}
	return b
}

// String returns the path as AppendString writes it.
func (p Path) String() string { return string(p.AppendString(nil)) }

// Clone returns a deep copy of p that shares no memory with it.
func (p Path) Clone() Path {
	if p.Segments == nil {
		return Path{}
	}
	n := 0
	for _, s := range p.Segments {
		n += len(s.ASNs)
	}
	flat := make([]ASN, 0, n)
	segs := make([]Segment, len(p.Segments))
	for i, s := range p.Segments {
		start := len(flat)
		flat = append(flat, s.ASNs...)
		segs[i] = Segment{Type: s.Type, ASNs: flat[start:len(flat):len(flat)]}
	}
	return Path{Segments: segs}
}

// ParsePath parses the notation of AppendString ("1 2 {3,4}"); it is meant
// for tests, configuration and scenario files.
func ParsePath(s string) (Path, error) {
	var p Path
	s = strings.TrimSpace(s)
	for len(s) > 0 {
		var typ SegmentType
		var body string
		switch s[0] {
		case '{', '(', '[':
			closer := map[byte]byte{'{': '}', '(': ')', '[': ']'}[s[0]]
			end := strings.IndexByte(s, closer)
			if end < 0 {
				return Path{}, &pathError{s}
			}
			typ = map[byte]SegmentType{'{': ASSet, '(': ASConfedSequence, '[': ASConfedSet}[s[0]]
			body, s = s[1:end], strings.TrimSpace(s[end+1:])
		default:
			end := strings.IndexAny(s, "{([")
			if end < 0 {
				end = len(s)
			}
			typ = ASSequence
			body, s = s[:end], strings.TrimSpace(s[end:])
		}
		seg := Segment{Type: typ}
		for _, f := range strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == ',' }) {
			v, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return Path{}, &pathError{f}
			}
			seg.ASNs = append(seg.ASNs, ASN(v))
		}
		if len(seg.ASNs) > 0 {
			p.Segments = append(p.Segments, seg)
		}
	}
	return p, nil
}

type pathError struct{ s string }

func (e *pathError) Error() string { return "bgp: bad AS path near " + strconv.Quote(e.s) }
