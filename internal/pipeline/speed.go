package pipeline

import (
	"errors"
	"strconv"
)

// Speed is a replay pace as a command-line flag (flag.Value): data
// seconds per wall second ("3600" is an hour a second), or "max" (0: as
// fast as possible). It is Options.Speed.
type Speed float64

// String implements flag.Value.
func (s *Speed) String() string {
	if *s == 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

// Set implements flag.Value.
func (s *Speed) Set(v string) error {
	if v == "max" {
		*s = 0
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return errors.New("want a positive number (3600 = an hour of data a second) or max")
	}
	*s = Speed(f)
	return nil
}
