package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// TransitJSON is what an AS carries as a transit network: the origin ASes
// reached through it (it is the AS before the origin on their paths) and
// the countries whose first network outside them it is, with its share of
// each one's routes.
type TransitJSON struct {
	ASN     uint32 `json:"asn"`
	Name    string `json:"name"`
	Country string `json:"country"`
	// OriginCount is the number of origin ASes reached through it.
	OriginCount int `json:"origin_count"`
	// Prefixes estimates the prefixes it carries: each dependent origin's
	// visible prefixes times the AS's share of that origin's routes.
	Prefixes int64 `json:"prefixes"`
	// SoleUpstreamOf counts the origins reached only through it.
	SoleUpstreamOf int              `json:"sole_upstream_of"`
	Origins        []TransitOrigin  `json:"origins"`
	Countries      []TransitCountry `json:"countries"`
}

// TransitOrigin is an origin AS reached through a transit AS.
type TransitOrigin struct {
	ASN      uint32  `json:"asn"`
	Name     string  `json:"name"`
	Country  string  `json:"country"`
	Share    float64 `json:"share"`    // the transit AS's share of the origin's full-feed routes
	Prefixes int32   `json:"prefixes"` // the origin's visible prefixes (both families)
}

// TransitCountry is a country whose upstream paths go through a transit AS.
type TransitCountry struct {
	Code      string  `json:"code"`
	Name      string  `json:"name"`
	Share     float64 `json:"share"`     // the AS's share of the routes to the country's prefixes
	Rank      int     `json:"rank"`      // 1: the country's largest upstream
	Upstreams int     `json:"upstreams"` // the country's upstreams in all
}

// asnCode parses {code} of an AS path ("4837", "AS4837").
func asnCode(code string) (uint32, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(code), "AS"), 10, 32)
	return uint32(n), err == nil
}

// isTransit reports whether AS code is an upstream of a stored entity.
func (s *Server) isTransit(r *http.Request, code string) bool {
	a, ok := asnCode(code)
	if !ok {
		return false
	}
	d, err := s.deps(r.Context())
	return err == nil && d.reached(a)
}

func (s *Server) transit(w http.ResponseWriter, r *http.Request) {
	a, ok := asnCode(r.PathValue("code"))
	if !ok {
		writeError(w, 400, "code: not an AS number: "+strconv.Quote(r.PathValue("code")))
		return
	}
	d, err := s.deps(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	if !d.reached(a) && d.origins[a] == nil {
		writeError(w, 404, "AS"+strconv.FormatUint(uint64(a), 10)+" not seen in the data, as an origin or on a path")
		return
	}
	out := TransitJSON{ASN: a, Name: d.asName(a), Country: d.asCC(a), Origins: []TransitOrigin{}, Countries: []TransitCountry{}}
	for _, e := range d.through[a] {
		i := slices.IndexFunc(e.Upstreams, func(u event.AS) bool { return u.ASN == a })
		u := e.Upstreams[i]
		switch e.Type {
		case event.OriginAS:
			n, _ := asnCode(e.Code)
			z := d.size["asn/"+e.Code]
			out.Origins = append(out.Origins, TransitOrigin{ASN: n, Name: d.asName(n), Country: d.asCC(n), Share: u.Share, Prefixes: z.prefixes})
			out.Prefixes += int64(float64(z.prefixes)*u.Share + 0.5)
			if len(e.Upstreams) == 1 {
				out.SoleUpstreamOf++
			}
		case event.Country:
			c, _ := geo.ParseCountry(e.Code)
			out.Countries = append(out.Countries, TransitCountry{Code: e.Code, Name: c.Name(), Share: u.Share, Rank: i + 1, Upstreams: len(e.Upstreams)})
		}
	}
	out.OriginCount = len(out.Origins)
	slices.SortFunc(out.Origins, func(x, y TransitOrigin) int {
		if x.Share != y.Share {
			if x.Share > y.Share {
				return -1
			}
			return 1
		}
		return int(y.Prefixes) - int(x.Prefixes)
	})
	slices.SortFunc(out.Countries, func(x, y TransitCountry) int {
		if x.Share != y.Share {
			if x.Share > y.Share {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Code, y.Code)
	})
	writeJSON(w, 200, out)
}

// transitOnly returns the ASes that are upstreams of stored entities but
// originate nothing, by number (for the entity list and search).
func (s *Server) transitOnly(ctx context.Context) []string {
	d, err := s.deps(ctx)
	if err != nil {
		return nil
	}
	var out []uint32
	for a := range d.through {
		if d.origins[a] == nil {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	codes := make([]string, len(out))
	for i, a := range out {
		codes[i] = strconv.FormatUint(uint64(a), 10)
	}
	return codes
}
