package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The supported range of times in the API: a time parameter outside it is
// either clamped to it (an open-ended bound: from before MinTime, until
// after MaxTime) or refused with a 400 naming the parameter (a bound that
// could select nothing: from after MaxTime, until before MinTime). Every
// time inside it fits in int64 nanoseconds, the store's unit.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxStep is the longest `step` of a signal query (a 400 above it).
const MaxStep = 10 * 366 * 24 * time.Hour

// maxValueLen bounds the length of a parameter value in error messages.
const maxValueLen = 64

// maxParamLen bounds the length of any query parameter value: longer ones
// are refused (no parameter of the API needs more).
const maxParamLen = 1024

// quote returns v quoted for an error message, cut to maxValueLen bytes
// (on a rune boundary) with the full length said when cut.
func quote(v string) string {
	if len(v) <= maxValueLen {
		return strconv.Quote(v)
	}
	cut := maxValueLen
	for cut > 0 && !isRuneStart(v[cut]) {
		cut--
	}
	return strconv.Quote(v[:cut]) + fmt.Sprintf("... (%d bytes)", len(v))
}

func isRuneStart(b byte) bool { return b&0xc0 != 0x80 }

// checkQuery parses the raw query strictly: a parameter whose name or
// value is not valid URL encoding, or whose value is too long, is a 400
// naming it (url.Values silently drops a malformed one).
func checkQuery(raw string) error {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return fmt.Errorf("query: parameter name %s is not valid URL encoding", quote(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return fmt.Errorf("%s: value %s is not valid URL encoding", quote(name), quote(v))
		}
		if len(val) > maxParamLen {
			return fmt.Errorf("%s: value too long (%d bytes, at most %d): %s", quote(name), len(val), maxParamLen, quote(val))
		}
	}
	return nil
}

// requestID returns a new random id for a request's log lines.
func requestID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func intParam(w http.ResponseWriter, q url.Values, name string, def, lo, hi int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		writeError(w, 400, fmt.Sprintf("%s: want an integer from %d to %d, got %s", name, lo, hi, quote(v)))
		return 0, false
	}
	return n, true
}

// bound says which end of a range a time parameter is.
type bound int

const (
	lower bound = iota // from: may be clamped up to MinTime
	upper              // until: may be clamped down to MaxTime
)

// timeParam reads an RFC 3339 time (zero when absent), clamped to the
// supported range where it is open-ended (see MinTime).
func timeParam(w http.ResponseWriter, q url.Values, name string, b bound) (time.Time, bool) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		writeError(w, 400, fmt.Sprintf("%s: want an RFC 3339 time like 2014-12-22T16:15:00Z, got %s", name, quote(v)))
		return time.Time{}, false
	}
	t = t.UTC()
	switch {
	case t.Before(MinTime) && b == lower:
		t = MinTime
	case t.After(MaxTime) && b == upper:
		t = MaxTime
	case t.Before(MinTime) || t.After(MaxTime):
		writeError(w, 400, fmt.Sprintf("%s: %s is outside the supported range %s to %s", name, quote(v),
			MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339)))
		return time.Time{}, false
	}
	return t, true
}

// stepParam reads `step`: a positive Go duration up to MaxStep (0 when absent).
func stepParam(w http.ResponseWriter, q url.Values) (time.Duration, bool) {
	v := q.Get("step")
	if v == "" {
		return 0, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxStep {
		writeError(w, 400, fmt.Sprintf("step: want a positive duration like 5m or 1h, at most %s, got %s", MaxStep, quote(v)))
		return 0, false
	}
	return d, true
}
