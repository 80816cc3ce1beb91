package partview

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/view"
)

// TestSplitFromCheckpoints: the demo through the view and through the
// split over 3 workers, each worker replaced every 3,001 events by the
// worker its checkpoint decodes to: the same observer calls and answers.
func TestSplitFromCheckpoints(t *testing.T) {
	compare(t, source.Merge(demo.Sources()), view.DefaultConfig(), 3, false, 3001)
}

// deltaString is a delta with its paths as ASes and its routes sorted.
func deltaString(d Delta) string {
	ps := func(p *Path) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%v/%d", p.ASes, p.Origin)
	}
	var rs []string
	for _, r := range d.Routes {
		rs = append(rs, r.Prefix.String()+" "+ps(r.Path))
	}
	slices.Sort(rs)
	return fmt.Sprintf("%d %s %s %v f%d s%v b%d up%v sig%v ld%v new%v long%v", d.Kind, ps(d.Old), ps(d.New), rs, d.Family, d.Size, d.Before, d.Up, d.Signals, d.Loading, d.NewPeer, d.LongPath)
}

// addPathEvents is a peer with ADD-PATH routes, a limited peer and a
// peer gone down: state the demo does not have.
func addPathEvents() []bgp.Event {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	a := bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("2001:db8::1"), AS: 64500}
	b := bgp.Peer{Collector: "rrc01", Addr: netip.MustParseAddr("192.0.2.1"), AS: 64501}
	c := bgp.Peer{Addr: netip.MustParseAddr("192.0.2.2"), AS: 64502}
	path := func(as ...bgp.ASN) *bgp.Attrs {
		return &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: as}}}}
	}
	p4 := netip.MustParsePrefix("198.51.100.0/24")
	p6 := netip.MustParsePrefix("2001:db8:1::/48")
	odd := netip.PrefixFrom(netip.MustParseAddr("203.0.113.7"), 24) // host bits kept
	return []bgp.Event{
		{Time: t0, Kind: bgp.PeerState, Peer: a, OldState: bgp.StateIdle, NewState: bgp.StateEstablished, SignalsReady: true},
		{Time: t0, Kind: bgp.Announce, Peer: a, Prefix: p4, PathID: 1, Attrs: path(64500, 1)},
		{Time: t0, Kind: bgp.Announce, Peer: a, Prefix: p4, PathID: 2, Attrs: path(64500, 2, 1)},
		{Time: t0, Kind: bgp.Announce, Peer: a, Prefix: p6, Attrs: path(64500, 3)},
		{Time: t0, Kind: bgp.Announce, Peer: b, Prefix: odd, Attrs: path(64501, 4)},
		{Time: t0, Kind: bgp.Announce, Peer: c, Prefix: p4, Attrs: path(64502, 5)},
		{Time: t0, Kind: bgp.PeerState, Peer: c, OldState: bgp.StateEstablished, NewState: bgp.StateIdle},
		// after the checkpoint:
		{Time: t0, Kind: bgp.Withdraw, Peer: a, Prefix: p4, PathID: 2},
		{Time: t0, Kind: bgp.Withdraw, Peer: a, Prefix: p4, PathID: 1},
		{Time: t0, Kind: bgp.EndOfRIB, Peer: a, Prefix: p6},
		{Time: t0, Kind: bgp.Announce, Peer: b, Prefix: odd, Attrs: path(64501, 4)},
		{Time: t0, Kind: bgp.Withdraw, Peer: b, Prefix: odd},
		{Time: t0, Kind: bgp.Announce, Peer: c, Prefix: p4, Attrs: path(64502, 5)},
	}
}

