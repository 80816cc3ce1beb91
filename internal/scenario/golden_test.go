package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// goldenFilesHash is the SHA-256 of every MRT file (name and bytes) of
// Suite(1) and of NorthKorea2014, as generated before the realistic
// background was added: the realistic options are opt-in and must leave
// these worlds byte-identical (a golden test of replay's output elsewhere
// depends on them). goldenTruthHash is the SHA-256 of their truth.json;
// it changed when the truth's conventions did (an instability dated by
// each entity's own down phases; an implied loss of at least 95 % is an
// outage), the routing data did not.
const (
	goldenFilesHash = "c2ecf202f352de54f35bc05ba8127081c8eb8526f96fa32e873e44da34866564"
	goldenTruthHash = "d5bb908218ddfab55e506493bb93188525883f5fa88a5b4b2f583291bb650fe0"
)

func suiteHashes(t *testing.T) (files, truth string) {
	hf, ht := sha256.New(), sha256.New()
	for _, cfg := range allConfigs() {
		g := generate(t, cfg)
		hf.Write([]byte(cfg.Name + "\n"))
		for _, f := range g.Files {
			hf.Write([]byte(f.Name + "\n"))
			hf.Write(f.Data)
		}
		var b bytes.Buffer
		if err := WriteTruth(&b, g.Truth); err != nil {
			t.Fatal(err)
		}
		ht.Write([]byte(cfg.Name + "\n"))
		ht.Write(b.Bytes())
	}
	return hex.EncodeToString(hf.Sum(nil)), hex.EncodeToString(ht.Sum(nil))
}

func TestSuiteUnchanged(t *testing.T) {
	files, truth := suiteHashes(t)
	if files != goldenFilesHash {
		t.Errorf("the MRT files of Suite(1) and NorthKorea2014 changed: hash %s, want %s", files, goldenFilesHash)
	}
	if truth != goldenTruthHash {
		t.Errorf("the truth of Suite(1) and NorthKorea2014 changed: hash %s, want %s", truth, goldenTruthHash)
	}
}
