package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

func init() {
	register(command{name: "mrt dump", summary: "print the route events of MRT files (-m: as bgpdump -m; --json)", run: runMRTDump})
	register(command{name: "mrt stats", summary: "count the records, peers, prefixes and routes of MRT files", run: runMRTStats})
}

// outBufSize is the size of the buffer in front of standard output.
const outBufSize = 1 << 20

// mrtInput is one MRT input being read.
type mrtInput struct {
	name string // as given on the command line
	rc   io.ReadCloser
	rr   *mrt.RouteReader
}

// openMRT opens name ("-" is standard input, an http(s) URL, or a file;
// gzip, bzip2 and zstd are undone) and returns a route reader of it.
func openMRT(ctx context.Context, env *cmdEnv, name, collector string) (*mrtInput, error) {
	var rc io.ReadCloser
	var err error
	display := name
	if name == "-" {
		display = "stdin"
		rc, _, err = compress.NewReader(env.stdin)
		if err != nil {
			err = fmt.Errorf("stdin: %w", err)
		}
	} else {
		rc, err = compress.Open(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	rr := mrt.NewRouteReader(rc, display, collector)
	rr.IncludeMulticast = true // printed, as bgpdump does
	return &mrtInput{name: display, rc: rc, rr: rr}, nil
}

// fileSummary is what one input yielded.
type fileSummary struct {
	Name         string `json:"name"`
	Records      int64  `json:"records"`
	Routes       int64  `json:"routes"`
	Errors       int64  `json:"errors"`
	BytesSkipped int64  `json:"bytes_skipped"`
}

func (s fileSummary) String() string {
	return fmt.Sprintf("%s: %d records, %d routes, %d errors, %d bytes skipped", s.Name, s.Records, s.Routes, s.Errors, s.BytesSkipped)
}

func summarize(in *mrtInput, errs int64) fileSummary {
	st := in.rr.Stats()
	var recs int64
	for _, n := range st.Records {
		recs += n
	}
	return fileSummary{Name: in.name, Records: recs, Routes: st.Announcements + st.Withdrawals, Errors: errs, BytesSkipped: st.BytesSkipped}
}

// eachEvent reads every event of in and calls fn for it. Errors are not
// fatal: each is printed on stderr (after flushing out, so that the
// lines before it come first) and counted. It returns the number of errors,
// and ctx's error if ctx ended the reading.
func eachEvent(ctx context.Context, env *cmdEnv, out *bufio.Writer, in *mrtInput, fn func(ev *bgp.Event) error) (int64, error) {
	var errs int64
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return errs, err
			}
		}
		ev, err := in.rr.Next()
		if err == io.EOF {
			return errs, nil
		}
		if err != nil {
			errs++
			if out != nil {
				out.Flush()
			}
			// A *mrt.RecordError leaves the reader going; after another
			// error (decompression, network) its next call returns io.EOF.
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			continue
		}
		if err := fn(ev); err != nil {
			return errs, err
		}
	}
}

