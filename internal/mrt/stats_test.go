package mrt

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// collectStats reads data as input name and returns the collector.
func collectStats(t *testing.T, c *StatsCollector, data []byte, name string) FileSummary {
	t.Helper()
	rr := NewRouteReader(bytes.NewReader(data), name, "")
	var errs int64
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		c.Event(ev)
	}
	sum := rr.Summary(errs)
	c.File(sum, rr.Stats())
	return sum
}

func TestStatsCollector(t *testing.T) {
	data := dumpSample(t)
	c := NewStatsCollector()
	sum := collectStats(t, c, data, "a")
	if want := "a: 5 records, 5 routes, 0 errors, 0 bytes skipped"; sum.String() != want {
		t.Errorf("summary %q, want %q", sum, want)
	}
	// A truncated copy: one error, and the same peers and prefixes.
	collectStats(t, c, data[:len(data)-3], "b")
	c.Failed("missing")
	rep := c.Report()
	if rep.Errors != 2 || len(rep.Files) != 3 || rep.Files[1].Errors != 1 || rep.Files[2] != (FileSummary{Name: "missing", Errors: 1}) {
		t.Errorf("errors %d, files %+v", rep.Errors, rep.Files)
	}
	if rep.Announcements != 2+2+2+1 || rep.Withdrawals != 2 || rep.StateChanges != 2 || rep.RIBEntries != 4 {
		t.Errorf("announcements %d withdrawals %d states %d RIB entries %d", rep.Announcements, rep.Withdrawals, rep.StateChanges, rep.RIBEntries)
	}
	if rep.Peers != 3 || rep.PrefixesV4 != 3 || rep.PrefixesV6 != 1 {
		t.Errorf("peers %d, prefixes %d/%d", rep.Peers, rep.PrefixesV4, rep.PrefixesV6)
	}
	if p := rep.PeerRoutes[0]; p.Peer != "192.0.2.1" || p.RIBEntries != 2 || p.Withdrawals != 2 || p.Announcements != 2 || p.StateChanges != 2 {
		t.Errorf("first peer %+v", p)
	}
	if len(rep.Records) != 5 || rep.Records[0].Type != "TABLE_DUMP_V2" || rep.Records[0].Subtype != "PEER_INDEX_TABLE" || rep.Records[0].Count != 2 {
		t.Errorf("records %+v", rep.Records)
	}
	if rep.Messages["UPDATE"] != 3 || len(rep.Messages) != 1 {
		t.Errorf("messages %v", rep.Messages)
	}
	if rep.First == nil || !rep.First.Equal(wt0) || rep.Last.Sub(*rep.First).Seconds() != 1.5 {
		t.Errorf("first %v last %v", rep.First, rep.Last)
	}
	// Report does not consume the collector.
	if again := c.Report(); again.Peers != rep.Peers || len(again.Records) != len(rep.Records) {
		t.Error("a second Report differs")
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"files":[{"name":"a","records":5,"routes":5,`, `"bgp_messages":{"UPDATE":3}`, `"peer_routes":[{"peer":"192.0.2.1","peer_as":64500,`, `"first":"2014-12-22T16:15:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
}

func TestStatsReportEmpty(t *testing.T) {
	b, err := json.Marshal(NewStatsCollector().Report())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"files":null,"records":null,"peers":0,"peer_routes":[],"prefixes_ipv4":0,"prefixes_ipv6":0,"announcements":0,"withdrawals":0,"state_changes":0,"rib_entries":0,"multicast_routes_skipped":0,"errors":0,"bytes_skipped":0,"not_decoded":0,"host_bits_masked":0}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestWriteStatsText(t *testing.T) {
	c := NewStatsCollector()
	collectStats(t, c, dumpSample(t), "a")
	var out bytes.Buffer
	if err := WriteStatsText(&out, c.Report()); err != nil {
		t.Fatal(err)
	}
	want := `Records
  TABLE_DUMP_V2/PEER_INDEX_TABLE  1
  TABLE_DUMP_V2/RIB_IPV4_UNICAST  1
  BGP4MP_ET/MESSAGE_AS4           1
  BGP4MP_ET/STATE_CHANGE_AS4      1
  BGP4MP_ET/MESSAGE_AS4_ADDPATH   1
BGP messages
  UPDATE  2
Routes
  announcements         4
  withdrawals           1
  RIB entries           2
  state changes         1
  unique IPv4 prefixes  3
  unique IPv6 prefixes  1
Time span
  first              2014-12-22T16:15:00.000000Z
  last               2014-12-22T16:15:01.500000Z
  duration           1.5s
Errors               0
Records not decoded  0
Bytes skipped        0

Peers: 3
          peer          AS  announce  withdraw  RIB  state
     192.0.2.1       64500         1         1    1      1
  198.51.100.3        3356         0         0    1      0
   2001:db8::2  4200000001         1         0    0      0
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestBGPMessageName(t *testing.T) {
	for i, want := range []string{"TYPE_0", "OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH", "TYPE_6"} {
		if got := BGPMessageName(i); got != want {
			t.Errorf("%d: %q, want %q", i, got, want)
		}
	}
}
