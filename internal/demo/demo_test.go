package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"testing"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

// TestEmbeddedMatchesGenerator proves the embedded data is what the
// generator makes from the public facts (compared decompressed, so that a
// change of compressor does not matter).
func TestEmbeddedMatchesGenerator(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	cfg := scenario.NorthKorea2014()
	cfg.Gzip = false
	g, err := scenario.GenerateInMemory(context.Background(), cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	emb := Files()
	if len(emb) != len(g.Files) {
		t.Fatalf("%d embedded files, the generator makes %d", len(emb), len(g.Files))
	}
	for i, f := range g.Files {
		zr, err := gzip.NewReader(bytes.NewReader(emb[i].Data))
		if err != nil {
			t.Fatalf("%s: %v", emb[i].Name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", emb[i].Name, err)
		}
		if emb[i].Name != f.Name+".gz" || !bytes.Equal(got, f.Data) {
			t.Errorf("embedded %s (%d bytes) differs from generated %s (%d bytes): run go generate ./internal/demo",
				emb[i].Name, len(got), f.Name, len(f.Data))
		}
	}
	truth, err := scenario.ReadTruth(Truth())
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != len(g.Truth) {
		t.Errorf("embedded truth has %d events, generated %d", len(truth), len(g.Truth))
	}
}
