package mrt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeBgpdumpAll runs WriteBgpdump over data and returns the output with
// each error inserted where it was reported, and the reader's stats.
func writeBgpdumpAll(t *testing.T, data []byte, workers int) (string, *Stats, int64) {
	t.Helper()
	rr := NewRouteReader(bytes.NewReader(data), "in", "")
	rr.IncludeMulticast = true
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	errs, err := WriteBgpdump(context.Background(), w, rr, workers, func(err error) {
		fmt.Fprintf(&out, "ERROR %v\n", err)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return out.String(), rr.Stats(), errs
}

// TestWriteBgpdumpParallel checks that the lines, the errors and their
// places, and the counters are the same on one goroutine and on several,
// with batches small enough that RIB records and PEER_INDEX_TABLEs fall in
// different batches: on the legacy files, the damaged ones of
// TestResyncAgainstBgpdump's kind, and the corpus when present.
func TestWriteBgpdumpParallel(t *testing.T) {
	defer func(n int) { batchSize = n }(batchSize)
	inputs := map[string][]byte{}
	for _, f := range legacyFiles {
		inputs[f.name] = f.data()
	}
	// A RIB with two PEER_INDEX_TABLEs (a dump repeated), a corrupt
	// header in the middle.
	hb := lgHostBits()
	twice := append(append([]byte(nil), hb...), hb...)
	inputs["repeated"] = twice
	bad := append(append(append([]byte(nil), hb...), bytes.Repeat([]byte{0xee}, 40)...), hb...)
	inputs["garbage-between"] = bad
	// The small corpus files, when the corpus is there.
	files, _ := filepath.Glob(filepath.Join(corpusDirOrEmpty(), "mrt", "*"))
	for _, f := range files {
		if fileSize(f) < 200<<10 {
			var buf bytes.Buffer
			buf.ReadFrom(openCorpus(t, f))
			inputs[filepath.Base(f)] = buf.Bytes()
		}
	}
	for name, data := range inputs {
		for _, size := range []int{1, 300, 4096} {
			batchSize = size
			want, wst, werrs := writeBgpdumpAll(t, data, 1)
			got, gst, gerrs := writeBgpdumpAll(t, data, 3)
			if got != want || gerrs != werrs {
				t.Errorf("%s, batches of %d bytes: output on 3 goroutines differs from one (%d vs %d errors):\n%s", name, size, gerrs, werrs, firstDiff(got, want))
				continue
			}
			if !reflect.DeepEqual(gst, wst) {
				t.Errorf("%s, batches of %d bytes: stats differ:\n%+v\n%+v", name, size, gst, wst)
			}
		}
		if want := string(dumpOut(data)); !strings.Contains(name, "garbage") {
			got, _, _ := writeBgpdumpAll(t, data, 2)
			if stripErrors(got) != want {
				t.Errorf("%s: WriteBgpdump's lines differ from AppendBgpdumpLine's", name)
			}
		}
	}
}

// corpusDirOrEmpty returns the corpus folder without skipping.
func corpusDirOrEmpty() string {
	if d := os.Getenv("BLACKOUT_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "corpus")
}

func dumpOut(data []byte) []byte {
	rr := NewRouteReader(bytes.NewReader(data), "in", "")
	rr.IncludeMulticast = true
	var out, line []byte
	for {
		ev, err := rr.Next()
		if err != nil {
			if _, ok := err.(*RecordError); ok {
				continue
			}
			return out
		}
		line = AppendBgpdumpLine(line[:0], rr, ev)
		out = append(out, line...)
	}
}

func stripErrors(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "ERROR ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(al), len(bl))
}

// TestAppendRIBTail checks the tails formatted straight from attribute
// bytes against those of the decoded attributes, on every RIB entry of the
// writer's samples, the legacy files and the corpus RIBs when present (the
// generated RIB: TestResyncAgainstBgpdump, through bgpdump).
func TestAppendRIBTail(t *testing.T) {
	inputs := map[string][]byte{"host-bits": lgHostBits(), "writer": fuzzWriterSample(t), "sample": dumpSample(t)}
	for _, name := range []string{"routeviews2.rib.20140523.0600.partial.gz", "routeviews6.rib.20151101.0600.partial.gz",
		"bview.ipv4_unicast_add_path.gz", "bview.ipv6_unicast_add_path.gz", "mrtparse.bird-mrtdump_rib", "mrtparse.bird6-mrtdump_rib"} {
		path := filepath.Join(corpusDirOrEmpty(), "mrt", name)
		if fileSize(path) > 0 {
			var b bytes.Buffer
			b.ReadFrom(openCorpus(t, path))
			inputs[name] = b.Bytes()
		}
	}
	var fast, slow []byte
	for name, data := range inputs {
		rr := NewRouteReader(bytes.NewReader(data), name, "")
		n, plain := 0, 0
		for {
			ev, err := rr.Next()
			if err != nil {
				if _, ok := err.(*RecordError); ok {
					continue
				}
				break
			}
			if rr.rec.Type != TypeTableDumpV2 || !ev.RIB {
				continue
			}
			n++
			var ok bool
			fast, ok = appendRIBTail(fast[:0], rr.entry.Attrs)
			if !ok {
				continue
			}
			plain++
			if rr.deferred != nil {
				t.Errorf("%s: %s: a block with an error formatted straight: %v", name, ev.Prefix, rr.deferred)
			}
			slow = appendRouteTail(slow[:0], rr, ev)
			if !bytes.Equal(fast, slow) {
				t.Fatalf("%s: %s from %s:\n  from the bytes: %s  decoded:        %s", name, ev.Prefix, ev.Peer.Addr, fast, slow)
			}
		}
		t.Logf("%s: %d of %d entries formatted straight from their bytes", name, plain, n)
	}
}

// TestAppendRIBTailDeclines checks that the blocks the decoder must read
// (malformed, repeated or unusual attributes) are left to it.
func TestAppendRIBTailDeclines(t *testing.T) {
	origin := lgAttr(0x40, 1, []byte{0})
	path := lgAttr(0x40, 2, append([]byte{2, 1}, lgU32(3333)...))
	for name, attrs := range map[string][]byte{
		"bad segment type":    lgCat(origin, lgAttr(0x40, 2, append([]byte{7, 1}, lgU32(3333)...))),
		"segment too long":    lgCat(origin, lgAttr(0x40, 2, append([]byte{2, 2}, lgU32(3333)...))),
		"origin twice":        lgCat(origin, path, origin),
		"origin of 2 bytes":   lgCat(lgAttr(0x40, 1, []byte{0, 0}), path),
		"next hop of 5":       lgCat(origin, path, lgAttr(0x40, 3, []byte{1, 2, 3, 4, 5})),
		"communities of 6":    lgCat(origin, path, lgAttr(0xc0, 8, make([]byte, 6))),
		"aggregator of 7":     lgCat(origin, path, lgAttr(0xc0, 7, make([]byte, 7))),
		"large of 11":         lgCat(origin, path, lgAttr(0xc0, 32, make([]byte, 11))),
		"mp next hop of 5":    lgCat(origin, path, lgAttr(0x80, 14, append([]byte{5}, make([]byte, 5)...))),
		"mp_unreach":          lgCat(origin, path, lgAttr(0x80, 15, lgCat(lgU16(1), []byte{1}))),
		"truncated header":    lgCat(origin, path, []byte{0x40, 5}),
		"length past the end": lgCat(origin, path, []byte{0x40, 5, 9, 0, 0}),
	} {
		if b, ok := appendRIBTail([]byte("x"), attrs); ok || string(b) != "x" {
			t.Errorf("%s: formatted straight (%q)", name, b)
		}
	}
}
