package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/corpus"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// mrtCorpus returns the path of corpus file mrt/name ($BLACKOUT_CORPUS, by
// default ../shared/corpus seen from the repository root), or skips t.
func mrtCorpus(t *testing.T, name string) string {
	t.Helper()
	return corpus.Require(t, "mrt/"+name)
}

// decompressed returns the MRT bytes of a corpus file.
func decompressed(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, _, err := compress.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordOffsets returns the offsets of the records of an MRT stream.
func recordOffsets(b []byte) []int {
	var offs []int
	for off := 0; off+12 <= len(b); {
		offs = append(offs, off)
		off += 12 + int(binary.BigEndian.Uint32(b[off+8:]))
	}
	return offs
}

// runMRT runs the blackout command line args and returns its exit status,
// standard output and standard error.
func runMRT(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(context.Background(), &cmdEnv{stdin: stdin, stdout: &stdout, stderr: &stderr}, args)
	return code, stdout.String(), stderr.String()
}

func writeMRTTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMRTDumpMatchesBgpdump(t *testing.T) {
	bin, err := exec.LookPath("bgpdump")
	if err != nil {
		t.Skip("bgpdump not found: install Debian package bgpdump")
	}
	for _, name := range []string{"ris.rrc06.updates.1427846400.gz", "routeviews.updates.20240914.et.bz2", "bview.ipv6_unicast_add_path.gz", "mrtparse.bird6-mrtdump_rib"} {
		path := mrtCorpus(t, name)
		want, err := exec.Command(bin, "-m", path).Output()
		if err != nil {
			t.Fatalf("bgpdump -m %s: %v", path, err)
		}
		code, got, stderr := runMRT(t, nil, "mrt", "dump", "-m", path)
		if code != 0 {
			t.Errorf("%s: exit status %d\n%s", name, code, stderr)
		}
		if got != string(want) {
			t.Errorf("%s: mrt dump -m differs from bgpdump -m (%d and %d bytes)", name, len(got), len(want))
		}
		if !strings.Contains(stderr, path+": ") || !strings.Contains(stderr, " 0 errors, 0 bytes skipped") {
			t.Errorf("%s: no summary line on stderr: %q", name, stderr)
		}
	}
}

func TestMRTDumpStdinAndFlags(t *testing.T) {
	path := mrtCorpus(t, "ris.rrc06.updates.1427846400.gz")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, fromFile, _ := runMRT(t, nil, "mrt", "dump", "-m", path)
	// "-" reads standard input, compressed or not; flags may follow the files.
	code, fromStdin, stderr := runMRT(t, bytes.NewReader(raw), "mrt", "dump", "-", "-m")
	if code != 0 || fromStdin != fromFile {
		t.Errorf("stdin (gzip): exit %d, %d bytes, want %d\n%s", code, len(fromStdin), len(fromFile), stderr)
	}
	if !strings.HasPrefix(stderr, "stdin: ") {
		t.Errorf("summary should name stdin: %q", stderr)
	}
	code, fromPlain, _ := runMRT(t, bytes.NewReader(decompressed(t, path)), "mrt", "dump", "-m", "-")
	if code != 0 || fromPlain != fromFile {
		t.Errorf("stdin (plain): exit %d, output differs", code)
	}
	if code, _, _ := runMRT(t, nil, "mrt", "dump"); code != 2 {
		t.Errorf("no file: exit status %d, want 2", code)
	}
	if code, _, _ := runMRT(t, nil, "mrt", "dump", "-m", "--json", path); code != 2 {
		t.Errorf("-m --json: exit status %d, want 2", code)
	}
	code, _, stderr = runMRT(t, nil, "mrt", "dump", filepath.Join(t.TempDir(), "missing.gz"))
	if code != 1 || !strings.Contains(stderr, "missing.gz") {
		t.Errorf("missing file: exit status %d, stderr %q", code, stderr)
	}
}

func TestMRTDumpReadableAndJSON(t *testing.T) {
	path := mrtCorpus(t, "updates.et-header.2015.gz")
	// Small enough: cut the file after its first 2000 records.
	b := decompressed(t, path)
	offs := recordOffsets(b)
	small := writeMRTTemp(t, "et.mrt", b[:offs[2000]])
	_, mLines, _ := runMRT(t, nil, "mrt", "dump", "-m", small)
	code, text, stderr := runMRT(t, nil, "mrt", "dump", small)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tl := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	ml := strings.Split(strings.TrimSuffix(mLines, "\n"), "\n")
	if len(tl) != len(ml) {
		t.Fatalf("readable output has %d lines, -m %d", len(tl), len(ml))
	}
	for i, l := range tl {
		// Same event, same time: BGP4MP_ET|1445565678.509481|...
		f := strings.Split(ml[i], "|")
		if !strings.Contains(l, ".") || !strings.Contains(l, "Z ") {
			t.Fatalf("line %d: no microsecond RFC 3339 time: %q", i+1, l)
		}
		kind := map[string]string{"A": "announce", "W": "withdraw", "STATE": "state"}[f[2]]
		if fields := strings.Fields(l); fields[1] != kind || fields[2] != f[3] || fields[3] != "AS"+f[4] {
			t.Fatalf("line %d: %q does not match bgpdump line %q", i+1, l, ml[i])
		}
	}

	code, js, stderr := runMRT(t, nil, "mrt", "dump", "--json", "--collector", "pch", small)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	jl := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
	if len(jl) != len(ml) {
		t.Fatalf("JSON output has %d lines, -m %d", len(jl), len(ml))
	}
	for i, l := range jl {
		var ev struct {
			Time, Kind, Collector, Peer, Prefix, ASPath, NextHop, Origin string
			PeerAS                                                       uint32 `json:"peer_as"`
			OldState                                                     string `json:"old_state"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		f := strings.Split(ml[i], "|")
		if ev.Collector != "pch" || ev.Peer != f[3] || fmt.Sprint(ev.PeerAS) != f[4] || !strings.HasSuffix(ev.Time, "Z") {
			t.Fatalf("line %d: %s does not match bgpdump line %s", i+1, l, ml[i])
		}
		switch f[2] {
		case "A", "W":
			if ev.Prefix != f[5] {
				t.Fatalf("line %d: prefix %s, bgpdump %s", i+1, ev.Prefix, f[5])
			}
		case "STATE":
			if ev.Kind != "state" || ev.OldState == "" {
				t.Fatalf("line %d: %s", i+1, l)
			}
		}
	}
}

// TestMRTDumpBadInput checks truncated and corrupted copies of a corpus
// file: every route before the damage is printed, the error names the
// file and offset, the rest goes on, and the exit status is 1.
func TestMRTDumpBadInput(t *testing.T) {
	b := decompressed(t, mrtCorpus(t, "updates.20160811.1600.gz"))
	offs := recordOffsets(b)
	k := len(offs) / 2
	off := offs[k]
	_, before, _ := runMRT(t, nil, "mrt", "dump", "-m", writeMRTTemp(t, "clean.mrt", b[:off]))
	_, all, _ := runMRT(t, nil, "mrt", "dump", "-m", writeMRTTemp(t, "all.mrt", b))
	if before == "" || len(before) >= len(all) {
		t.Fatal("bad test set-up")
	}

	t.Run("truncated", func(t *testing.T) {
		// Cut in the middle of record k.
		end := off + 12 + int(binary.BigEndian.Uint32(b[off+8:]))/2
		path := writeMRTTemp(t, "truncated.mrt", b[:end])
		code, out, stderr := runMRT(t, nil, "mrt", "dump", "-m", path)
		if code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		if out != before {
			t.Errorf("output is not the %d bytes of the records before the cut (got %d bytes)", len(before), len(out))
		}
		want := fmt.Sprintf("%s: record at offset %d", path, off)
		if !strings.Contains(stderr, want) || !strings.Contains(stderr, "truncated") {
			t.Errorf("stderr does not name the file, the offset %d and the truncation:\n%s", off, stderr)
		}
		summary := fmt.Sprintf("%s: %d records, %d routes, 1 errors, 0 bytes skipped", path, k, strings.Count(before, "|A|")+strings.Count(before, "|W|"))
		if !strings.Contains(stderr, summary) {
			t.Errorf("stderr has no summary %q:\n%s", summary, stderr)
		}
	})

	t.Run("corrupt length", func(t *testing.T) {
		c := bytes.Clone(b)
		c[off+8] ^= 0xff // the record now claims a length beyond MaxRecordLen
		path := writeMRTTemp(t, "corrupt.mrt", c)
		code, out, stderr := runMRT(t, nil, "mrt", "dump", "-m", path)
		if code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		if !strings.HasPrefix(out, before) {
			t.Errorf("the routes before the corrupt record are not all printed")
		}
		// After resynchronising, the reader reads on: the last lines of the
		// file are there.
		tail := all[strings.LastIndex(strings.TrimSuffix(all, "\n"), "\n")+1:]
		if !strings.HasSuffix(out, tail) {
			t.Errorf("the routes after the corrupt record are missing; output ends %q", out[max(0, len(out)-200):])
		}
		if len(out) >= len(all) {
			t.Errorf("the corrupt record's routes should be lost")
		}
		want := fmt.Sprintf("%s: offset %d: corrupt record header", path, off)
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name the file and offset %d:\n%s", off, stderr)
		}
		if !strings.Contains(stderr, "1 errors") || strings.Contains(stderr, " 0 bytes skipped") {
			t.Errorf("summary should count one error and the bytes skipped:\n%s", stderr)
		}
	})

	t.Run("corrupt body", func(t *testing.T) {
		// A BGP message length that overruns its record: the record's routes
		// are lost, all others printed.
		c := bytes.Clone(b)
		var j int
		for j = k; j < len(offs); j++ {
			o := offs[j]
			if binary.BigEndian.Uint16(c[o+4:]) == 16 && binary.BigEndian.Uint16(c[o+6:]) == 4 && binary.BigEndian.Uint16(c[o+22:]) == 1 && c[o+12+38] == 2 {
				// BGP4MP MESSAGE_AS4 over IPv4: the BGP length is at 12+20+16.
				binary.BigEndian.PutUint16(c[o+12+36:], 0xffff)
				break
			}
		}
		path := writeMRTTemp(t, "body.mrt", c)
		code, out, stderr := runMRT(t, nil, "mrt", "dump", "-m", path)
		if code != 1 || !strings.Contains(stderr, fmt.Sprintf("record at offset %d", offs[j])) {
			t.Errorf("exit status %d; stderr should name offset %d:\n%s", code, offs[j], stderr)
		}
		if !strings.HasPrefix(out, before) || !strings.HasSuffix(out, all[len(all)-200:]) {
			t.Errorf("the routes around the corrupt record are not all printed")
		}
	})
}

func TestMRTStats(t *testing.T) {
	path := mrtCorpus(t, "updates.20160811.1600.gz")
	code, out, stderr := runMRT(t, nil, "mrt", "stats", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep mrt.StatsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// The numbers of bgpdump -m lines of this file: 39256 A, 1956 W, 22 STATE.
	if rep.Announcements != 39256 || rep.Withdrawals != 1956 || rep.StateChanges != 22 || rep.Errors != 0 {
		t.Errorf("announcements %d withdrawals %d states %d errors %d, want 39256 1956 22 0",
			rep.Announcements, rep.Withdrawals, rep.StateChanges, rep.Errors)
	}
	var recs, peerRoutes int64
	for _, r := range rep.Records {
		recs += r.Count
	}
	for _, p := range rep.PeerRoutes {
		peerRoutes += p.Announcements + p.Withdrawals
	}
	if recs != rep.Files[0].Records || peerRoutes != 39256+1956 || rep.Peers != len(rep.PeerRoutes) || rep.Peers == 0 {
		t.Errorf("records %d (files say %d), per-peer routes %d, peers %d/%d", recs, rep.Files[0].Records, peerRoutes, rep.Peers, len(rep.PeerRoutes))
	}
	if rep.PrefixesV4 == 0 || rep.PrefixesV6 == 0 || rep.First == nil || rep.First.Unix() != 1470931200 {
		t.Errorf("prefixes %d/%d, first %v", rep.PrefixesV4, rep.PrefixesV6, rep.First)
	}

	code, text, _ := runMRT(t, nil, "mrt", "stats", path)
	for _, want := range []string{"BGP4MP/MESSAGE_AS4", "announcements", "39256", "unique IPv6 prefixes", "Peers: ", "2016-08-11T16:00:00"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("readable stats lack %q (exit %d):\n%s", want, code, text)
		}
	}
}

// TestMRTUndecoded: records of a type or subtype blackout does not decode
// are named on stderr with the first offset, counted in `mrt stats`, and
// make both commands exit with status 1, the routes around them printed.
func TestMRTUndecoded(t *testing.T) {
	rec := func(typ, sub uint16, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, 1400000000)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, sub)
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
		return append(b, body...)
	}
	// A BGP4MP STATE_CHANGE, two OSPFv2 records, a TABLE_DUMP_V2
	// RIB_GENERIC, another STATE_CHANGE.
	state := rec(16, 0, []byte{0, 1, 0, 2, 0, 0, 0, 1, 192, 0, 2, 1, 192, 0, 2, 2, 0, 1, 0, 2})
	var b []byte
	b = append(b, state...)
	ospf := len(b)
	b = append(b, rec(11, 0, make([]byte, 30))...)
	b = append(b, rec(11, 0, make([]byte, 20))...)
	generic := len(b)
	b = append(b, rec(13, 6, make([]byte, 16))...)
	b = append(b, state...)
	path := writeMRTTemp(t, "undecoded.mrt", b)
	code, out, stderr := runMRT(t, nil, "mrt", "dump", "-m", path)
	if code != 1 {
		t.Errorf("mrt dump: exit status %d, want 1", code)
	}
	if n := strings.Count(out, "|STATE|"); n != 2 {
		t.Errorf("mrt dump printed %d STATE lines, want 2:\n%s", n, out)
	}
	for _, want := range []string{
		fmt.Sprintf("%s: 2 records of MRT type 11 (OSPFv2) subtype 0 (SUBTYPE_0) not decoded, the first at offset %d", path, ospf),
		fmt.Sprintf("%s: 1 record of MRT type 13 (TABLE_DUMP_V2) subtype 6 (RIB_GENERIC) not decoded, the first at offset %d", path, generic),
		"5 records, 0 routes, 0 errors, 0 bytes skipped, 3 records not decoded",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("mrt dump: stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, text, _ := runMRT(t, nil, "mrt", "stats", path)
	if code != 1 || !strings.Contains(text, "OSPFv2/SUBTYPE_0           2  (2 not decoded)") || !strings.Contains(text, "Records not decoded  3") {
		t.Errorf("mrt stats: exit status %d, want 1, and the records not decoded counted:\n%s", code, text)
	}
	code, js, _ := runMRT(t, nil, "mrt", "stats", "--json", path)
	var rep mrt.StatsReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil || code != 1 || rep.NotDecoded != 3 || rep.Files[0].NotDecoded != 3 {
		t.Errorf("mrt stats --json: exit status %d, not_decoded %d (file %v), err %v", code, rep.NotDecoded, rep.Files, err)
	}
	// replay says them in its summary, per type, and exits 1 too.
	code, text, stderr = runMRT(t, nil, "replay", path)
	if code != 1 || !strings.Contains(text, "2 records of MRT OSPFv2/SUBTYPE_0, 1 record of MRT TABLE_DUMP_V2/RIB_GENERIC not decoded") || !strings.Contains(stderr, "2 kind(s) of records not decoded") {
		t.Errorf("replay: exit status %d, want 1, and the records not decoded said:\n%s\n%s", code, text, stderr)
	}
}
