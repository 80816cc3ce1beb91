package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// healthCode returns the health's HTTP status and body.
func (p *serveProc) healthCode(t *testing.T) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

// TestServeDiskFull (issue 13): with a 2 MB filesystem as --data, the
// demo's writes fail: health answers 503 "degraded" with the reason while
// they do; after the filesystem grows, the writes kept queued go in,
// health is ok again and the API has the four outages of the demo, ended.
// It mounts a tmpfs, so it needs root (it skips otherwise).
func TestServeDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a 2 MB tmpfs as the data directory")
	}
	mnt := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): needs root with CAP_SYS_ADMIN", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	p := startServeProc(t, "--demo", "--speed", "max", "--data", mnt)
	var degraded map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for degraded == nil {
		if time.Now().After(deadline) {
			t.Fatalf("health never degraded on a full disk:\n%s", p.log())
		}
		if code, h := p.healthCode(t); code == 503 {
			degraded = h
		} else if code != 200 {
			t.Fatalf("health %d %v", code, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	reason, _ := degraded["reason"].(string)
	if degraded["status"] != "degraded" || !strings.Contains(reason, "no space left") {
		t.Errorf("degraded health: %v", degraded)
	}
	if strings.Contains(reason, "(13)") || strings.Contains(reason, "SQL") {
		t.Errorf("the reason leaks SQL internals: %q", reason)
	}
	store, _ := degraded["store"].(map[string]any)
	if store["ok"] != false || store["since"] == nil || store["queued_rows"] == nil {
		t.Errorf("store health: %v", store)
	}
	// Still failing a moment later (the replay is held, nothing dropped).
	time.Sleep(500 * time.Millisecond)
	if code, h := p.healthCode(t); code != 503 {
		t.Errorf("health %d %v while the disk is still full", code, h)
	}

	t.Logf("degraded: %q (store %v)", reason, store)
	grown := time.Now()
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		code, h := p.healthCode(t)
		if code == 200 && h["status"] == "ok" && h["running"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health after the disk grew: %d %v\n%s", code, h, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("health ok %v after the filesystem grew", time.Since(grown).Round(time.Millisecond))
	resp, err := http.Get(p.base + "/api/v1/events?kind=outage")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Events []struct {
			EntityCode string  `json:"entity_code"`
			Start      string  `json:"start"`
			End        *string `json:"end"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 4 {
		t.Errorf("%d outages in the API, want the demo's 4: %+v", len(page.Events), page.Events)
	}
	for _, e := range page.Events {
		if e.End == nil {
			t.Errorf("outage of %s from %s still open", e.EntityCode, e.Start)
		}
	}
	if !strings.Contains(p.log(), "store write failed") {
		t.Errorf("no store write error in the log:\n%s", p.log())
	}
	p.stop(t)
}

// TestCorruptStoreRefused: serve refuses a damaged store with an error
// naming the file and the way out (exit 1, not a usage error); store
// check says damaged (exit 1); store rebuild --demo makes a sound one.
func TestCorruptStoreRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errb bytes.Buffer
	env := &cmdEnv{stdout: &out, stderr: &errb}
	if code := run(ctx, env, []string{"store", "rebuild", "--data", dir, "--demo"}); code != 0 || !strings.Contains(out.String(), "6 events") {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out.String(), errb.String())
	}
	path := filepath.Join(dir, "blackout.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		i := 100 + rng.IntN(len(b)-100)
		b[i] ^= 1 << rng.IntN(8)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code := run(ctx, env, []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"})
	if msg := errb.String(); code != 1 || !strings.Contains(msg, path) || !strings.Contains(msg, "damaged") || !strings.Contains(msg, "blackout store rebuild --data "+dir) {
		t.Errorf("serve on a damaged store: exit %d\n%s", code, msg)
	}
	out.Reset()
	if code := run(ctx, env, []string{"store", "check", "--data", dir}); code != 1 || !strings.Contains(out.String(), "damaged") {
		t.Errorf("store check: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run(ctx, env, []string{"store", "rebuild", "--data", dir, "--demo"}); code != 0 || !strings.Contains(out.String(), "moved the old store to "+path+".damaged-") {
		t.Errorf("rebuild of the damaged store: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(ctx, env, []string{"store", "check", "--data", dir}); code != 0 || !strings.Contains(out.String(), ": ok (6 events, 12 notices") {
		t.Errorf("store check after the rebuild: exit %d\n%s", code, out.String())
	}
}
