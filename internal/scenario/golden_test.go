package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// goldenSuiteHash is the SHA-256 of every file (name and bytes, then the
// truth) of Suite(1) and of NorthKorea2014, as generated before the
// realistic background was added: the realistic options are opt-in and
// must leave these worlds byte-identical (a golden test of replay's output
// elsewhere depends on them).
const goldenSuiteHash = "4168615a749f93cbbd0eb326f613e137fb0020d3cb2155a8c60e61cdbdc325bc"

func suiteHash(t *testing.T) string {
	h := sha256.New()
	for _, cfg := range allConfigs() {
		g := generate(t, cfg)
		h.Write([]byte(cfg.Name + "\n"))
		for _, f := range g.Files {
			h.Write([]byte(f.Name + "\n"))
			h.Write(f.Data)
		}
		var b bytes.Buffer
		if err := WriteTruth(&b, g.Truth); err != nil {
			t.Fatal(err)
		}
		h.Write(b.Bytes())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestSuiteUnchanged(t *testing.T) {
	if got := suiteHash(t); got != goldenSuiteHash {
		t.Errorf("Suite(1) and NorthKorea2014 changed: hash %s, want %s", got, goldenSuiteHash)
	}
}
