package compress

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/blackout-bgp/blackout/internal/corpus"
)

// corpusDir is the shared test corpus: $BLACKOUT_CORPUS, else ../shared/corpus
// from the repository root.
func corpusDir() string { return corpus.Dir() }

// TestCorpusBzip2 decodes the real RouteViews archives of the corpus and
// checks the output is identical to compress/bzip2's.
func TestCorpusBzip2(t *testing.T) {
	for _, name := range []string{
		"routeviews.route-views.jinx.updates.1427846400.bz2",
		"routeviews.updates.20240914.et.bz2",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(corpusDir(), "mrt", name)
			comp, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				t.Skipf("%s absent (set BLACKOUT_CORPUS)", path)
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := stdBzip2(comp)
			if err != nil {
				t.Fatalf("compress/bzip2: %v", err)
			}
			r, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, compress/bzip2 %d", len(got), len(want))
			}
		})
	}
}
