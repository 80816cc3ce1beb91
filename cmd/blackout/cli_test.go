package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestFlagValidation: a bad flag value is one line on stderr naming the
// flag, exit status 2, no usage dump, before anything is read.
func TestFlagValidation(t *testing.T) {
	for _, c := range []struct {
		args []string
		word string
	}{
		{[]string{"replay", "--visible-share", "7", "x.mrt"}, "-visible-share"},
		{[]string{"replay", "--visible-share", "-1", "x.mrt"}, "-visible-share"},
		{[]string{"replay", "--visible-share", "0", "x.mrt"}, "-visible-share"},
		{[]string{"replay", "--visible-share", "NaN", "x.mrt"}, "-visible-share"},
		{[]string{"demo", "--partial-share", "5"}, "-partial-share"},
		{[]string{"replay", "--bin", "0", "x.mrt"}, "-bin"},
		{[]string{"replay", "--bin", "-5m", "x.mrt"}, "-bin"},
		{[]string{"replay", "--warm-up", "-1h", "x.mrt"}, "-warm-up"},
		{[]string{"replay", "--country", "XX", "/nonexistent.mrt"}, "--country"},
		{[]string{"demo", "--country", "XX"}, "--country"},
		{[]string{"replay", "--asn", "AS-1", "x.mrt"}, "--asn"},
		{[]string{"serve", "--bin", "0"}, "-bin"},
		{[]string{"serve", "--max-connections", "0"}, "-max-connections"},
		{[]string{"serve", "--max-subscribers", "-3"}, "-max-subscribers"},
		{[]string{"serve", "--retention", "9q"}, "-retention"},
		{[]string{"serve", "--speed", "0"}, "-speed"},
		{[]string{"watch", "--ris-live", "--record-every", "0s"}, "-record-every"},
		{[]string{"watch", "--ris-live", "--ris-max-backoff", "-1s"}, "-ris-max-backoff"},
		{[]string{"watch", "--chart", "x.svg"}, "-chart"},
		{[]string{"archive", "list", "--from", "2014-12-22T00:00Z", "--until", "2014-12-22T01:00Z", "--collectors", "rrc99x"}, "rrc99x"},
		{[]string{"archive", "fetch", "--from", "2014-12-22T00:00Z", "--until", "2014-12-22T01:00Z", "--downloads", "0"}, "-downloads"},
		{[]string{"version", "--bogus"}, "-bogus"},
		{[]string{"version", "extra"}, "no arguments"},
	} {
		code, out, errs := runCmd(t, c.args...)
		if code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.word) || strings.Contains(errs, "Usage:") || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want exit 2 and one line naming %s", c.args, code, out, errs, c.word)
		}
	}
	// Good values still pass the flags (and fail later, on the input).
	code, _, errs := runCmd(t, "replay", "--visible-share", "1", "--partial-share", "0.3", "--bin", "1m", "--warm-up", "0s", "--country", "kp", "/nonexistent.mrt")
	if code != 1 || !strings.Contains(errs, "/nonexistent.mrt") || strings.Contains(errs, "usage") {
		t.Errorf("good flags, missing file: exit %d: %s", code, errs)
	}
}

