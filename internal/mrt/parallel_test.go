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
