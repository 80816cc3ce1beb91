package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

func runScenarioCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, append([]string{"scenario"}, args...))
	return code, out.String(), errb.String()
}

func TestScenarioCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runScenarioCmd(t, "--case", "peer_flush", "--seed", "4", "--out", dir, "--single")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, name := range []string{"peer_flush-1", "peer_flush-2", "peer_flush-3"} {
		if !strings.Contains(out, name+":") {
			t.Errorf("no %s in the output:\n%s", name, out)
		}
		f, err := os.Open(filepath.Join(dir, name, scenario.TruthFile))
		if err != nil {
			t.Fatal(err)
		}
		truth, err := scenario.ReadTruth(f)
		f.Close()
		if err != nil || len(truth) != 1 || truth[0].Kind != event.PeerEvent {
			t.Errorf("%s: truth %v %v", name, truth, err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, name, "updates.*"))
		if len(files) != 1 {
			t.Errorf("%s: --single wrote %d updates files", name, len(files))
		}
	}
	// --case realistic: the realistic suite (not generated here: about
	// 600 MB; internal/scenario tests it).
	cases, err := scenarioCases("realistic", 2, true)
	if err != nil || !reflect.DeepEqual(cases, scenario.RealisticSuite(2)) {
		t.Errorf("--case realistic: %d cases, %v", len(cases), err)
	}
	if code, _, _ := runScenarioCmd(t, "--case", "nonsense", "--out", dir); code != 2 {
		t.Errorf("unknown case: exit %d, want 2", code)
	}
}