// runMRTDump implements `blackout mrt dump`.
//
// The default output is one line per route event, for people:
//
//	TIME KIND [COLLECTOR] PEER ASN PREFIX [id=PATHID] [path="AS PATH"] [origin=O] [nh=NEXTHOP] [nh-ll=ADDR]
//	  [lp=N] [med=N] [comm=A:B,...] [large=G:L1:L2,...] [atomic] [agg=AS/ADDR]
//
// TIME is RFC 3339 in UTC, with microseconds for BGP4MP_ET records; KIND is
// announce, withdraw, rib (a table dump entry) or state (PEER ASN OLD->NEW).
//
// With -m the output is that of `bgpdump -m` (bgpdump 1.6), line for line.
//
// With --json each event is one JSON object on its own line (JSON Lines):
//
//	time            string  RFC 3339, UTC, with microseconds where the record has them
//	kind            string  "announce", "withdraw" or "state"
//	rib             bool    true for a table dump entry (a snapshot, not a change); omitted when false
//	multicast       bool    true for a multicast (SAFI 2) route; omitted when false
//	collector       string  the --collector name; omitted when empty
//	peer            string  the peer's address
//	peer_as         number  the peer's AS
//	prefix          string  the prefix (announce, withdraw)
//	path_id         number  ADD-PATH path identifier; omitted when 0
//	as_path         string  the AS path in bgpdump notation ("1 2 {3,4}"; "(...)" and "[...]" confederations)
//	origin_as       number  the last AS of the path; omitted when the path has none
//	origin          string  "IGP", "EGP" or "INCOMPLETE"; omitted when the attribute is absent
//	next_hop        string  NEXT_HOP or the MP_REACH_NLRI next hop; omitted when none
//	link_local_next_hop string the second IPv6 next hop; omitted when none
//	local_pref, med number  omitted when the attribute is absent
//	communities     [string] "AS:value"; well-known ones by name (no-export, no-advertise, no-export-subconfed)
//	large_communities [string] "global:local1:local2"
//	atomic_aggregate bool   omitted when false
//	aggregator      string  "AS addr"; omitted when absent
//	old_state, new_state string  BGP FSM state names (state events)
//
// Errors in the input (a truncated file, a corrupt record) are printed on
// standard error naming the input and byte offset; every route before and
// after is still printed. At the end a summary line per input goes to
// standard error, and the exit status is 1 if any error happened.
func runMRTDump(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "mrt dump", "[-m] [--json] [--collector NAME] FILE...")
	bgpdumpMode := fs.Bool("m", false, "print what `bgpdump -m` prints, line for line")
	jsonMode := fs.Bool("json", false, "print one JSON object per route event (JSON Lines)")
	collector := fs.String("collector", "", "name of the route collector, shown in the events' peers")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no input file (use - for standard input)", errUsage)
	}
	if *bgpdumpMode && *jsonMode {
		return fmt.Errorf("%w: -m and --json exclude each other", errUsage)
	}
	out := bufio.NewWriterSize(env.stdout, outBufSize)
	defer out.Flush()
	var collectorJSON []byte
	if *collector != "" {
		collectorJSON, _ = json.Marshal(*collector)
	}
	var total int64
	var line []byte
	for _, name := range files {
		in, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			out.Flush()
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			total++
			continue
		}
		var fn func(ev *bgp.Event) error
		switch {
		case *bgpdumpMode:
			fn = func(ev *bgp.Event) error {
				line = mrt.AppendBgpdumpLine(line[:0], in.rr, ev)
				_, err := out.Write(line)
				return err
			}
		case *jsonMode:
			fn = func(ev *bgp.Event) error {
				line = appendEventJSON(line[:0], in.rr, ev, collectorJSON)
				_, err := out.Write(line)
				return err
			}
		default:
			fn = func(ev *bgp.Event) error {
				line = appendEventText(line[:0], in.rr, ev)
				_, err := out.Write(line)
				return err
			}
		}
		errs, err := eachEvent(ctx, env, out, in, fn)
		in.rc.Close()
		total += errs
		if err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(env.stderr, summarize(in, errs))
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if total > 0 {
		return exitError{1}
	}
	return nil
}

// hasMicroseconds reports whether the record's time has a microsecond part.
func hasMicroseconds(rec *mrt.Record) bool { return rec.Type == mrt.TypeBGP4MPET }

const (
	timeLayout   = "2006-01-02T15:04:05Z07:00"
	timeLayoutUS = "2006-01-02T15:04:05.000000Z07:00"
)

func appendTime(b []byte, t time.Time, us bool) []byte {
	if us {
		return t.UTC().AppendFormat(b, timeLayoutUS)
	}
	return t.UTC().AppendFormat(b, timeLayout)
}

func appendKind(b []byte, ev *bgp.Event) []byte {
	if ev.Kind == bgp.Announce && ev.RIB {
		return append(b, "rib"...)
	}
	return append(b, ev.Kind.String()...)
}

