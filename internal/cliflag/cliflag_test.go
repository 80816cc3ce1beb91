package cliflag

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-share", "0.5"}, true}, {[]string{"-share", "1"}, true}, {[]string{"-share", "1e-9"}, true},
		{[]string{"-share", "0"}, false}, {[]string{"-share", "-0.1"}, false}, {[]string{"-share", "7"}, false},
		{[]string{"-share", "NaN"}, false}, {[]string{"-share", "Inf"}, false}, {[]string{"-share", "x"}, false},
		{[]string{"-d", "5m"}, true}, {[]string{"-d", "0"}, false}, {[]string{"-d", "-5m"}, false}, {[]string{"-d", "5"}, false},
		{[]string{"-z", "0"}, true}, {[]string{"-z", "1h"}, true}, {[]string{"-z", "-1s"}, false},
		{[]string{"-n", "1"}, true}, {[]string{"-n", "0"}, false}, {[]string{"-n", "-2"}, false}, {[]string{"-n", "1.5"}, false},
		{[]string{"-speed", "max"}, true}, {[]string{"-speed", "86400"}, true}, {[]string{"-speed", "0"}, false}, {[]string{"-speed", "NaN"}, false},
		{[]string{"-ret", "90d"}, true}, {[]string{"-ret", "0"}, true}, {[]string{"-ret", "720h"}, true},
		{[]string{"-ret", "-1d"}, false}, {[]string{"-ret", "9q"}, false}, {[]string{"-ret", "99999999d"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var sh float64
		var d, z time.Duration
		var n int
		sp := Speed(3600)
		ret := Retention(90 * 24 * time.Hour)
		ShareVar(fs, &sh, "share", 0.5, "")
		DurationVar(fs, &d, "d", time.Minute, false, "")
		DurationVar(fs, &z, "z", time.Minute, true, "")
		PositiveVar(fs, &n, "n", 4, "")
		fs.Var(&sp, "speed", "")
		fs.Var(&ret, "ret", "")
		err := fs.Parse(c.args)
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok=%v", c.args, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "want") {
			t.Errorf("%q: error %q does not say what is wanted", c.args, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var sh float64
	var d time.Duration
	sp := Speed(3600)
	ret := Retention(90 * 24 * time.Hour)
	ShareVar(fs, &sh, "share", 0.5, "")
	DurationVar(fs, &d, "d", 5*time.Minute, false, "")
	fs.Var(&sp, "speed", "")
	fs.Var(&ret, "ret", "")
	if sh != 0.5 || d != 5*time.Minute {
		t.Errorf("defaults %v %v", sh, d)
	}
	for name, want := range map[string]string{"share": "0.5", "d": "5m0s", "speed": "3600", "ret": "90d"} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("%s: default shown %q, want %q", name, got, want)
		}
	}
}
