package progress

import (
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Sink is a pipeline sink that shows a run's progress on a Line: the
// route events read, their rate and the data's clock.
type Sink struct {
	Line  *Line
	Title string
}

// Notify implements the pipeline's sink (notices are not shown).
func (p *Sink) Notify(event.Notice) {}

// Progress implements the pipeline's progress sink.
func (p *Sink) Progress(now time.Time, n int64) {
	p.Line.Showf("%s: %d route events (%.0f/s), data clock %s", p.Title, n, p.Line.Rate(n), Clock(now))
}
