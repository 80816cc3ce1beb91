package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/progress"
)

func init() {
	register(command{name: "geo lookup", summary: "country, AS and name of addresses, prefixes and ASNs", run: runGeoLookup})
	register(command{name: "geo update", summary: "download the RIR delegated-extended files into the cache", run: runGeoUpdate})
}

// loadGeoTo returns the registry data for commands with a repeatable --geo
// flag: the default (embedded snapshot plus `geo update` cache) when paths
// is empty, else paths stacked over the default, later paths winning. It
// reports skipped malformed lines on w.
func loadGeoTo(w io.Writer, paths []string) (*geo.DB, error) {
	var db *geo.DB
	var err error
	if len(paths) == 0 {
		db, err = geo.Default()
	} else {
		db, err = geo.Open(paths)
	}
	if err != nil {
		return nil, err
	}
	geo.WriteSkipped(w, db)
	return db, nil
}

// geoResult is one answer of `geo lookup` (its --json object).
type geoResult = geo.QueryResult

func runGeoLookup(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "geo lookup", "[--json] [--geo PATH]... ADDRESS|PREFIX|ASN...")
	asJSON := fs.Bool("json", false, "print one JSON object per argument")
	var paths multiFlag
	fs.Var(&paths, "geo", "registry data to stack over the default: RIR delegated file, .mmdb or CSV (repeatable; later wins)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: give at least one address, prefix or AS number", errUsage)
	}
	db, err := loadGeoTo(env.stderr, paths)
	if err != nil {
		return err
	}
	results := make([]geoResult, len(pos))
	bad := 0
	for i, q := range pos {
		results[i] = db.Query(q)
		if results[i].Error != "" {
			bad++
		}
	}
	write := geo.WriteQueryTable
	if *asJSON {
		write = geo.WriteQueryJSON
	}
	if err := write(env.stdout, results); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d argument(s) not understood", bad)
	}
	return nil
}

// baseURLFlag collects --base-url RIR=URL.
type baseURLFlag map[string]string

func (b baseURLFlag) String() string { return "" }
func (b baseURLFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want RIR=URL, e.g. ripencc=https://ftp.ripe.net/pub/stats/ripencc")
	}
	b[strings.ToLower(name)] = url
	return nil
}

func runGeoUpdate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "geo update", "[--dir DIR] [--rir NAME]... [--base-url RIR=URL]...")
	def, _ := geo.DefaultCacheDir()
	dir := fs.String("dir", def, "cache directory (later commands read it; $BLACKOUT_GEO_CACHE overrides the default)")
	bases := baseURLFlag{}
	fs.Var(bases, "base-url", "directory URL of an RIR's statistics, RIR=URL (repeatable; RIR is afrinic, apnic, arin, lacnic or ripencc)")
	var only multiFlag
	fs.Var(&only, "rir", "update only this RIR (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	rirs, err := geo.SelectRIRs(only, bases)
	if u := (*geo.UnknownRIRError)(nil); errors.As(err, &u) && u.InBases {
		return fmt.Errorf("%w: unknown RIR %q in --base-url (want afrinic, apnic, arin, lacnic or ripencc)", errUsage, u.Name)
	} else if u != nil {
		return fmt.Errorf("%w: unknown RIR %q in --rir", errUsage, u.Name)
	}
	opts := geo.UpdateOptions{Dir: *dir, RIRs: rirs}
	line := progress.New(env.stderr)
	if line.On() {
		opts.Progress = func(file string, done, total int64) {
			line.Showf("%s: %s / %s", file, progress.Bytes(done), progress.Bytes(total))
		}
	}
	res, err := geo.Update(ctx, opts)
	line.Clear()
	if werr := geo.WriteUpdateTable(env.stdout, res); err == nil {
		return werr
	}
	return fmt.Errorf("some RIRs failed; their cached data, if any, stays in use:\n%w", err)
}
