package pipeline

import (
	"errors"
	"strconv"
)

// Speed is a --speed flag value: a pace factor (data seconds per wall second) or "max".
type Speed float64

// String returns the factor, or "max" for no pacing.
func (s *Speed) String() string {
	if *s == 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

// Set parses a factor or "max".
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
