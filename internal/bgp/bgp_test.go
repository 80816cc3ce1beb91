package bgp

import (
	"slices"
	"testing"
)

func TestPathNotationRoundTrip(t *testing.T) {
	for _, s := range []string{"", "3356 4837 131279", "1 2 {3,4}", "(65001 65002) 3356 1299", "[65001,65002] 7018", "64496 {1} 2"} {
		p, err := ParsePath(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := p.String(); got != s {
			t.Errorf("ParsePath(%q).String() = %q", s, got)
		}
	}
	if _, err := ParsePath("1 x 3"); err == nil {
		t.Error("ParsePath accepted a bad ASN")
	}
}

func TestPathOriginFirstLenFlat(t *testing.T) {
	cases := []struct {
		path     string
		origin   ASN
		originOK bool
		first    ASN
		length   int
		flat     []ASN
	}{
		{"3356 4837 4837 131279", 131279, true, 3356, 4, []ASN{3356, 4837, 131279}},
		{"1 2 {3,4}", 0, false, 1, 3, []ASN{1, 2}},
		{"1 2 {3}", 3, true, 1, 3, []ASN{1, 2}},
		{"(65001) 7018 15169", 15169, true, 7018, 2, []ASN{7018, 15169}},
		{"", 0, false, 0, 0, nil},
	}
	for _, c := range cases {
		p, _ := ParsePath(c.path)
		o, ok := p.Origin()
		if o != c.origin || ok != c.originOK {
			t.Errorf("%q: Origin() = %d, %v; want %d, %v", c.path, o, ok, c.origin, c.originOK)
		}
		if f, _ := p.First(); f != c.first {
			t.Errorf("%q: First() = %d, want %d", c.path, f, c.first)
		}
		if n := p.Len(); n != c.length {
			t.Errorf("%q: Len() = %d, want %d", c.path, n, c.length)
		}
		if f := p.AppendFlat(nil); !slices.Equal(f, c.flat) {
			t.Errorf("%q: AppendFlat = %v, want %v", c.path, f, c.flat)
		}
	}
}

func TestCloneSharesNothing(t *testing.T) {
	p, _ := ParsePath("1 2 {3,4}")
	a := &Attrs{Path: p, Communities: []Community{1<<16 | 2}, Unknown: []RawAttr{{Type: 99, Value: []byte{1, 2}}}}
	c := a.Clone()
	p.Segments[0].ASNs[0] = 9
	a.Communities[0] = 0
	a.Unknown[0].Value[0] = 7
	if c.Path.String() != "1 2 {3,4}" || c.Communities[0] != 1<<16|2 || c.Unknown[0].Value[0] != 1 {
		t.Errorf("clone changed with its source: %v %v %v", c.Path, c.Communities, c.Unknown)
	}
}

func TestAttrsResetKeepsCapacity(t *testing.T) {
	a := &Attrs{Communities: make([]Community, 3, 10)}
	a.Set(AttrMED)
	a.MED = 5
	a.Reset()
	if a.Has(AttrMED) || a.MED != 0 || len(a.Communities) != 0 || cap(a.Communities) != 10 {
		t.Errorf("Reset: %+v", a)
	}
}

func TestNames(t *testing.T) {
	if s := Community(0xFFFFFF01).String(); s != "no-export" {
		t.Errorf("no-export: %q", s)
	}
	if s := Community(3356<<16 | 100).String(); s != "3356:100" {
		t.Errorf("community: %q", s)
	}
	if s := (LargeCommunity{4200000000, 1, 2}).String(); s != "4200000000:1:2" {
		t.Errorf("large community: %q", s)
	}
	if StateEstablished.String() != "Established" || State(9).String() != "State(9)" {
		t.Error("state names")
	}
	if OriginIncomplete.String() != "INCOMPLETE" {
		t.Error("origin name")
	}
}
