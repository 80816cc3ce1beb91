package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// TruthEvent is one event of the ground truth, in the same shape as the
// detector's JSON events (the fields Score needs) and in its vocabulary
// (package event, bgp.Family), so that detected events can be decoded into
// it.
type TruthEvent struct {
	EntityType event.EntityType `json:"entity_type"` // country, asn or peer
	EntityCode string           `json:"entity_code"` // "KP", "131279", or the peer's address
	Kind       event.Kind       `json:"kind"`        // outage, partial_outage, instability, upstream_change, peer_event
	Family     bgp.Family       `json:"family"`      // ipv4, ipv6 or all; every event has one
	Start      time.Time        `json:"start"`
	End        *time.Time       `json:"end"` // nil: lasts to the end of the data
	// Fraction is the share of the entity's address space (of Family) that
	// is lost, for outage and partial_outage; 0 otherwise.
	Fraction float64 `json:"fraction,omitempty"`
	// Optional marks an implied event that a detector may or may not report:
	// missing it costs no recall, reporting it costs no precision. (E.g. the
	// partial outage of a country one of whose several ASes goes dark.)
	Optional bool `json:"optional,omitempty"`
	// Bottom, for a gradual fall (EventSpec.Ramp), is the time of the last
	// withdrawal of the fall: from then on the whole Fraction is lost. Nil
	// for a sudden event (all prefixes at once).
	Bottom *time.Time `json:"bottom,omitempty"`
	// Recovered, for a gradual recovery, is the time of the last
	// re-announcement: from then on everything is back. End stays the
	// first re-announcement. Nil for a sudden event.
	Recovered *time.Time `json:"recovered,omitempty"`
	// Note says in words what was generated (truth only).
	Note string `json:"note,omitempty"`
}

func (e TruthEvent) String() string {
	end := "null"
	if e.End != nil {
		end = e.End.UTC().Format(time.RFC3339)
	}
	s := fmt.Sprintf("%s %s %s %s %s..%s", e.EntityType, e.EntityCode, e.Kind, e.Family, e.Start.UTC().Format(time.RFC3339), end)
	if e.Fraction > 0 {
		s += fmt.Sprintf(" (%.0f%%)", e.Fraction*100)
	}
	if e.Optional {
		s += " [optional]"
	}
	return s
}

