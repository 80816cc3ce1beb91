package mrt

import "github.com/blackout-bgp/blackout/internal/bgp"

// The formatting helpers of the `bgpdump -m` lines, written for speed:
// they write digits straight into the spare capacity of b instead of
// appending a formatted copy (strconv.AppendUint), the largest cost of a
// line on a RIB with many communities.

// digits2 holds the two-digit decimal forms of 0 to 99.
const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// decimalLen returns the number of decimal digits of v.
func decimalLen(v uint32) int {
	switch {
	case v < 10:
		return 1
	case v < 100:
		return 2
	case v < 1000:
		return 3
	case v < 10000:
		return 4
	case v < 100000:
		return 5
	case v < 1000000:
		return 6
	case v < 10000000:
		return 7
	case v < 100000000:
		return 8
	case v < 1000000000:
		return 9
	}
	return 10
}

// appendUint appends v in decimal. The numbers of a line (ASNs,
// communities, LOCAL_PREF, MED) mostly have at most five digits: those
// take one append of their digits, from two-digit table lookups.
func appendUint(b []byte, v uint32) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, digits2[2*v], digits2[2*v+1])
	case v < 1000:
		q := v / 100
		r := (v - q*100) * 2
		return append(b, byte('0'+q), digits2[r], digits2[r+1])
	case v < 10000:
		q := v / 100
		r := (v - q*100) * 2
		q *= 2
		return append(b, digits2[q], digits2[q+1], digits2[r], digits2[r+1])
	case v < 100000:
		q := v / 10000
		m := v - q*10000
		h := m / 100
		r := (m - h*100) * 2
		h *= 2
		return append(b, byte('0'+q), digits2[h], digits2[h+1], digits2[r], digits2[r+1])
	}
	return appendUintLong(b, v)
}

// appendUintLong appends v, of six digits or more, in decimal.
func appendUintLong(b []byte, v uint32) []byte {
	n := decimalLen(v)
	l := len(b)
	if cap(b)-l < n {
		b = append(b, "0000000000"[:n]...)
	} else {
		b = b[:l+n]
	}
	i := l + n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		b[l], b[l+1] = digits2[2*v], digits2[2*v+1]
	} else {
		b[l] = byte('0' + v)
	}
	return b
}

// appendInt appends v in decimal, with a minus sign when negative.
func appendInt(b []byte, v int32) []byte {
	if v < 0 {
		return appendUint(append(b, '-'), uint32(-int64(v)))
	}
	return appendUint(b, uint32(v))
}

// appendASPath appends p in the notation of bgpdump, as
// bgp.Path.AppendString does: sequences as space separated numbers, AS_SET
// as {a,b}, AS_CONFED_SEQUENCE as (a b), AS_CONFED_SET as [a,b].
func appendASPath(b []byte, p *bgp.Path) []byte {
	for i := range p.Segments {
		s := &p.Segments[i]
		if i > 0 {
			b = append(b, ' ')
		}
		var open, sep, close byte = 0, ' ', 0
		switch s.Type {
		case bgp.ASSet:
			open, sep, close = '{', ',', '}'
		case bgp.ASConfedSequence:
			open, close = '(', ')'
		case bgp.ASConfedSet:
			open, sep, close = '[', ',', ']'
		}
		if open != 0 {
			b = append(b, open)
		}
		for j, a := range s.ASNs {
			if j > 0 {
				b = append(b, sep)
			}
			b = appendUint(b, uint32(a))
		}
		if close != 0 {
			b = append(b, close)
		}
	}
	return b
}
