package peertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Collect reads events from ch until done holds for those read, and
// returns them; after d it fails tb, naming what it waited for and listing
// what came.
func Collect(tb testing.TB, ch <-chan bgp.Event, d time.Duration, what string, done func([]bgp.Event) bool) []bgp.Event {
	tb.Helper()
	var got []bgp.Event
	timer := time.NewTimer(d)
	defer timer.Stop()
	for !done(got) {
		select {
		case ev := <-ch:
			got = append(got, ev)
		case <-timer.C:
			tb.Fatalf("timeout waiting for %s; got %d events:%s", what, len(got), Summarize(got))
		}
	}
	return got
}

// Summarize lists the first 30 events, one per line, for test messages.
func Summarize(evs []bgp.Event) string {
	var b strings.Builder
	for i, e := range evs {
		if i == 30 {
			b.WriteString("\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  %s %s %s %s->%s", e.Kind, e.Peer, e.Prefix, e.OldState, e.NewState)
	}
	return b.String()
}