// WriteTruth writes events as an indented JSON array.
func WriteTruth(w io.Writer, events []TruthEvent) error {
	if events == nil {
		events = []TruthEvent{}
	}
	b, err := json.MarshalIndent(events, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadTruth reads a JSON array of events (truth.json, or detected events in
// the same shape). A stream of JSON objects, one after the other (the
// detector's --json output), is read too.
func ReadTruth(r io.Reader) ([]TruthEvent, error) {
	dec := json.NewDecoder(r)
	var out []TruthEvent
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && d == '[' {
			for dec.More() {
				var b json.RawMessage
				if err := dec.Decode(&b); err != nil {
					return nil, err
				}
				e, err := decodeEvent(b)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			continue
		}
		if d, ok := tok.(json.Delim); ok && d == '{' {
			// An object stream: decode the rest of this object by hand.
			e, err := decodeObjectRest(dec)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			continue
		}
		return nil, fmt.Errorf("scenario: truth: unexpected %v", tok)
	}
}

// decodeEvent decodes one event. Its family must be there: the zero
// bgp.Family is IPv4, so a missing one would silently be IPv4.
func decodeEvent(b []byte) (TruthEvent, error) {
	var e TruthEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return TruthEvent{}, err
	}
	var fam struct {
		Family *bgp.Family `json:"family"`
	}
	if err := json.Unmarshal(b, &fam); err != nil || fam.Family == nil {
		return TruthEvent{}, errors.New("scenario: truth: an event without a family (ipv4, ipv6 or all)")
	}
	return e, nil
}

// decodeObjectRest decodes the members of an object whose '{' was read.
func decodeObjectRest(dec *json.Decoder) (TruthEvent, error) {
	m := map[string]json.RawMessage{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return TruthEvent{}, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return TruthEvent{}, err
		}
		m[fmt.Sprint(k)] = v
	}
	if _, err := dec.Token(); err != nil {
		return TruthEvent{}, err
	}
	b, _ := json.Marshal(m)
	e, err := decodeEvent(b)
	if err != nil {
		return TruthEvent{}, err
	}
	if e.Fraction == 0 {
		// The detector calls it fraction_lost.
		if v, ok := m["fraction_lost"]; ok {
			_ = json.Unmarshal(v, &e.Fraction)
		}
	}
	return e, nil
}

// Match is a detected event matched with a truth event.
type Match struct {
	Truth, Detected TruthEvent
	StartDiff       time.Duration // detected - truth
	EndDiff         time.Duration // detected - truth; 0 when both ends are null
}

// Result is the outcome of Score.
type Result struct {
	Truth    int // mandatory truth events
	Detected int // detected events, less the redundant ones
	Matched  []Match
	// Missed are the mandatory truth events that no detected event matched.
	Missed []TruthEvent
	// False are the detected events that match no truth event.
	False []TruthEvent
	// Redundant are detected events that repeat a matched fact: the same
	// entity, kind and times as a matched truth event but another family,
	// or a second detection of it. They count neither way.
	Redundant []TruthEvent
	// OptionalMatched counts detected events that matched optional truth.
	OptionalMatched int
	Precision       float64 // matched / (matched + false); 1 when nothing was detected
	Recall          float64 // mandatory matched / mandatory truth; 1 when the truth is empty
}

func (r Result) String() string {
	return fmt.Sprintf("precision %.3f recall %.3f (truth %d, detected %d, matched %d, missed %d, false %d, redundant %d)",
		r.Precision, r.Recall, r.Truth, r.Detected, len(r.Matched), len(r.Missed), len(r.False), len(r.Redundant))
}

// Score matches detected events with the truth. A detected event matches a
// truth event with the same entity_type, entity_code and kind ("outage" and
// "partial_outage" are different kinds), the same family, a start within tol, and an end within tol
// (both null also matches; a null and a non-null end do not). An
// upstream_change is a moment: only its start is compared. Each truth
// event is matched at most once, closest start first.
//
// A detected event that matches an optional truth event counts as matched
// for precision; an optional truth event that is not detected does not
// count as missed. See Result for the redundant ones.
func Score(truth, detected []TruthEvent, tol time.Duration) Result {
	var r Result
	type cand struct {
		t, d int
		diff time.Duration
	}
	var cands []cand
	for ti, t := range truth {
		if !t.Optional {
			r.Truth++
		}
		for di, d := range detected {
			if ok, diff := matches(t, d, tol, true); ok {
				cands = append(cands, cand{ti, di, diff})
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if truth[a.t].Optional != truth[b.t].Optional {
			return !truth[a.t].Optional
		}
		return a.diff < b.diff
	})
	tUsed := make([]bool, len(truth))
	dUsed := make([]bool, len(detected))
	mandatoryMatched := 0
	for _, c := range cands {
		if tUsed[c.t] || dUsed[c.d] {
			continue
		}
		tUsed[c.t], dUsed[c.d] = true, true
		t, d := truth[c.t], detected[c.d]
		m := Match{Truth: t, Detected: d, StartDiff: d.Start.Sub(t.Start)}
		if t.End != nil && d.End != nil && t.Kind != event.UpstreamChange {
			m.EndDiff = d.End.Sub(*t.End)
		}
		r.Matched = append(r.Matched, m)
		if t.Optional {
			r.OptionalMatched++
		} else {
			mandatoryMatched++
		}
	}
	for ti, t := range truth {
		if !tUsed[ti] && !t.Optional {
			r.Missed = append(r.Missed, t)
		}
	}
	for di, d := range detected {
		if dUsed[di] {
			continue
		}
		redundant := false
		for ti, t := range truth {
			if tUsed[ti] {
				if ok, _ := matches(t, d, tol, false); ok {
					redundant = true
					break
				}
			}
		}
		if redundant {
			r.Redundant = append(r.Redundant, d)
		} else {
			r.False = append(r.False, d)
		}
	}
	r.Detected = len(detected) - len(r.Redundant)
	r.Precision, r.Recall = 1, 1
	if n := len(r.Matched) + len(r.False); n > 0 {
		r.Precision = float64(len(r.Matched)) / float64(n)
	}
	if r.Truth > 0 {
		r.Recall = float64(mandatoryMatched) / float64(r.Truth)
	}
	return r
}

// matches reports whether d matches t, and how far apart their starts are.
func matches(t, d TruthEvent, tol time.Duration, family bool) (bool, time.Duration) {
	if t.EntityType != d.EntityType || t.EntityCode != d.EntityCode || t.Kind != d.Kind {
		return false, 0
	}
	if family && t.Family != d.Family {
		return false, 0
	}
	diff := absDur(d.Start.Sub(t.Start))
	if diff > tol {
		return false, 0
	}
	if t.Kind != event.UpstreamChange {
		switch {
		case t.End == nil && d.End == nil:
		case t.End == nil || d.End == nil:
			return false, 0
		case absDur(d.End.Sub(*t.End)) > tol:
			return false, 0
		}
	}
	return true, diff
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		if d == math.MinInt64 {
			return math.MaxInt64
		}
		return -d
	}
	return d
}
