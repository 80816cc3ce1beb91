// Package demo holds the data of `blackout demo`: the North Korea outage of
// December 2014 as MRT files (a RIB dump and daily update files), generated
// deterministically by the scenario generator from the public facts and
// embedded in the binary, so the demo needs no download.
//
// Regenerate with `go generate ./internal/demo` after changing the
// generator; TestEmbeddedMatchesGenerator fails until then.
package demo

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/source"
)

//go:generate go run ../../cmd/blackout scenario --case northkorea --gzip -q --out data

//go:embed data/*.gz data/truth.json
var files embed.FS

// File is one embedded MRT file.
type File struct {
	Name string
	Data []byte
}

// Files returns the embedded MRT files (gzip-compressed), RIB first.
func Files() []File {
	entries, err := fs.Glob(files, "data/*.gz")
	if err != nil {
		panic(err) // the pattern is constant
	}
	sort.Slice(entries, func(i, j int) bool {
		// bview (the RIB) sorts before updates.
		return entries[i] < entries[j]
	})
	out := make([]File, 0, len(entries))
	for _, e := range entries {
		b, err := files.ReadFile(e)
		if err != nil {
			panic(err) // embedded
		}
		out = append(out, File{Name: e[len("data/"):], Data: b})
	}
	return out
}

// Truth returns the ground truth of the scenario (truth.json).
func Truth() io.Reader {
	b, err := files.ReadFile("data/truth.json")
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(b)
}

// Size returns the total size of the embedded MRT files in bytes.
func Size() int {
	n := 0
	for _, f := range Files() {
		n += len(f.Data)
	}
	return n
}

// Sources returns the embedded files as sources of collector rrc00's
// peers, named demo/FILE, RIB first: merge them with source.Merge.
func Sources() []source.Source {
	var out []source.Source
	for _, f := range Files() {
		rc, _, err := compress.NewReader(bytes.NewReader(f.Data))
		if err != nil {
			panic(fmt.Sprintf("embedded %s: %v", f.Name, err)) // embedded and tested
		}
		out = append(out, source.NewFile(rc, "demo/"+f.Name, "rrc00"))
	}
	return out
}