// appendEventText appends the readable line of ev.
func appendEventText(b []byte, rr *mrt.RouteReader, ev *bgp.Event) []byte {
	b = appendTime(b, ev.Time, hasMicroseconds(rr.Record()))
	b = append(b, ' ')
	b = appendKind(b, ev)
	b = append(b, ' ')
	if ev.Peer.Collector != "" {
		b = append(b, ev.Peer.Collector...)
		b = append(b, ' ')
	}
	b = ev.Peer.Addr.AppendTo(b)
	b = append(b, " AS"...)
	b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	if ev.Kind == bgp.PeerState {
		b = append(b, ' ')
		b = append(b, ev.OldState.String()...)
		b = append(b, "->"...)
		b = append(b, ev.NewState.String()...)
		return append(b, '\n')
	}
	b = append(b, ' ')
	b = ev.Prefix.AppendTo(b)
	if ev.Multicast {
		b = append(b, " multicast"...)
	}
	if ev.PathID != 0 {
		b = append(b, " id="...)
		b = strconv.AppendUint(b, uint64(ev.PathID), 10)
	}
	if ev.Kind != bgp.Announce || ev.Attrs == nil {
		return append(b, '\n')
	}
	a := ev.Attrs
	b = append(b, ` path="`...)
	b = a.Path.AppendString(b)
	b = append(b, '"')
	if a.Has(bgp.AttrOrigin) {
		b = append(b, " origin="...)
		b = append(b, a.Origin.String()...)
	}
	if a.NextHop.IsValid() {
		b = append(b, " nh="...)
		b = a.NextHop.AppendTo(b)
	}
	if a.LinkLocalNextHop.IsValid() {
		b = append(b, " nh-ll="...)
		b = a.LinkLocalNextHop.AppendTo(b)
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, " lp="...)
		b = strconv.AppendUint(b, uint64(a.LocalPref), 10)
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, " med="...)
		b = strconv.AppendUint(b, uint64(a.MED), 10)
	}
	for i, c := range a.Communities {
		if i == 0 {
			b = append(b, " comm="...)
		} else {
			b = append(b, ',')
		}
		b = c.AppendString(b)
	}
	for i, c := range a.LargeCommunities {
		if i == 0 {
			b = append(b, " large="...)
		} else {
			b = append(b, ',')
		}
		b = appendLarge(b, c)
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, " atomic"...)
	}
	if a.Has(bgp.AttrAggregator) {
		b = append(b, " agg="...)
		b = strconv.AppendUint(b, uint64(a.Aggregator.AS), 10)
		b = append(b, '/')
		b = a.Aggregator.Addr.AppendTo(b)
	}
	return append(b, '\n')
}

func appendLarge(b []byte, c bgp.LargeCommunity) []byte {
	b = strconv.AppendUint(b, uint64(c.Global), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Local1), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(c.Local2), 10)
}

