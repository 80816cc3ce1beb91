package mrt

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// FileSummary is what one input yielded: the line `blackout mrt dump` and
// `mrt stats` print for each input, and an entry of StatsReport.Files.
type FileSummary struct {
	Name         string `json:"name"`
	Records      int64  `json:"records"`
	Routes       int64  `json:"routes"`
	Errors       int64  `json:"errors"`
	BytesSkipped int64  `json:"bytes_skipped"`
	NotDecoded   int64  `json:"not_decoded"`                // records of types or subtypes not decoded
	HostBits     int64  `json:"host_bits_masked,omitempty"` // routes whose prefix had host bits set
}

// String returns "NAME: N records, N routes, N errors, N bytes skipped",
// then ", N records not decoded" and ", N prefixes with host bits
// (masked)" when there are some.
func (s FileSummary) String() string {
	str := fmt.Sprintf("%s: %d records, %d routes, %d errors, %d bytes skipped", s.Name, s.Records, s.Routes, s.Errors, s.BytesSkipped)
	if s.NotDecoded > 0 {
		str += fmt.Sprintf(", %d records not decoded", s.NotDecoded)
	}
	if s.HostBits > 0 {
		str += fmt.Sprintf(", %d prefixes with host bits (masked)", s.HostBits)
	}
	return str
}

// Summary returns the summary of what rr has read so far: its input's name
// (as given to NewRouteReader), the records, the routes announced and
// withdrawn, errs (the errors the caller counted) and the bytes skipped.
func (rr *RouteReader) Summary(errs int64) FileSummary {
	st := rr.Stats()
	var recs int64
	for _, n := range st.Records {
		recs += n
	}
	var nd int64
	for _, n := range st.Skipped {
		nd += n
	}
	return FileSummary{Name: rr.rd.Name(), Records: recs, Routes: st.Announcements + st.Withdrawals, Errors: errs, BytesSkipped: st.BytesSkipped,
		NotDecoded: nd, HostBits: st.HostBits}
}

// WriteSummary writes to w the summary of what rr has read (errs: the
// errors the caller counted), then a line per type and subtype of records
// not decoded, with the offset of the first: "NAME: 24242 records of MRT
// type 5 (BGP) subtype 9 (SUBTYPE_9) not decoded, the first at offset 0".
// It returns the summary.
func WriteSummary(w io.Writer, rr *RouteReader, errs int64) FileSummary {
	sum := rr.Summary(errs)
	fmt.Fprintln(w, sum)
	for _, u := range rr.Undecoded() {
		fmt.Fprintf(w, "%s: %s\n", sum.Name, u)
	}
	return sum
}

// StatsReport is the report of `blackout mrt stats` over one or more
// inputs; it is also its JSON form.
type StatsReport struct {
	Files         []FileSummary    `json:"files"`
	Records       []RecordCount    `json:"records"`                // by type and subtype, in their numeric order
	Messages      map[string]int64 `json:"bgp_messages,omitempty"` // BGP4MP messages by BGPMessageName
	Peers         int              `json:"peers"`
	PeerRoutes    []PeerCount      `json:"peer_routes"` // most routes first
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
	NotDecoded    int64            `json:"not_decoded"`      // records of types or subtypes not decoded
	HostBits      int64            `json:"host_bits_masked"` // routes whose prefix had host bits set (masked in the events)
}

// RecordCount counts the records of one type and subtype.
type RecordCount struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
	Count   int64  `json:"count"`
	Skipped int64  `json:"not_decoded,omitempty"`
}

// PeerCount counts the events of one peer.
type PeerCount struct {
	Collector     string `json:"collector,omitempty"`
	Peer          string `json:"peer"`
	AS            uint32 `json:"peer_as"`
	Announcements int64  `json:"announcements"`
	Withdrawals   int64  `json:"withdrawals"`
	RIBEntries    int64  `json:"rib_entries"`
	StateChanges  int64  `json:"state_changes"`
}

func (p *PeerCount) routes() int64 { return p.Announcements + p.Withdrawals + p.RIBEntries }

// StatsCollector builds a StatsReport: give it every event of every input
// (Event), then each input's summary and reader counters (File), or the
// name of an input that could not be opened (Failed).
type StatsCollector struct {
	rep         StatsReport
	records     map[RecordKey]*RecordCount
	keys        []RecordKey
	messages    map[string]int64
	peers       map[bgp.Peer]*PeerCount
	v4, v6      map[netip.Prefix]struct{}
	first, last time.Time
}

