package pipeline

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/source"
)

// TestBadTimestampInFile: one update dated 2097 and one dated 1980 in the
// middle of a 2014 file are input errors naming the file and the record's
// offset; they move no clock (no event, no bin, no data time after 2014)
// and the rest of the file goes on (the outage after them is found).
func TestBadTimestampInFile(t *testing.T) {
	w := newWorld(10)
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	t0 := time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC)
	w.rib(t, mw, t0)
	w.ticks(t, mw, t0, 6*time.Hour, 7*time.Minute)
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	off2097 := int64(buf.Len())
	w.tick(t, mw, time.Date(2097, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	off1980 := int64(buf.Len())
	w.tick(t, mw, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	down := time.Date(2014, 12, 22, 16, 15, 0, 0, time.UTC)
	w.withdraw(t, mw, down, w.prefixes[:4], 9*time.Second)
	w.ticks(t, mw, down, time.Hour, 11*time.Minute)
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	res, err := Run(context.Background(), source.Merge([]source.Source{source.NewFile(bytes.NewReader(buf.Bytes()), "test.mrt", "")}),
		Options{Config: DefaultConfig(db), OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 2 || len(errs) != 2 {
		t.Fatalf("%d errors (%v), want 2", res.Errors, errs)
	}
	for i, off := range []int64{off2097, off1980} {
		var te *source.TimeError
		if !errors.As(errs[i], &te) || te.Source != "test.mrt" || te.Offset != off {
			t.Errorf("error %d: %v, want a time error of test.mrt at offset %d", i, errs[i], off)
		}
	}
	if res.Last.Year() != 2014 || res.First.Year() != 2014 {
		t.Errorf("data time %v .. %v: a bad record moved the clock", res.First, res.Last)
	}
	for _, ev := range res.Events {
		if ev.Start.Year() != 2014 || ev.End != nil && ev.End.Year() != 2014 {
			t.Errorf("event dated outside 2014: %+v", ev)
		}
	}
	if find(res, "country", "KP", "outage") == nil {
		t.Error("the outage after the bad records was not found: the file did not go on")
	}
}

// TestBadTimestampLive: a live event dated 1.1e12 seconds after the epoch
// (a RIS Live message seen in the wild) is a time error naming the peer,
// is dropped and moves no clock.
func TestBadTimestampLive(t *testing.T) {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	peer := bgp.Peer{Collector: "rrc00", Addr: netipAddr("192.0.2.10"), AS: 64500}
	now := time.Now().UTC().Truncate(time.Second)
	ch := make(chan bgp.Event, 4)
	ch <- bgp.Event{Time: now, Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateIdle, NewState: bgp.StateEstablished}
	ch <- bgp.Event{Time: time.Unix(1.1e12, 0), Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle}
	ch <- bgp.Event{Time: now.Add(time.Second), Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle}
	close(ch)
	var errs []error
	res, err := Run(context.Background(), source.FromChannel(ch), Options{Config: DefaultConfig(db), OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	var te *source.TimeError
	if len(errs) != 1 || !errors.As(errs[0], &te) || te.Peer != peer || te.Source != "rrc00" {
		t.Fatalf("errors %v, want one time error naming rrc00 and the peer", errs)
	}
	if !res.Last.Equal(now.Add(time.Second)) || res.RouteEvents != 2 {
		t.Errorf("data time %v, %d events: want %v, 2", res.Last, res.RouteEvents, now.Add(time.Second))
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