// appendEventJSON appends the JSON line of ev (fields: see runMRTDump).
// collector is the collector name already encoded as a JSON string, or nil.
func appendEventJSON(b []byte, rr *mrt.RouteReader, ev *bgp.Event, collector []byte) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, ev.Time, hasMicroseconds(rr.Record()))
	b = append(b, `","kind":"`...)
	b = append(b, ev.Kind.String()...)
	b = append(b, '"')
	if ev.RIB {
		b = append(b, `,"rib":true`...)
	}
	if ev.Multicast {
		b = append(b, `,"multicast":true`...)
	}
	if collector != nil {
		b = append(b, `,"collector":`...)
		b = append(b, collector...)
	}
	b = append(b, `,"peer":"`...)
	b = ev.Peer.Addr.AppendTo(b)
	b = append(b, `","peer_as":`...)
	b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	if ev.Kind == bgp.PeerState {
		b = append(b, `,"old_state":"`...)
		b = append(b, ev.OldState.String()...)
		b = append(b, `","new_state":"`...)
		b = append(b, ev.NewState.String()...)
		return append(b, "\"}\n"...)
	}
	b = append(b, `,"prefix":"`...)
	b = ev.Prefix.AppendTo(b)
	b = append(b, '"')
	if ev.PathID != 0 {
		b = append(b, `,"path_id":`...)
		b = strconv.AppendUint(b, uint64(ev.PathID), 10)
	}
	if ev.Kind != bgp.Announce || ev.Attrs == nil {
		return append(b, "}\n"...)
	}
	a := ev.Attrs
	b = append(b, `,"as_path":"`...)
	b = a.Path.AppendString(b)
	b = append(b, '"')
	if o, ok := a.Path.Origin(); ok {
		b = append(b, `,"origin_as":`...)
		b = strconv.AppendUint(b, uint64(o), 10)
	}
	if a.Has(bgp.AttrOrigin) {
		b = append(b, `,"origin":"`...)
		b = append(b, a.Origin.String()...)
		b = append(b, '"')
	}
	if a.NextHop.IsValid() {
		b = append(b, `,"next_hop":"`...)
		b = a.NextHop.AppendTo(b)
		b = append(b, '"')
	}
	if a.LinkLocalNextHop.IsValid() {
		b = append(b, `,"link_local_next_hop":"`...)
		b = a.LinkLocalNextHop.AppendTo(b)
		b = append(b, '"')
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, `,"local_pref":`...)
		b = strconv.AppendUint(b, uint64(a.LocalPref), 10)
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, `,"med":`...)
		b = strconv.AppendUint(b, uint64(a.MED), 10)
	}
	if len(a.Communities) > 0 {
		b = append(b, `,"communities":[`...)
		for i, c := range a.Communities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = c.AppendString(b)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if len(a.LargeCommunities) > 0 {
		b = append(b, `,"large_communities":[`...)
		for i, c := range a.LargeCommunities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = appendLarge(b, c)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, `,"atomic_aggregate":true`...)
	}
	if a.Has(bgp.AttrAggregator) {
		b = append(b, `,"aggregator":"`...)
		b = strconv.AppendUint(b, uint64(a.Aggregator.AS), 10)
		b = append(b, ' ')
		b = a.Aggregator.Addr.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// mrtStats is the report of `blackout mrt stats` (its JSON form).
type mrtStats struct {
	Files         []fileSummary    `json:"files"`
	Records       []recordCount    `json:"records"`
	Messages      map[string]int64 `json:"bgp_messages,omitempty"`
	Peers         int              `json:"peers"`
	PeerRoutes    []peerCount      `json:"peer_routes"`
	PrefixesV4    int              `json:"prefixes_ipv4"`
	PrefixesV6    int              `json:"prefixes_ipv6"`
	Announcements int64            `json:"announcements"`
	Withdrawals   int64            `json:"withdrawals"`
	StateChanges  int64            `json:"state_changes"`
	RIBEntries    int64            `json:"rib_entries"`
	Multicast     int64            `json:"multicast_routes_skipped"`
	First         *time.Time       `json:"first,omitempty"`
	Last          *time.Time       `json:"last,omitempty"`
	Errors        int64            `json:"errors"`
	BytesSkipped  int64            `json:"bytes_skipped"`
}

type recordCount struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
	Count   int64  `json:"count"`
	Skipped int64  `json:"not_decoded,omitempty"`
}

type peerCount struct {
	Collector     string `json:"collector,omitempty"`
	Peer          string `json:"peer"`
	AS            uint32 `json:"peer_as"`
	Announcements int64  `json:"announcements"`
	Withdrawals   int64  `json:"withdrawals"`
	RIBEntries    int64  `json:"rib_entries"`
	StateChanges  int64  `json:"state_changes"`
}

func (p *peerCount) routes() int64 { return p.Announcements + p.Withdrawals + p.RIBEntries }