// NewStatsCollector returns an empty StatsCollector.
func NewStatsCollector() *StatsCollector {
	return &StatsCollector{
		records:  map[RecordKey]*RecordCount{},
		messages: map[string]int64{},
		peers:    map[bgp.Peer]*PeerCount{},
		v4:       map[netip.Prefix]struct{}{},
		v6:       map[netip.Prefix]struct{}{},
	}
}

// Event counts ev for its peer and, for a route, its prefix.
func (c *StatsCollector) Event(ev *bgp.Event) {
	p := c.peers[ev.Peer]
	if p == nil {
		p = &PeerCount{Collector: ev.Peer.Collector, Peer: ev.Peer.Addr.String(), AS: uint32(ev.Peer.AS)}
		c.peers[ev.Peer] = p
	}
	switch {
	case ev.Kind == bgp.PeerState:
		p.StateChanges++
		return
	case ev.Kind == bgp.Withdraw:
		p.Withdrawals++
	case ev.RIB:
		p.RIBEntries++
	default:
		p.Announcements++
	}
	if ev.Prefix.Addr().Is4() {
		c.v4[ev.Prefix] = struct{}{}
	} else {
		c.v6[ev.Prefix] = struct{}{}
	}
}

// File adds an input that has been read: its summary (whose Errors count
// in the report's) and the counters of its RouteReader.
func (c *StatsCollector) File(sum FileSummary, st *Stats) {
	rep := &c.rep
	rep.Files = append(rep.Files, sum)
	rep.Errors += sum.Errors
	rep.BytesSkipped += st.BytesSkipped
	rep.HostBits += st.HostBits
	rep.Announcements += st.Announcements
	rep.Withdrawals += st.Withdrawals
	rep.StateChanges += st.StateChanges
	rep.RIBEntries += st.RIBEntries
	rep.Multicast += st.Multicast
	for k, n := range st.Records {
		rc := c.records[k]
		if rc == nil {
			rc = &RecordCount{Type: k.Type.String(), Subtype: SubtypeName(k.Type, k.Subtype)}
			c.records[k] = rc
			c.keys = append(c.keys, k)
		}
		rc.Count += n
		rc.Skipped += st.Skipped[k]
		rep.NotDecoded += st.Skipped[k]
	}
	for i, n := range st.Messages {
		if n > 0 {
			c.messages[BGPMessageName(i)] += n
		}
	}
	if !st.First.IsZero() && (c.first.IsZero() || st.First.Before(c.first)) {
		c.first = st.First
	}
	if st.Last.After(c.last) {
		c.last = st.Last
	}
}

// Failed adds an input that could not be opened: one error.
func (c *StatsCollector) Failed(name string) {
	c.rep.Errors++
	c.rep.Files = append(c.rep.Files, FileSummary{Name: name, Errors: 1})
}

// Report returns the report of everything added so far.
func (c *StatsCollector) Report() *StatsReport {
	rep := c.rep
	keys := append([]RecordKey(nil), c.keys...)
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Type != keys[j].Type {
			return keys[i].Type < keys[j].Type
		}
		return keys[i].Subtype < keys[j].Subtype
	})
	rep.Records = nil
	for _, k := range keys {
		rep.Records = append(rep.Records, *c.records[k])
	}
	if len(c.messages) > 0 {
		rep.Messages = make(map[string]int64, len(c.messages))
		for n, v := range c.messages {
			rep.Messages[n] = v
		}
	}
	rep.Peers = len(c.peers)
	rep.PeerRoutes = []PeerCount{}
	for _, p := range c.peers {
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
	rep.PrefixesV4, rep.PrefixesV6 = len(c.v4), len(c.v6)
	if !c.first.IsZero() {
		first, last := c.first, c.last
		rep.First, rep.Last = &first, &last
	}
	return &rep
}

// BGPMessageName returns the name of BGP message type t ("UPDATE", ...),
// or TYPE_t.
func BGPMessageName(t int) string {
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

// WriteStatsText writes rep for people, as `blackout mrt stats` prints it:
// records by type, BGP messages, routes, time span and errors, then a table
// of the peers.
func WriteStatsText(w io.Writer, rep *StatsReport) error {
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
	if rep.HostBits > 0 {
		fmt.Fprintf(tw, "  with host bits (masked)\t%d\n", rep.HostBits)
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
	fmt.Fprintf(tw, "Records not decoded\t%d\n", rep.NotDecoded)
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
