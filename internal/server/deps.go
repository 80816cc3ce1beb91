package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// deps is the dependency index the transit and fragility handlers read:
// every stored entity with its upstreams, who is reached through each AS,
// and each entity's latest size. It is built from the store (what the
// pipeline wrote as entities and bins) and rebuilt when the data clock
// moved on, at most every few seconds.
type deps struct {
	at       time.Time // data time it was built at
	built    time.Time // wall time (the point: a rate limit on rebuilds)
	origins  map[uint32]*store.Entity
	country  map[string]*store.Entity
	through  map[uint32][]*store.Entity // by upstream ASN: the entities reached through it
	size     map[string]entSize         // by "asn/131279", "country/KP"
	firstAt  map[string]entSize         // the first bin's figures, by the same key
	asCC     func(asn uint32) string    // registered country of an AS ("" unknown)
	asName   func(asn uint32) string
	firstBin time.Time

	fragOnce sync.Once
	frag     map[string]*FragilityJSON
}

// entSize is an entity's visible size in its latest bin.
type entSize struct {
	space4, space6     float64 // /24s, /48s
	prefixes           int32   // both families
	origins4, origins6 int32
}

func (z entSize) origins() int32 { return max(z.origins4, z.origins6) }

type depCache struct {
	mu       sync.Mutex
	d        *deps
	building bool
}

// depRebuild is how old the index may get before a request starts a
// rebuild. The first request builds it; later ones get the current index
// at once while a rebuild runs beside them (it reads every entity and the
// last bins of all: a second or so on a large store).
const depRebuild = 5 * time.Second

// deps returns the dependency index, starting a rebuild when it is old.
// A rebuild happens even at the same data time: the writer may flush what
// a finished replay found after the data clock stopped.
func (s *Server) deps(ctx context.Context) (*deps, error) {
	c := &s.depc
	c.mu.Lock()
	if c.d == nil {
		c.mu.Unlock()
		d, err := s.buildDeps(ctx, s.opts.Status.DataTime())
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.d == nil || c.d.built.Before(d.built) {
			c.d = d
		}
		d = c.d
		c.mu.Unlock()
		return d, nil
	}
	d := c.d
	if time.Since(d.built) >= depRebuild && !c.building {
		c.building = true
		go func() {
			bctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			nd, err := s.buildDeps(bctx, s.opts.Status.DataTime())
			c.mu.Lock()
			defer c.mu.Unlock()
			c.building = false
			if err != nil {
				s.opts.Logger.Warn("dependency index", "error", err)
				return
			}
			c.d = nd
		}()
	}
	c.mu.Unlock()
	return d, nil
}

func (s *Server) buildDeps(ctx context.Context, dt time.Time) (*deps, error) {
	ents, err := s.st.Entities(ctx, 0)
	if err != nil {
		return nil, err
	}
	d := &deps{at: dt, built: time.Now(), origins: map[uint32]*store.Entity{}, country: map[string]*store.Entity{},
		through: map[uint32][]*store.Entity{}, size: map[string]entSize{}, firstAt: map[string]entSize{}}
	for i := range ents {
		e := &ents[i]
		switch e.Type {
		case event.OriginAS:
			n, err := strconv.ParseUint(e.Code, 10, 32)
			if err != nil {
				continue
			}
			d.origins[uint32(n)] = e
		case event.Country:
			d.country[e.Code] = e
		default:
			continue
		}
		for _, u := range e.Upstreams {
			d.through[u.ASN] = append(d.through[u.ASN], e)
		}
	}
	d.asName = func(a uint32) string { return s.asName(strconv.FormatUint(uint64(a), 10)) }
	d.asCC = func(a uint32) string {
		if s.opts.Geo == nil {
			return ""
		}
		if inf, _ := s.opts.Geo.ASN(a); !inf.Country.IsZero() {
			return inf.Country.String()
		}
		return ""
	}
	at := dt
	if at.IsZero() {
		at = time.Now()
	}
	for _, typ := range []event.EntityType{event.OriginAS, event.Country} {
		for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			last, err := s.edgeBins(ctx, typ, f, at, false)
			if err != nil {
				return nil, err
			}
			first, err := s.edgeBins(ctx, typ, f, at, true)
			if err != nil {
				return nil, err
			}
			for _, pair := range []struct {
				bins []store.Bin
				m    map[string]entSize
			}{{last, d.size}, {first, d.firstAt}} {
				for _, b := range pair.bins {
					k := typ.String() + "/" + b.EntityCode
					z := pair.m[k]
					z.prefixes += b.Prefixes
					if f == bgp.IPv4 {
						z.space4, z.origins4 = b.Space, b.Origins
					} else {
						z.space6, z.origins6 = b.Space, b.Origins
					}
					pair.m[k] = z
				}
			}
			for _, b := range first {
				if d.firstBin.IsZero() || b.Time.Before(d.firstBin) {
					d.firstBin = b.Time
				}
			}
		}
	}
	return d, nil
}

// edgeBins returns the last (or first) bin of every entity of a type and
// family: in one query where the store can, else one query per entity.
func (s *Server) edgeBins(ctx context.Context, typ event.EntityType, f bgp.Family, at time.Time, first bool) ([]store.Bin, error) {
	if sq, ok := s.st.(store.LatestBinner); ok {
		if first {
			return sq.FirstBins(ctx, typ, f)
		}
		return sq.LatestBins(ctx, typ, f, at)
	}
	ents, err := s.st.Entities(ctx, typ)
	if err != nil {
		return nil, err
	}
	var out []store.Bin
	for _, e := range ents {
		from, until := at, at
		if first {
			from, until = time.Time{}, at
		}
		bins, err := s.st.Bins(ctx, typ, e.Code, f, from, until)
		if err != nil {
			return nil, err
		}
		if len(bins) > 0 {
			b := bins[len(bins)-1]
			if first {
				b = bins[0]
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// reached reports whether AS a appears as an upstream of any entity.
func (d *deps) reached(a uint32) bool { return len(d.through[a]) > 0 }
