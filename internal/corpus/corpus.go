// Package corpus finds the shared corpus of real BGP captures (MRT files
// and RIS Live streams) that tests and benchmarks compare against. The
// corpus is data, not code: it is not in the repository, and tests that
// need it skip when it is absent.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus folder: $BLACKOUT_CORPUS when set, else
// ../shared/corpus seen from the module root (found by walking up from the
// working directory to go.mod). It returns "" when the folder does not exist.
func Dir() string {
	if d := os.Getenv("BLACKOUT_CORPUS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "corpus")
			if _, err := os.Stat(d); err != nil {
				return ""
			}
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns the path of rel ("mrt/bview.20020722.2337.gz") in the
// corpus, or "" when the file is not there.
func Path(rel string) string {
	d := Dir()
	if d == "" {
		return ""
	}
	p := filepath.Join(d, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Require returns the path of rel in the corpus, or skips tb saying what
// is missing.
func Require(tb testing.TB, rel string) string {
	tb.Helper()
	p := Path(rel)
	if p == "" {
		tb.Skipf("corpus file %s not found (set BLACKOUT_CORPUS to the folder holding mrt/ and rislive/, default ../shared/corpus)", rel)
	}
	return p
}