// TestCommandsAndHelp: blackout alone, help, group commands, help texts.
func TestCommandsAndHelp(t *testing.T) {
	code, out, errs := runCmd(t)
	if code != 2 || out != "" || !strings.Contains(errs, "Commands:") || !strings.Contains(errs, "mrt dump") {
		t.Errorf("blackout alone: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("blackout help: exit %d: %q", code, out)
	}
	groups := map[string][]string{"mrt": {"mrt dump", "mrt stats"}, "geo": {"geo lookup", "geo update"}, "archive": {"archive fetch", "archive list"}}
	for g, subs := range groups {
		for _, c := range []struct {
			args []string
			code int
		}{{[]string{g}, 2}, {[]string{g, "-h"}, 0}, {[]string{"help", g}, 0}, {[]string{g, "bogus"}, 2}} {
			code, out, errs := runCmd(t, c.args...)
			text := errs
			if c.code == 0 {
				text = out
			}
			if code != c.code || strings.Contains(text, "unknown command \""+g+"\"") {
				t.Errorf("%q: exit %d, want %d: %s", c.args, code, c.code, text)
			}
			for _, s := range subs {
				if !strings.Contains(text, s) {
					t.Errorf("%q does not list %q: %s", c.args, s, text)
				}
			}
			for other := range groups {
				if other != g && strings.Contains(text, other+" ") {
					t.Errorf("%q lists %s's commands: %s", c.args, other, text)
				}
			}
		}
	}
	if _, _, errs := runCmd(t, "mrt", "bogus"); !strings.Contains(errs, `unknown command "mrt bogus"`) {
		t.Errorf("mrt bogus: %s", errs)
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "blackout ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	// Help texts: -m is a plain flag; watch has no --chart, replay has.
	_, _, dump := runCmd(t, "mrt", "dump", "-h")
	if !strings.Contains(dump, "  -m\t") || strings.Contains(dump, "-m bgpdump") {
		t.Errorf("mrt dump -h:\n%s", dump)
	}
	_, _, watch := runCmd(t, "watch", "-h")
	_, _, replay := runCmd(t, "replay", "-h")
	if strings.Contains(watch, "-chart") || !strings.Contains(replay, "-chart FILE.svg") {
		t.Errorf("watch -h lists --chart or replay -h does not")
	}
	for _, f := range []string{"-bin duration", "-visible-share share", "-max-connections N", "-max-subscribers N"} {
		_, _, serve := runCmd(t, "serve", "-h")
		if !strings.Contains(replay+serve, f) {
			t.Errorf("help lacks %q", f)
		}
	}
}

// TestEnvironmentFailures: a port in use and an unreadable file are exit
// status 1 with no usage text.
func TestEnvironmentFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := runCmd(t, "serve", "--data", t.TempDir(), "--listen", ln.Addr().String())
	if code != 1 || strings.Contains(errs, "usage") || !strings.Contains(errs, "--listen") || !strings.Contains(errs, "in use") {
		t.Errorf("port in use: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd(t, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:99999"); code != 2 || !strings.Contains(errs, "invalid port") {
		t.Errorf("malformed --listen: exit %d: %s", code, errs)
	}
	code, _, errs = runCmd(t, "serve", "--data", t.TempDir(), "--config", "/nonexistent/blackout.json")
	if code != 1 || strings.Contains(errs, "usage") || !strings.Contains(errs, "/nonexistent/blackout.json") {
		t.Errorf("unreadable config: exit %d: %s", code, errs)
	}
	code, _, errs = runCmd(t, "mrt", "dump", "/nonexistent.mrt")
	if code != 1 || strings.Contains(errs, "sage") {
		t.Errorf("unreadable file: exit %d: %s", code, errs)
	}
}

// TestArchiveFailsFast: with the archive's host refusing connections,
// `archive fetch` fails every file at once (one attempt, no backoff) with
// exit status 1.
func TestArchiveFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	start := time.Now()
	code, out, errs := runArchiveCmd(t, "archive", "fetch", "--from", "2014-12-22T00:00Z", "--until", "2014-12-22T04:00Z",
		"--collectors", "rrc00,route-views2", "--ris-base", base, "--routeviews-base", base, "--cache", t.TempDir())
	if code != 1 || !strings.Contains(errs, "refused") || !strings.Contains(errs, "not tried again") || strings.Contains(errs, "attempts") {
		t.Errorf("exit %d:\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "0 downloaded") {
		t.Errorf("summary %q", out)
	}
	// Not a timing assertion: a retry waits 1 s, 2 s, ... and 5 retries of
	// one file alone take 31 s; this says which happened.
	t.Logf("took %s", time.Since(start))
}
