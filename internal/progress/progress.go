// Package progress draws the progress line of a long job (a download, a
// replay, a read of MRT files) on a terminal: one line of text, redrawn in
// place at most a few times a second, kept to the terminal's width so that
// it never wraps, and cleared at the end. When the output is not a
// terminal (a pipe, a file, a test's buffer) nothing at all is written.
//
// It is written by hand rather than on github.com/schollz/progressbar/v3 or
// github.com/vbauerster/mpb/v8, both of which were tried. The meters of
// blackout are a line of text the caller builds from counters that other
// goroutines update (files fetched, bytes, route events, the data's clock),
// not a bar with a known total. progressbar is driven by Add calls, draws
// its own bar, spinner and statistics, keeps a spinner goroutine running
// until the bar is finished, and brings in two more modules; mpb is a
// container of several bars that redraws by moving the cursor up over
// whole lines ending in a newline, needs a total and its completion, and
// brings in four. What the commands need is a throttle, a carriage return,
// an erase-to-end-of-line and the terminal test of golang.org/x/term,
// which the module requires already.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Interval is the least time between two redraws of a line.
const Interval = 250 * time.Millisecond

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Line is one progress line on a terminal. Its methods are safe for
// concurrent use; on a writer that is not a terminal they do nothing.
type Line struct {
	w     io.Writer
	on    bool
	fd    int // of the terminal, for its width; -1 if unknown
	start time.Time

	mu    sync.Mutex
	last  time.Time // of the last redraw
	drawn bool      // the line holds text
	stop  func()    // of Poll, nil before
}

// New returns a progress line on w, drawn only if w is a terminal. The
// line's clock (Elapsed, Rate) starts now.
func New(w io.Writer) *Line {
	l := &Line{w: w, fd: -1, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		l.on, l.fd = true, int(f.Fd())
	}
	return l
}

// On reports whether the line is drawn (its writer is a terminal).
func (l *Line) On() bool { return l.on }

// Due reports whether Show would redraw now: the line is on and Interval
// has passed since the last redraw. Callers may test it before building
// an expensive text.
func (l *Line) Due() bool {
	if !l.On() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Since(l.last) >= Interval
}

// Show redraws the line with text if a redraw is due (see Due); text
// longer than the terminal is wide is cut.
func (l *Line) Show(text string) {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < Interval {
		return
	}
	l.draw(text)
}

// Showf is Show of a formatted text, formatted only if a redraw is due.
func (l *Line) Showf(format string, args ...any) {
	if l.Due() {
		l.Show(fmt.Sprintf(format, args...))
	}
}

// draw writes text over the line; l.mu is held.
func (l *Line) draw(text string) {
	if l.fd >= 0 {
		if w, _, err := term.GetSize(l.fd); err == nil && w > 1 {
			text = cut(text, w-1)
		}
	}
	fmt.Fprintf(l.w, "\r%s\x1b[K", text)
	l.last = time.Now()
	l.drawn = true
}

// cut returns the first n runes of s.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// Clear erases the line if it holds text; the next Show redraws at once.
// It stops a Poll first.
func (l *Line) Clear() {
	if !l.On() {
		return
	}
	l.mu.Lock()
	stop := l.stop
	l.stop = nil
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.drawn = false
	}
	l.last = time.Time{}
}

// Poll redraws the line every Interval with what text returns, on a
// goroutine of its own, until stop (or Clear, which stop is) is called;
// stop clears the line and may be called more than once. text is called only while the
// line is on, never concurrently with itself.
func (l *Line) Poll(text func() string) (stop func()) {
	if !l.On() {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			s := text()
			l.mu.Lock()
			l.draw(s)
			l.mu.Unlock()
		}
	}()
	var once sync.Once
	halt := func() { once.Do(func() { close(quit); <-done }) }
	l.mu.Lock()
	l.stop = halt
	l.mu.Unlock()
	return l.Clear
}

// Elapsed returns the time since the line was made.
func (l *Line) Elapsed() time.Duration { return time.Since(l.start) }

// Rate returns n per second of Elapsed.
func (l *Line) Rate(n int64) float64 {
	s := l.Elapsed().Seconds()
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// Clock formats a data clock (the time of the latest record read) for a
// progress line: UTC, to the second.
func Clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// Bytes formats a byte count in SI units with one decimal: "512 B",
// "1.2 kB", "3.4 MB", up to TB; a negative count (a size not known) is
// "?".
func Bytes(n int64) string {
	const unit = 1000
	if n < 0 {
		return "?"
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for v >= unit && u < 4 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGT"[u-1])
}