// TestWorkerFromCheckpoint: a worker and the worker decoded from its
// checkpoint, given the same events after it, give the same deltas and
// tables (the demo cut every 2,500 events, and ADD-PATH, odd prefixes
// and a peer gone down).
func TestWorkerFromCheckpoint(t *testing.T) {
	evs := demoEvents(t)
	run := func(t *testing.T, evs []bgp.Event, every int) {
		a := NewWorker(view.DefaultConfig())
		var b *Worker
		compared := 0
		for i := range evs {
			da := a.Apply(&evs[i])
			if b != nil {
				if db := b.Apply(&evs[i]); deltaString(da) != deltaString(db) {
					t.Fatalf("event %d: worker %s, from the checkpoint %s", i, deltaString(da), deltaString(db))
				}
				compared++
			}
			if (i+1)%every == 0 {
				ck, err := DecodeCheckpoint(a.AppendCheckpoint(nil, CheckpointHeader{Partition: 3, Seq: uint64(i + 1), DeltaSeq: 7}), view.DefaultConfig(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if ck.Partition != 3 || ck.Seq != uint64(i+1) || ck.DeltaSeq != 7 || ck.Routes != a.Routes() {
					t.Fatalf("header %+v, %d routes (want %d)", ck.CheckpointHeader, ck.Routes, a.Routes())
				}
				b = ck.Worker
			}
		}
		for p := range a.peers {
			ta, tb := a.Table(p), b.Table(p)
			if len(ta) != len(tb) {
				t.Fatalf("peer %s: %d routes, from the checkpoint %d", p, len(ta), len(tb))
			}
		}
		if compared == 0 {
			t.Fatal("nothing compared")
		}
		size := len(a.AppendCheckpoint(nil, CheckpointHeader{}))
		t.Logf("%d deltas equal; %d routes, checkpoint %d bytes (%.1f per route)", compared, a.Routes(), size, float64(size)/float64(max(a.Routes(), 1)))
	}
	t.Run("demo", func(t *testing.T) { run(t, evs, 2500) })
	t.Run("add-path", func(t *testing.T) { run(t, addPathEvents(), 7) })
}

func sampleCheckpoint(t testing.TB) []byte {
	w := NewWorker(view.DefaultConfig())
	evs := addPathEvents()
	for i := range evs[:7] {
		w.Apply(&evs[i])
	}
	return w.AppendCheckpoint(nil, CheckpointHeader{Partition: 5, Seq: 1234, DeltaSeq: 99})
}

// TestCheckpointCorrupt: a flipped byte, a cut, another format and
// another version are each refused with the byte offset.
func TestCheckpointCorrupt(t *testing.T) {
	good := sampleCheckpoint(t)
	if _, err := DecodeCheckpoint(good, view.DefaultConfig(), nil); err != nil {
		t.Fatal(err)
	}
	flip := slices.Clone(good)
	flip[20] ^= 0x40
	ver := slices.Clone(good)
	ver[4] = 9
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"flipped", flip, fmt.Sprintf("byte offset %d: checksum", len(good)-4)},
		{"cut", good[:len(good)/2], fmt.Sprintf("byte offset %d: checksum", len(good)/2-4)},
		{"foreign", []byte(`{"json": true}`), `byte offset 0: not a blackout view checkpoint of this version (starts with "{\"js")`},
		{"version", ver, "byte offset 4: not a blackout view checkpoint of this version: version 9, this build reads 1"},
		{"empty", nil, "byte offset 0: not a blackout"},
	} {
		_, err := DecodeCheckpoint(c.b, view.DefaultConfig(), nil)
		var ce *CheckpointError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a CheckpointError with %q", c.name, err, c.want)
		}
	}
	// Past the checksum: a body that lies about its counts.
	body := good[:len(good)-4]
	bad := slices.Clone(body)
	bad = append(bad[:9], 0xff, 0xff, 0xff, 0x0f) // the path count (after magic, version, 5, 1234, 99): more than the bytes left
	if _, err := decodeBody(bad, view.DefaultConfig(), nil); err == nil || !strings.Contains(err.Error(), "byte offset 9: paths: 33554431, more than the 0 bytes left hold") {
		t.Errorf("a body with a huge count: %v", err)
	}
}

// FuzzDecodeCheckpoint: no input crashes the decoder or makes it
// allocate beyond its input; what it accepts encodes to a checkpoint
// that decodes to the same state. The body decoder is fuzzed past the checksum as well.
func FuzzDecodeCheckpoint(f *testing.F) {
	good := sampleCheckpoint(f)
	f.Add(good)
	f.Add(good[:len(good)-4])
	f.Add([]byte("BOVC\x01\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// What is accepted encodes to a checkpoint that decodes to the
		// same state (the same bytes once more).
		stable := func(ck *Checkpoint) {
			once := ck.Worker.AppendCheckpoint(nil, ck.CheckpointHeader)
			again, err := DecodeCheckpoint(once, view.DefaultConfig(), nil)
			if err != nil {
				t.Fatalf("accepted %x; its encoding %x is refused: %v", b, once, err)
			}
			if twice := again.Worker.AppendCheckpoint(nil, again.CheckpointHeader); !bytes.Equal(once, twice) {
				t.Fatalf("accepted %x; encodes to %x, then to %x", b, once, twice)
			}
		}
		if ck, err := DecodeCheckpoint(b, view.DefaultConfig(), nil); err == nil {
			stable(ck)
		} else if !errors.As(err, new(*CheckpointError)) {
			t.Fatalf("error %v is not a CheckpointError", err)
		}
		if len(b) >= 5 && string(b[:4]) == checkpointMagic {
			if ck, err := decodeBody(b, view.DefaultConfig(), nil); err == nil {
				stable(ck)
			} else if !errors.As(err, new(*CheckpointError)) {
				t.Fatalf("error %v is not a CheckpointError", err)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the fuzz seed corpus (with
// BLACKOUT_WRITE_SEEDS=1): testdata/fuzz/FuzzDecodeCheckpoint.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("BLACKOUT_WRITE_SEEDS") == "" {
		t.Skip("set BLACKOUT_WRITE_SEEDS=1 to write the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeCheckpoint")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	good := sampleCheckpoint(t)
	for name, b := range map[string][]byte{"valid": good, "body": good[:len(good)-4], "cut": good[:len(good)/2], "header": []byte("BOVC\x01\x05\x80\x01\x00\x00\x00")} {
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
