package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRetention reads a retention (WriterOptions.Retention) as given on
// the command line: "90d", "12h", "0" (forever).
func ParseRetention(v string) (time.Duration, error) {
	if v == "0" || v == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("retention %q: want e.g. 90d", v)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: want e.g. 90d or 720h", v)
	}
	return d, nil
}
