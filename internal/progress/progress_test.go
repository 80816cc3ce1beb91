package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the Poll goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// onLine is a line drawn into w as if w were a terminal of unknown width.
func onLine(w *syncBuffer) *Line { return &Line{w: w, on: true, fd: -1, start: time.Now()} }

func TestNotTerminalSilent(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	if l.On() || IsTerminal(&buf) {
		t.Fatal("a buffer is not a terminal")
	}
	l.Show("x")
	l.Showf("%d", 1)
	stop := l.Poll(func() string { t.Error("text called while off"); return "" })
	time.Sleep(2 * Interval)
	stop()
	l.Clear()
	if buf.Len() != 0 {
		t.Errorf("wrote %q, want nothing", buf.String())
	}
}

func TestShowThrottleClear(t *testing.T) {
	var buf syncBuffer
	l := onLine(&buf)
	l.Show("one")
	l.Show("two") // within Interval: dropped
	l.Showf("three %d", 3)
	if got := buf.String(); got != "\rone\x1b[K" {
		t.Fatalf("got %q", got)
	}
	l.Clear()
	l.Clear()      // nothing more: the line is empty
	l.Show("four") // Clear makes the next Show immediate
	want := "\rone\x1b[K\r\x1b[K\rfour\x1b[K"
	if got := buf.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPoll(t *testing.T) {
	var buf syncBuffer
	l := onLine(&buf)
	var n int
	stop := l.Poll(func() string { n++; return "tick" })
	time.Sleep(3*Interval + Interval/2)
	stop()
	stop()
	got := buf.String()
	if n < 1 || strings.Count(got, "\rtick\x1b[K") != n || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("%d calls, output %q", n, got)
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"héllo", 2, "hé"}, {"ab", 0, ""}} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "?", 0: "0 B", 999: "999 B", 1000: "1.0 kB", 1234567: "1.2 MB", 20e9: "20.0 GB", 3e12: "3.0 TB", 5e15: "5000.0 TB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRateClock(t *testing.T) {
	l := &Line{start: time.Now().Add(-2 * time.Second)}
	if r := l.Rate(1000); r < 400 || r > 500 {
		t.Errorf("Rate = %v, want about 500", r)
	}
	ts := time.Date(2014, 12, 22, 16, 30, 5, 0, time.FixedZone("X", 3600))
	if got := Clock(ts); got != "2014-12-22 15:30:05" {
		t.Errorf("Clock = %q", got)
	}
}
