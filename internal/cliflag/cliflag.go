// Package cliflag holds the validated flag values of the blackout command
// line: each refuses a bad value when the flag is parsed, with a message
// that says what is wanted, so that a wrong flag is a one-line usage error
// (exit status 2) instead of a value silently used.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Share is a float64 flag in (0, 1].
type Share struct{ P *float64 }

// ShareVar defines a share flag with a default on fs.
func ShareVar(fs *flag.FlagSet, p *float64, name string, def float64, usage string) {
	*p = def
	fs.Var(Share{p}, name, usage)
}

func (s Share) String() string {
	if s.P == nil {
		return ""
	}
	return strconv.FormatFloat(*s.P, 'g', -1, 64)
}

// Set parses a share: more than 0, at most 1.
func (s Share) Set(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 1) {
		return errors.New("want a share more than 0 and at most 1 (e.g. 0.5)")
	}
	*s.P = f
	return nil
}

// Duration is a time.Duration flag that is positive, or not negative
// when ZeroOK.
type Duration struct {
	P      *time.Duration
	ZeroOK bool
}

// DurationVar defines a positive duration flag (zeroOK: zero allowed too).
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, zeroOK bool, usage string) {
	*p = def
	fs.Var(Duration{p, zeroOK}, name, usage)
}

func (d Duration) String() string {
	if d.P == nil {
		return ""
	}
	return d.P.String()
}

// Set parses a Go duration (5m, 1h30m) and checks its sign.
func (d Duration) Set(v string) error {
	x, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return errors.New("want a duration like 5m or 1h30m")
	case x < 0 || (x == 0 && !d.ZeroOK):
		if d.ZeroOK {
			return errors.New("want a duration of 0 or more, like 0 or 1h")
		}
		return errors.New("want a positive duration like 5m or 1h30m")
	}
	*d.P = x
	return nil
}

// Positive is an int flag of at least 1.
type Positive struct{ P *int }

// PositiveVar defines an int flag of at least 1.
func PositiveVar(fs *flag.FlagSet, p *int, name string, def int, usage string) {
	*p = def
	fs.Var(Positive{p}, name, usage)
}

func (n Positive) String() string {
	if n.P == nil {
		return ""
	}
	return strconv.Itoa(*n.P)
}

// Set parses an integer of at least 1.
func (n Positive) Set(v string) error {
	x, err := strconv.Atoi(v)
	if err != nil || x < 1 {
		return errors.New("want a whole number of at least 1")
	}
	*n.P = x
	return nil
}

// Speed is the --speed flag of serve: a factor (data seconds per wall
// second) or "max" (0).
type Speed float64

func (s *Speed) String() string {
	if s == nil || *s == 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

// Set parses a positive factor or "max".
func (s *Speed) Set(v string) error {
	if v == "max" {
		*s = 0
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || f > 1e12 {
		return errors.New("want a positive number (3600 = an hour of data a second) or max")
	}
	*s = Speed(f)
	return nil
}

// Retention is a retention flag: "90d", "12h", "0" (forever).
type Retention time.Duration

func (r *Retention) String() string {
	if r == nil || *r == 0 {
		return "0"
	}
	d := time.Duration(*r)
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// Set parses a retention: N days ("90d"), a Go duration, or 0.
func (r *Retention) Set(v string) error {
	d, err := ParseRetention(v)
	if err == nil {
		*r = Retention(d)
	}
	return err
}

// ParseRetention reads "90d", "12h", "0" (forever).
func ParseRetention(v string) (time.Duration, error) {
	if v == "0" || v == "" {
		return 0, nil
	}
	bad := fmt.Errorf("want e.g. 90d or 720h (0: forever)")
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 || n > 100*366 {
			return 0, bad
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// Strings is a repeatable string flag.
type Strings []string

func (m *Strings) String() string { return strings.Join(*m, ",") }

// Set adds a value.
func (m *Strings) Set(v string) error { *m = append(*m, v); return nil }