// runMRTStats implements `blackout mrt stats`.
func runMRTStats(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "mrt stats", "[--json] FILE...")
	jsonMode := fs.Bool("json", false, "print the report as one JSON object")
	collector := fs.String("collector", "", "name of the route collector, shown in the peers")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no input file (use - for standard input)", errUsage)
	}
	var rep mrtStats
	records := map[mrt.RecordKey]*recordCount{}
	var keys []mrt.RecordKey
	messages := map[string]int64{}
	peers := map[bgp.Peer]*peerCount{}
	v4 := map[netip.Prefix]struct{}{}
	v6 := map[netip.Prefix]struct{}{}
	var first, last time.Time
	progress := newProgress(env)
	for _, name := range files {
		in, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			rep.Errors++
			rep.Files = append(rep.Files, fileSummary{Name: name, Errors: 1})
			continue
		}
		var n int64
		errs, err := eachEvent(ctx, env, nil, in, func(ev *bgp.Event) error {
			if n++; n&0xffff == 0 {
				progress.show(in.name, in.rr.Offset())
			}
			p := peers[ev.Peer]
			if p == nil {
				p = &peerCount{Collector: ev.Peer.Collector, Peer: ev.Peer.Addr.String(), AS: uint32(ev.Peer.AS)}
				peers[ev.Peer] = p
			}
			switch {
			case ev.Kind == bgp.PeerState:
				p.StateChanges++
				return nil
			case ev.Kind == bgp.Withdraw:
				p.Withdrawals++
			case ev.RIB:
				p.RIBEntries++
			default:
				p.Announcements++
			}
			if ev.Prefix.Addr().Is4() {
				v4[ev.Prefix] = struct{}{}
			} else {
				v6[ev.Prefix] = struct{}{}
			}
			return nil
		})
		progress.clear()
		in.rc.Close()
		sum := summarize(in, errs)
		rep.Files = append(rep.Files, sum)
		fmt.Fprintln(env.stderr, sum)
		rep.Errors += errs
		st := in.rr.Stats()
		rep.BytesSkipped += st.BytesSkipped
		rep.Announcements += st.Announcements
		rep.Withdrawals += st.Withdrawals
		rep.StateChanges += st.StateChanges
		rep.RIBEntries += st.RIBEntries
		rep.Multicast += st.Multicast
		for k, c := range st.Records {
			rc := records[k]
			if rc == nil {
				rc = &recordCount{Type: k.Type.String(), Subtype: mrt.SubtypeName(k.Type, k.Subtype)}
				records[k] = rc
				keys = append(keys, k)
			}
			rc.Count += c
			rc.Skipped += st.Skipped[k]
		}
		for i, c := range st.Messages {
			if c > 0 {
				messages[bgpMessageName(i)] += c
			}
		}
		if !st.First.IsZero() && (first.IsZero() || st.First.Before(first)) {
			first = st.First
		}
		if st.Last.After(last) {
			last = st.Last
		}
		if err != nil {
			return err
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Type != keys[j].Type {
			return keys[i].Type < keys[j].Type
		}
		return keys[i].Subtype < keys[j].Subtype
	})
	for _, k := range keys {
		rep.Records = append(rep.Records, *records[k])
	}
	if len(messages) > 0 {
		rep.Messages = messages
	}
	rep.Peers = len(peers)
	rep.PeerRoutes = []peerCount{}
	for _, p := range peers {
		rep.PeerRoutes = append(rep.PeerRoutes, *p)
	}
	sort.Slice(rep.PeerRoutes, func(i, j int) bool {
		a, b := &rep.PeerRoutes[i], &rep.PeerRoutes[j]
		if a.routes() != b.routes() {
			return a.routes() > b.routes()
		}
		if a.Peer != b.Peer {
			return a.Peer < b.Peer
		}
		return a.AS < b.AS
	})
	rep.PrefixesV4, rep.PrefixesV6 = len(v4), len(v6)
	if !first.IsZero() {
		rep.First, rep.Last = &first, &last
	}
	if *jsonMode {
		enc := json.NewEncoder(env.stdout)
		if err := enc.Encode(&rep); err != nil {
			return err
		}
	} else if err := writeStatsText(env.stdout, &rep); err != nil {
		return err
	}
	if rep.Errors > 0 {
		return exitError{1}
	}
	return nil
}

