package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/blackout-bgp/blackout/internal/corpus"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
)

// replayFiles replays MRT files with the default configuration.
func replayFiles(t *testing.T, db *geo.DB, files []string) *pipeline.Result {
	t.Helper()
	fs, err := source.OpenFiles(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	var ss []source.Source
	for _, f := range fs {
		defer f.Close()
		ss = append(ss, f)
	}
	res, err := pipeline.Run(context.Background(), source.Merge(ss), pipeline.Options{Config: pipeline.DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCorpusNoDetection: the real captures hold no outage, partial outage,
// instability or upstream change: none is reported for any file alone, nor
// for all of them together (2002 to 2024, several collectors: the gaps
// between them are not judged across). Peer events (session resets) are
// facts and may be reported.
func TestCorpusNoDetection(t *testing.T) {
	corpus.Require(t, "mrt/updates.20160811.1600.gz")
	files, err := filepath.Glob(filepath.Join(corpus.Dir(), "mrt", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus files: %v", err)
	}
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, res *pipeline.Result) {
		for _, ev := range res.Events {
			if ev.Kind != event.PeerEvent {
				t.Errorf("%s: %s of %s %s from %v: %s", name, ev.Kind, ev.EntityType, ev.EntityCode, ev.Start, ev.Explanation)
			}
		}
	}
	for _, f := range files {
		check(filepath.Base(f), replayFiles(t, db, []string{f}))
	}
	check("all files", replayFiles(t, db, files))
}
