package mrt_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
)

// Resynchronisation after corrupt headers, checked against bgpdump: files
// with a header or a length damaged in different ways, where blackout must
// print exactly what bgpdump prints for the same file without the damaged
// records (so, never fewer routes than bgpdump on the damaged file, which
// trusts every length it reads), and name each skipped stretch.

// splitRecords splits an MRT stream into its records (header included).
func splitRecords(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for len(b) > 0 {
		n := mrt.HeaderLen + int(binary.BigEndian.Uint32(b[8:]))
		recs = append(recs, b[:n])
		b = b[n:]
	}
	return recs
}

// genStream is a RIB dump of 150 prefixes seen by 8 peers followed by 300
// BGP4MP_ET updates, written at start.
func genStream(t *testing.T, seed uint64, start time.Time) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w := mrt.NewWriter(&buf)
	if _, err := mrtgen.WriteRIB(w, mrtgen.Options{Seed: seed, Prefixes: 150, Peers: 8, Time: start}); err != nil {
		t.Fatal(err)
	}
	if _, err := mrtgen.WriteUpdates(w, mrtgen.Options{Seed: seed, Peers: 8, Time: start.Add(time.Minute)}, 300); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return splitRecords(t, buf.Bytes())
}

func setHeader(rec []byte, typ, sub int, length int64) []byte {
	r := append([]byte(nil), rec...)
	if typ >= 0 {
		binary.BigEndian.PutUint16(r[4:], uint16(typ))
	}
	if sub >= 0 {
		binary.BigEndian.PutUint16(r[6:], uint16(sub))
	}
	if length >= 0 {
		binary.BigEndian.PutUint32(r[8:], uint32(length))
	}
	return r
}

// corruption is one damaged file: the records as written (some damaged,
// some inserted), the indexes of the original records that cannot be
// read back, and the skipped stretches the errors must name.
type corruption struct {
	name    string
	recs    [][]byte
	lost    map[int]bool // indexes into the clean records
	clean   [][]byte     // the clean records the file was made from
	skipped []stretch
	// partial: a damaged record may still yield some of its routes, so
	// the lines of the file without it need only all be there, in order.
	partial bool
	// undecoded: records read but not decoded (a type no decoder knows,
	// whose records frame): counted, not errors.
	undecoded int64
}

// stretch is a skipped stretch: its offset and length in the damaged file.
type stretch struct{ off, n int64 }