func bgpMessageName(t int) string {
	switch uint8(t) {
	case wire.MsgOpen:
		return "OPEN"
	case wire.MsgUpdate:
		return "UPDATE"
	case wire.MsgNotification:
		return "NOTIFICATION"
	case wire.MsgKeepalive:
		return "KEEPALIVE"
	case wire.MsgRouteRefresh:
		return "ROUTE-REFRESH"
	}
	return "TYPE_" + strconv.Itoa(t)
}

func writeStatsText(w io.Writer, rep *mrtStats) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Records")
	for _, r := range rep.Records {
		skipped := ""
		if r.Skipped > 0 {
			skipped = fmt.Sprintf("\t(%d not decoded)", r.Skipped)
		}
		fmt.Fprintf(tw, "  %s/%s\t%d%s\n", r.Type, r.Subtype, r.Count, skipped)
	}
	if len(rep.Messages) > 0 {
		names := make([]string, 0, len(rep.Messages))
		for n := range rep.Messages {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(tw, "BGP messages")
		for _, n := range names {
			fmt.Fprintf(tw, "  %s\t%d\n", n, rep.Messages[n])
		}
	}
	fmt.Fprintln(tw, "Routes")
	fmt.Fprintf(tw, "  announcements\t%d\n", rep.Announcements)
	fmt.Fprintf(tw, "  withdrawals\t%d\n", rep.Withdrawals)
	fmt.Fprintf(tw, "  RIB entries\t%d\n", rep.RIBEntries)
	fmt.Fprintf(tw, "  state changes\t%d\n", rep.StateChanges)
	if rep.Multicast > 0 {
		fmt.Fprintf(tw, "  multicast (skipped)\t%d\n", rep.Multicast)
	}
	fmt.Fprintf(tw, "  unique IPv4 prefixes\t%d\n", rep.PrefixesV4)
	fmt.Fprintf(tw, "  unique IPv6 prefixes\t%d\n", rep.PrefixesV6)
	if rep.First != nil {
		fmt.Fprintln(tw, "Time span")
		fmt.Fprintf(tw, "  first\t%s\n", rep.First.UTC().Format(timeLayoutUS))
		fmt.Fprintf(tw, "  last\t%s\n", rep.Last.UTC().Format(timeLayoutUS))
		fmt.Fprintf(tw, "  duration\t%s\n", rep.Last.Sub(*rep.First))
	}
	fmt.Fprintf(tw, "Errors\t%d\n", rep.Errors)
	fmt.Fprintf(tw, "Bytes skipped\t%d\n", rep.BytesSkipped)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(bw, "\nPeers: %d\n", rep.Peers)
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "peer\tAS\tannounce\twithdraw\tRIB\tstate\t")
	for _, p := range rep.PeerRoutes {
		peer := p.Peer
		if p.Collector != "" {
			peer = p.Collector + " " + peer
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", peer, p.AS, p.Announcements, p.Withdrawals, p.RIBEntries, p.StateChanges)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// progress shows how far a long read has come on a terminal's stderr, and
// stays silent otherwise.
type progress struct {
	w    io.Writer
	on   bool
	last time.Time
}

func newProgress(env *cmdEnv) *progress {
	p := &progress{w: env.stderr}
	if isTerminal(env.stderr) {
		p.on = true
	}
	return p
}

func (p *progress) show(name string, offset int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r%s: %d MB read\x1b[K", name, offset>>20)
}

func (p *progress) clear() {
	if p.on && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.last = time.Time{}
	}
}
