package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from this run")

// normalizeEvents rewrites `replay --json` output so that runs can be
// compared byte for byte with their event numbers aside: "id" is dropped
// and "preceded_by_instability" becomes the position (in the output) of
// the event it names.
func normalizeEvents(t *testing.T, out []byte) []byte {
	t.Helper()
	var evs []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decode: %v", err)
		}
		evs = append(evs, m)
	}
	pos := map[string]int{}
	for i, m := range evs {
		if id, ok := m["id"].(json.Number); ok {
			pos[id.String()] = i
		}
	}
	var b bytes.Buffer
	for _, m := range evs {
		delete(m, "id")
		if p, ok := m["preceded_by_instability"].(json.Number); ok {
			if i, ok := pos[p.String()]; ok {
				m["preceded_by_instability"] = fmt.Sprintf("event #%d of this output", i)
			} else {
				m["preceded_by_instability"] = "an event not in this output"
			}
		}
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// checkGolden compares got with testdata/golden/name, or rewrites it with
// -update-golden.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-golden to record it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s: line %d differs\n got: %s\nwant: %s", path, i+1, g, w)
				break
			}
		}
		t.Errorf("%s: %d lines, want %d", path, len(gl), len(wl))
	}
}

// TestGoldenDemo records `demo --json` (the replay of the embedded North
// Korea data): a change of the engine that is meant to keep behaviour must
// keep this output byte for byte, event numbers aside.
func TestGoldenDemo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, []string{"demo", "--json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	checkGolden(t, "demo.jsonl", normalizeEvents(t, out.Bytes()))
}

// TestGoldenSuite records `replay --json` of every case of the generated
// scenario suite (seed 1), written to files as a user would have them.
func TestGoldenSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, c := range scenario.Suite(1) {
		g, err := scenario.GenerateInMemory(context.Background(), c.Config, db)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		dir := filepath.Join(t.TempDir(), "rrc00")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"replay", "--json"}
		for _, f := range g.Files {
			p := filepath.Join(dir, f.Name)
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, p)
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, args); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.Name, code, errb.String())
		}
		fmt.Fprintf(&all, "# %s\n", c.Name)
		all.Write(normalizeEvents(t, out.Bytes()))
	}
	checkGolden(t, "suite-seed1.jsonl", all.Bytes())
}
