package hub

import (
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// TestDroppedCounted: a subscriber whose buffer is full misses messages
// without holding up the publisher, and its Dropped count says how many
// notices (not ticks) it missed.
func TestDroppedCounted(t *testing.T) {
	h := New()
	slow := h.SubscribeN(2)
	fast := h.SubscribeN(10)
	ev := &event.Event{EntityType: event.Country, EntityCode: "KP"}
	for i := int64(1); i <= 5; i++ {
		h.PublishNotice(i, event.Start, ev)
	}
	h.PublishTick(time.Time{}, 0)
	if slow.Dropped() != 3 || fast.Dropped() != 0 {
		t.Errorf("dropped: slow %d, fast %d; want 3 and 0", slow.Dropped(), fast.Dropped())
	}
	if m := <-slow.C(); m.ID != 1 || m.Event != "notice" {
		t.Errorf("first message %+v", m)
	}
	if len(fast.C()) != 6 {
		t.Errorf("fast subscriber has %d messages, want 6", len(fast.C()))
	}
	slow.Close()
	fast.Close()
	if h.Subscribers() != 0 {
		t.Errorf("%d subscribers after Close", h.Subscribers())
	}
}
