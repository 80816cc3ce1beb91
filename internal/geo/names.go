package geo

import (
	"slices"
	"strings"
)

// nameTable holds the AS names of a DB, compactly: the AS numbers sorted,
// and by AS its name's source and the end of its name in one text. A map
// of records (tens of thousands of names, a string each) cost twice the
// bytes and as many objects for the collector to mark; names are looked
// up only to label events, so a binary search is fast enough.
type nameTable struct {
	asn  []uint32
	src  []uint8
	end  []uint32 // the end of asn[i]'s name in text
	text string
}

// compileNames returns the table of m.
func compileNames(m map[uint32]nameRec) nameTable {
	t := nameTable{asn: make([]uint32, 0, len(m))}
	for a := range m {
		t.asn = append(t.asn, a)
	}
	slices.Sort(t.asn)
	t.src, t.end = make([]uint8, len(t.asn)), make([]uint32, len(t.asn))
	var b strings.Builder
	for i, a := range t.asn {
		r := m[a]
		b.WriteString(r.name)
		t.src[i], t.end[i] = r.src, uint32(b.Len())
	}
	t.text = b.String()
	return t
}

// len returns the number of names.
func (t *nameTable) len() int { return len(t.asn) }

// at returns the i-th AS, in ascending order, and its name.
func (t *nameTable) at(i int) (uint32, nameRec) {
	start := uint32(0)
	if i > 0 {
		start = t.end[i-1]
	}
	return t.asn[i], nameRec{name: t.text[start:t.end[i]], src: t.src[i]}
}

// get returns the name of asn.
func (t *nameTable) get(asn uint32) (nameRec, bool) {
	i, ok := slices.BinarySearch(t.asn, asn)
	if !ok {
		return nameRec{}, false
	}
	_, r := t.at(i)
	return r, true
}
