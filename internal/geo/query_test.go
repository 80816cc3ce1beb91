package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv"}, WithoutDefault(), WithoutCache())
	r := db.Query("10.0.1.1")
	if r.Type != "address" || r.Country != "FR" || r.CountryName != "France" || r.Source == "" {
		t.Errorf("address: %+v", r)
	}
	r = db.Query("10.0.0.0/23") // 256 DE, 128 FR, 128 unknown
	if r.Type != "prefix" || r.Country != "DE" || len(r.Shares) < 2 || r.Shares[0].Country != "DE" || r.Shares[0].Unit != "addresses" {
		t.Errorf("prefix: %+v", r)
	}
	if r := db.Query("2001:db8::/32"); r.Type != "prefix" || len(r.Shares) == 0 || r.Shares[0].Unit != "/64s" {
		t.Errorf("IPv6 prefix: %+v", r)
	}
	for _, q := range []string{"AS64500", "as64500", "64500"} {
		if r := db.Query(q); r.Type != "asn" || r.ASN != 64500 {
			t.Errorf("%s: %+v", q, r)
		}
	}
	if r := db.Query("nonsense"); r.Type != "invalid" || r.Error == "" {
		t.Errorf("invalid: %+v", r)
	}
}

func TestWriteQueryTable(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv"}, WithoutDefault(), WithoutCache())
	var b bytes.Buffer
	if err := WriteQueryTable(&b, []QueryResult{db.Query("10.0.1.1"), db.Query("10.0.0.0/23"), db.Query("x")}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "QUERY") || !strings.Contains(lines[1], "FR France") ||
		!strings.Contains(lines[2], "10.0.0.0/23") || !strings.Contains(lines[2], "50.00% (256 addresses)") ||
		!strings.HasPrefix(lines[3], " ") || !strings.Contains(lines[len(lines)-1], "not an address, prefix or AS number") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestWriteQueryJSON(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv"}, WithoutDefault(), WithoutCache())
	var b bytes.Buffer
	if err := WriteQueryJSON(&b, []QueryResult{db.Query("10.0.1.1"), db.Query("x")}); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&b)
	for _, want := range []string{"address", "invalid"} {
		var r QueryResult
		if err := dec.Decode(&r); err != nil || r.Type != want {
			t.Errorf("decoded %+v, %v; want type %s", r, err, want)
		}
	}
}

func TestWriteSkipped(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv"}, WithoutDefault(), WithoutCache())
	var b bytes.Buffer
	WriteSkipped(&b, db)
	if !strings.Contains(b.String(), "country.csv: skipped 2 malformed line(s)\n") || !strings.Contains(b.String(), "  testdata/country.csv:7:") {
		t.Errorf("got %q", b.String())
	}
}

func TestSelectRIRs(t *testing.T) {
	all, err := SelectRIRs(nil, nil)
	if err != nil || len(all) != len(RIRs()) {
		t.Fatalf("all: %v, %v", all, err)
	}
	got, err := SelectRIRs([]string{"RIPENCC"}, map[string]string{"ripencc": "http://m/r", "apnic": "http://m/a"})
	if err != nil || len(got) != 1 || got[0].Name != "ripencc" || got[0].BaseURL != "http://m/r" {
		t.Errorf("one: %v, %v", got, err)
	}
	var u *UnknownRIRError
	if _, err := SelectRIRs(nil, map[string]string{"nosuch": "x"}); !errors.As(err, &u) || !u.InBases || u.Name != "nosuch" {
		t.Errorf("unknown base: %v", err)
	}
	if _, err := SelectRIRs([]string{"Nosuch"}, nil); !errors.As(err, &u) || u.InBases || u.Name != "Nosuch" {
		t.Errorf("unknown --rir: %v", err)
	}
}

func TestWriteUpdateTable(t *testing.T) {
	var b bytes.Buffer
	err := WriteUpdateTable(&b, []UpdateResult{{RIR: "apnic", Status: "updated", Bytes: 2500000, Path: "/c/f"},
		{RIR: "lacnic", Status: "failed", Err: errors.New("404")}})
	if err != nil || b.String() != "apnic   updated  2.5 MB  /c/f\nlacnic  failed   0 B     404\n" {
		t.Errorf("got %q, %v", b.String(), err)
	}
}
