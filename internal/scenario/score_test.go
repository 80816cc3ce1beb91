package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

func ev(typ, code, kind, fam, start, end string) TruthEvent {
	et, err := event.ParseEntityType(typ)
	if err != nil {
		panic(err)
	}
	f, err := bgp.ParseFamily(fam)
	if err != nil {
		panic(err)
	}
	e := TruthEvent{EntityType: et, EntityCode: code, Kind: event.Kind(kind), Family: f}
	e.Start, _ = time.Parse(time.RFC3339, start)
	if end != "" {
		t, _ := time.Parse(time.RFC3339, end)
		e.End = &t
	}
	return e
}

func TestScorePerfect(t *testing.T) {
	truth := []TruthEvent{
		ev("country", "KP", "outage", "all", "2014-12-22T16:15:00Z", "2014-12-23T01:46:00Z"),
		ev("asn", "131279", "outage", "all", "2014-12-22T16:15:00Z", "2014-12-23T01:46:00Z"),
		ev("peer", "192.0.2.10", "peer_event", "all", "2014-12-20T10:00:00Z", "2014-12-20T10:20:00Z"),
	}
	det := []TruthEvent{
		ev("asn", "131279", "outage", "all", "2014-12-22T16:15:30Z", "2014-12-23T01:45:10Z"),
		ev("country", "KP", "outage", "all", "2014-12-22T16:14:01Z", "2014-12-23T01:46:59Z"),
		ev("peer", "192.0.2.10", "peer_event", "all", "2014-12-20T10:00:00Z", "2014-12-20T10:20:00Z"),
	}
	r := Score(truth, det, time.Minute)
	if r.Precision != 1 || r.Recall != 1 || len(r.Matched) != 3 || len(r.Missed)+len(r.False)+len(r.Redundant) != 0 {
		t.Fatalf("%v", r)
	}
	for _, m := range r.Matched {
		if m.Truth.EntityCode == "131279" && (m.StartDiff != 30*time.Second || m.EndDiff != -50*time.Second) {
			t.Errorf("diffs %v %v", m.StartDiff, m.EndDiff)
		}
	}
	if !strings.Contains(r.String(), "precision 1.000 recall 1.000") {
		t.Errorf("%s", r)
	}
}

