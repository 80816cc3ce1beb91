package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// LatestBinner is a store that returns, in one query, the last bin of
// every entity of a type and family at a time (the dashboard's transit and
// fragility pages read every origin's and country's size at once).
type LatestBinner interface {
	LatestBins(ctx context.Context, typ event.EntityType, family bgp.Family, at time.Time) ([]Bin, error)
	FirstBins(ctx context.Context, typ event.EntityType, family bgp.Family) ([]Bin, error)
}

// LatestBins implements LatestBinner: the last bin at or before at of each
// entity of type typ in family.
func (s *SQLite) LatestBins(ctx context.Context, typ event.EntityType, family bgp.Family, at time.Time) ([]Bin, error) {
	return s.edgeBins(ctx, typ, family, at, "max")
}

// FirstBins returns the first bin of each entity of type typ in family.
func (s *SQLite) FirstBins(ctx context.Context, typ event.EntityType, family bgp.Family) ([]Bin, error) {
	return s.edgeBins(ctx, typ, family, time.Unix(1<<33, 0), "min")
}

func (s *SQLite) edgeBins(ctx context.Context, typ event.EntityType, family bgp.Family, at time.Time, agg string) ([]Bin, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT b.entity_code, b.time, b.space, b.min_space, b.baseline, b.prefixes, b.origins, b.churn
		FROM bins b JOIN (SELECT entity_code, `+agg+`(time) AS t FROM bins WHERE entity_type=? AND family=? AND time <= ? GROUP BY entity_code) m
		ON b.entity_type=? AND b.family=? AND b.entity_code=m.entity_code AND b.time=m.t`,
		typ.String(), family.String(), nanos(at), typ.String(), family.String())
	if err != nil {
		return nil, fmt.Errorf("latest bins of %s %s: %w", typ, family, err)
	}
	defer rows.Close()
	var out []Bin
	for rows.Next() {
		b := Bin{EntityType: typ, Family: family}
		var t int64
		var code sql.NullString
		if err := rows.Scan(&code, &t, &b.Space, &b.MinSpace, &b.Baseline, &b.Prefixes, &b.Origins, &b.Churn); err != nil {
			return nil, fmt.Errorf("latest bins of %s %s: %w", typ, family, err)
		}
		b.EntityCode, b.Time = code.String, fromNanos(t)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest bins of %s %s: %w", typ, family, err)
	}
	return out, nil
}