func corruptions(t *testing.T) []corruption {
	base := genStream(t, 1, time.Date(2016, 8, 11, 16, 0, 0, 0, time.UTC))
	off := func(recs [][]byte, i int) int64 {
		var n int64
		for _, r := range recs[:i] {
			n += int64(len(r))
		}
		return n
	}
	replace := func(i int, with ...[]byte) [][]byte {
		out := append([][]byte(nil), base[:i]...)
		out = append(out, with...)
		return append(out, base[i+1:]...)
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0xa5 ^ i*37)
		}
		return b
	}
	var cs []corruption
	// Damage a RIB record, an update, and the second record of the file.
	for _, k := range []int{1, 40, len(base) - 100} {
		rec := base[k]
		n := int64(len(rec))
		sfx := "@" + strconv.Itoa(k)
		at := off(base, k)
		cs = append(cs,
			corruption{name: "length-huge" + sfx, recs: replace(k, setHeader(rec, -1, -1, 0xffffff00)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "length-17MiB" + sfx, recs: replace(k, setHeader(rec, -1, -1, 17<<20)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "length-beyond-end" + sfx, recs: replace(k, setHeader(rec, -1, -1, 1<<20-100)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "length-plus-1000" + sfx, recs: replace(k, setHeader(rec, -1, -1, n-12+1000))},
			corruption{name: "length-minus-10" + sfx, recs: replace(k, setHeader(rec, -1, -1, n-12-10)), lost: map[int]bool{k: true}, skipped: []stretch{{at + n - 10, 10}}, partial: true},
			corruption{name: "type-garbage" + sfx, recs: replace(k, setHeader(rec, 0x7a7a, -1, -1)), lost: map[int]bool{k: true}, undecoded: 1},
			corruption{name: "header-garbage" + sfx, recs: replace(k, append(garbage(12), rec[12:]...)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "header-zero" + sfx, recs: replace(k, append(make([]byte, 12), rec[12:]...)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "et-too-short" + sfx, recs: replace(k, setHeader(rec, 17, -1, 2)), lost: map[int]bool{k: true}, skipped: []stretch{{at, n}}},
			corruption{name: "truncated-mid" + sfx, recs: replace(k, rec[:12+(len(rec)-12)/2]), lost: map[int]bool{k: true}, partial: true},
			corruption{name: "garbage-inserted" + sfx, recs: replace(k, garbage(100), rec), skipped: []stretch{{at, 100}}},
		)
	}
	last := len(base) - 1
	cs = append(cs, corruption{name: "truncated-end", recs: replace(last, base[last][:20]), lost: map[int]bool{last: true}})
	// Two files of different years, joined by garbage.
	old := genStream(t, 2, time.Date(2002, 7, 22, 22, 38, 0, 0, time.UTC))
	joined := append(append(append([][]byte(nil), base...), garbage(50)), old...)
	cs = append(cs, corruption{name: "joined-across-years", recs: joined, clean: append(append([][]byte(nil), base...), old...),
		skipped: []stretch{{off(base, len(base)), 50}}})
	for i := range cs {
		if cs[i].clean == nil {
			cs[i].clean = base
		}
	}
	return cs
}

// bgpdumpLines returns what bgpdump -m prints for path; where it dies (an
// assertion on some damaged files), what it printed before.
func bgpdumpLines(t *testing.T, bin, path string) []byte {
	t.Helper()
	out, err := exec.Command(bin, "-m", path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() {
		t.Logf("bgpdump -m %s: %v (after %d lines)", filepath.Base(path), err, bytes.Count(out, []byte("\n")))
		return out
	}
	if err != nil {
		t.Fatalf("bgpdump -m %s: %v", path, err)
	}
	return out
}

// subsequence reports whether the lines of sub appear in b, in order.
func subsequence(sub, b []byte) bool {
	lines := strings.Split(string(b), "\n")
	j := 0
	for _, l := range strings.Split(strings.TrimSuffix(string(sub), "\n"), "\n") {
		for j < len(lines) && lines[j] != l {
			j++
		}
		if j == len(lines) {
			return false
		}
		j++
	}
	return true
}

// dumpLines returns blackout's `-m` lines for data, its errors and the
// number of records it did not decode.
func dumpLines(data []byte, name string) ([]byte, []error, int64) {
	rr := mrt.NewRouteReader(bytes.NewReader(data), name, "")
	rr.IncludeMulticast = true
	d := mrt.NewBgpdumpDumper(rr)
	var out []byte
	var errs []error
	for {
		var err error
		out, err = d.Next(out)
		if err == io.EOF {
			var nd int64
			for _, u := range rr.Undecoded() {
				nd += u.Count
			}
			return out, errs, nd
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
}

// writeBgpdumpParallel returns mrt.WriteBgpdump's lines for data on two
// goroutines, and its count of errors.
func writeBgpdumpParallel(t *testing.T, data []byte, name string) ([]byte, int64) {
	rr := mrt.NewRouteReader(bytes.NewReader(data), name, "")
	rr.IncludeMulticast = true
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	n, err := mrt.WriteBgpdump(context.Background(), w, rr, 2, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return out.Bytes(), n
}

func routeLines(b []byte) int {
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, "|"); len(f) > 2 && (f[2] == "A" || f[2] == "W" || f[2] == "B") {
			n++
		}
	}
	return n
}

var skippedRE = regexp.MustCompile(`offset (\d+)\b.*skipped (\d+) bytes`)

func TestResyncAgainstBgpdump(t *testing.T) {
	bin, err := exec.LookPath("bgpdump")
	if err != nil {
		t.Skip("bgpdump not found: install Debian package bgpdump")
	}
	dir := t.TempDir()
	for _, c := range corruptions(t) {
		t.Run(c.name, func(t *testing.T) {
			data := bytes.Join(c.recs, nil)
			var kept [][]byte
			for i, r := range c.clean {
				if !c.lost[i] {
					kept = append(kept, r)
				}
			}
			damaged := filepath.Join(dir, c.name+".mrt")
			ideal := filepath.Join(dir, c.name+".ideal.mrt")
			if err := os.WriteFile(damaged, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ideal, bytes.Join(kept, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			got, errs, undecoded := dumpLines(data, c.name)
			if undecoded != c.undecoded {
				t.Errorf("%d records not decoded, want %d", undecoded, c.undecoded)
			}
			if par, perrs := writeBgpdumpParallel(t, data, c.name); !bytes.Equal(par, got) || perrs != int64(len(errs)) {
				t.Errorf("WriteBgpdump on 2 goroutines: %d lines, %d errors; BgpdumpDumper: %d lines, %d errors",
					bytes.Count(par, []byte("\n")), perrs, bytes.Count(got, []byte("\n")), len(errs))
			}
			theirs := bgpdumpLines(t, bin, damaged)
			if g, b := routeLines(got), routeLines(theirs); g < b {
				t.Errorf("%d routes, bgpdump %d on the same file", g, b)
			}
			want := bgpdumpLines(t, bin, ideal)
			if c.partial {
				if !subsequence(want, got) {
					t.Errorf("the lines bgpdump prints for the file without the damaged records are not all in ours")
				}
			} else if !bytes.Equal(got, want) {
				t.Errorf("%d lines, want bgpdump's %d lines of the file without the damaged records", bytes.Count(got, []byte("\n")), bytes.Count(want, []byte("\n")))
			}
			if len(errs) == 0 && c.undecoded == 0 {
				t.Fatal("no error reported")
			}
			var seen []stretch
			for _, err := range errs {
				var re *mrt.RecordError
				if !errors.As(err, &re) {
					t.Errorf("%v is not a *mrt.RecordError", err)
				}
				if m := skippedRE.FindStringSubmatch(err.Error()); m != nil {
					o, _ := strconv.ParseInt(m[1], 10, 64)
					n, _ := strconv.ParseInt(m[2], 10, 64)
					seen = append(seen, stretch{o, n})
				}
			}
			if len(c.skipped) > 0 || len(seen) > 0 {
				if len(seen) != len(c.skipped) || (len(seen) > 0 && seen[0] != c.skipped[0]) {
					t.Errorf("skipped stretches %v, want %v (errors %v)", seen, c.skipped, errs)
				}
			}
		})
	}
}