func TestScoreMismatches(t *testing.T) {
	truth := []TruthEvent{
		ev("country", "KP", "outage", "all", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
		ev("country", "CU", "partial_outage", "ipv4", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
		ev("asn", "1", "outage", "ipv6", "2024-01-01T10:00:00Z", ""),
		ev("country", "SY", "outage", "all", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
	}
	det := []TruthEvent{
		ev("country", "KP", "outage", "all", "2024-01-01T10:01:01Z", "2024-01-01T11:00:00Z"),  // start 61 s late
		ev("country", "CU", "outage", "ipv4", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"), // wrong kind
		ev("asn", "1", "outage", "ipv6", "2024-01-01T10:00:00Z", "2024-01-01T10:30:00Z"),      // ended, truth is open
		ev("country", "SY", "outage", "all", "2024-01-01T10:00:59Z", "2024-01-01T10:59:01Z"),  // within 60 s
		ev("asn", "2", "outage", "all", "2024-01-01T10:00:00Z", ""),                           // nothing there
	}
	r := Score(truth, det, 60*time.Second)
	if len(r.Matched) != 1 || r.Matched[0].Truth.EntityCode != "SY" {
		t.Fatalf("matched %v", r.Matched)
	}
	if len(r.Missed) != 3 || len(r.False) != 4 {
		t.Fatalf("%v: missed %v false %v", r, r.Missed, r.False)
	}
	if r.Precision != 0.2 || r.Recall != 0.25 {
		t.Errorf("%v", r)
	}
}

func TestScoreFamilies(t *testing.T) {
	truth := []TruthEvent{ev("country", "IR", "outage", "ipv6", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")}
	// The wrong family does not match.
	r := Score(truth, []TruthEvent{ev("country", "IR", "outage", "ipv4", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")}, time.Minute)
	if len(r.Matched) != 0 || r.Recall != 0 || r.Precision != 0 {
		t.Errorf("ipv4 matched ipv6: %v", r)
	}
	// The same fact reported in another family besides the matched one is redundant.
	r = Score(truth, []TruthEvent{
		ev("country", "IR", "outage", "all", "2024-01-01T10:00:10Z", "2024-01-01T11:00:00Z"),
		ev("country", "IR", "outage", "ipv6", "2024-01-01T10:00:20Z", "2024-01-01T11:00:00Z"),
	}, time.Minute)
	if len(r.Matched) != 1 || r.Matched[0].Detected.Family != bgp.IPv6 || len(r.Redundant) != 1 || len(r.False) != 0 || r.Precision != 1 || r.Detected != 1 {
		t.Errorf("%v %v", r, r.Redundant)
	}
}

func TestScoreOneToOne(t *testing.T) {
	// Two truth outages of one entity close together, two detections: the
	// closest starts pair up.
	truth := []TruthEvent{
		ev("asn", "5", "outage", "all", "2024-01-01T10:00:00Z", "2024-01-01T10:01:00Z"),
		ev("asn", "5", "outage", "all", "2024-01-01T10:00:40Z", "2024-01-01T10:01:00Z"),
	}
	det := []TruthEvent{
		ev("asn", "5", "outage", "all", "2024-01-01T10:00:35Z", "2024-01-01T10:01:00Z"),
		ev("asn", "5", "outage", "all", "2024-01-01T10:00:01Z", "2024-01-01T10:01:00Z"),
	}
	r := Score(truth, det, time.Minute)
	if len(r.Matched) != 2 || r.Recall != 1 || r.Precision != 1 {
		t.Fatalf("%v", r)
	}
	for _, m := range r.Matched {
		if m.StartDiff.Abs() > 5*time.Second {
			t.Errorf("paired %v with %v", m.Truth, m.Detected)
		}
	}
	// A third detection of the same fact is redundant, not false.
	r = Score(truth, append(det, det[0]), time.Minute)
	if len(r.Redundant) != 1 || len(r.False) != 0 {
		t.Errorf("%v", r)
	}
}

func TestScoreOptionalAndUpstream(t *testing.T) {
	opt := ev("country", "CU", "partial_outage", "ipv4", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")
	opt.Optional = true
	up := ev("asn", "7", "upstream_change", "all", "2024-01-01T12:00:00Z", "")
	truth := []TruthEvent{opt, up}
	// Not detecting the optional one costs nothing; the upstream change's end is not compared.
	det := []TruthEvent{ev("asn", "7", "upstream_change", "all", "2024-01-01T12:00:30Z", "2024-01-01T12:00:30Z")}
	r := Score(truth, det, time.Minute)
	if r.Truth != 1 || r.Recall != 1 || r.Precision != 1 || len(r.Missed) != 0 {
		t.Errorf("%v", r)
	}
	// Detecting it counts as a match.
	r = Score(truth, append(det, opt), time.Minute)
	if r.Precision != 1 || r.OptionalMatched != 1 {
		t.Errorf("%v", r)
	}
	// Empty inputs.
	r = Score(nil, nil, time.Minute)
	if r.Precision != 1 || r.Recall != 1 {
		t.Errorf("%v", r)
	}
}

func TestReadTruthStream(t *testing.T) {
	// The detector's --json output: one object per line, fraction_lost.
	in := `{"entity_type":"country","entity_code":"KP","entity_name":"North Korea","kind":"outage","family":"all","start":"2014-12-22T16:15:00Z","end":null,"fraction_lost":1,"prefixes":["175.45.176.0/24"]}
{"entity_type":"asn","entity_code":"131279","kind":"outage","family":"all","start":"2014-12-22T16:15:00Z","end":"2014-12-23T01:46:00Z"}
`
	evs, err := ReadTruth(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Fraction != 1 || evs[0].End != nil || evs[1].End == nil || evs[1].EntityCode != "131279" {
		t.Fatalf("%+v", evs)
	}
	evs, err = ReadTruth(strings.NewReader(`[` + strings.ReplaceAll(strings.TrimSpace(in), "\n", ",") + `]`))
	if err != nil || len(evs) != 2 {
		t.Fatalf("%v %v", evs, err)
	}
	if evs[0].EntityType != event.Country || evs[1].EntityType != event.OriginAS || evs[0].Kind != event.Outage || evs[0].Family != bgp.AllFamilies {
		t.Errorf("%+v", evs)
	}
	// No family: an error, not IPv4 (the zero bgp.Family).
	for _, in := range []string{`[{"entity_type":"country","entity_code":"KP","kind":"outage","start":"2014-12-22T16:15:00Z"}]`,
		`{"entity_type":"country","entity_code":"KP","kind":"outage","family":null,"start":"2014-12-22T16:15:00Z"}`} {
		if evs, err := ReadTruth(strings.NewReader(in)); err == nil {
			t.Errorf("%s: %+v, want an error", in, evs)
		}
	}
}
