// Package hub fans blackout serve's live messages (event notices once
// stored, with their outbox sequence numbers, and the data clock) out to
// the HTTP event stream's subscribers. The engine publishes; the server
// subscribes. The pipeline never waits for a client: a subscriber whose
// buffer is full misses messages, and its Dropped count says how many
// notices it missed, so that the stream can catch up from the store or
// tell the client.
package hub

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Hub fans messages out to subscribers.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Message is one server-sent event.
type Message struct {
	ID    int64  // a notice's outbox sequence number (0 for a tick)
	Event string // "notice" or "tick"
	Data  []byte
}

// Subscription is one subscriber's buffered channel of messages.
type Subscription struct {
	c       chan Message
	h       *Hub
	dropped atomic.Int64
}

// C returns the channel of messages.
func (s *Subscription) C() <-chan Message { return s.c }

// Dropped returns how many notices were not put in the channel because it
// was full.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}

// New returns an empty hub.
func New() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscribe returns a subscription buffering up to 256 messages.
func (h *Hub) Subscribe() *Subscription { return h.SubscribeN(256) }

// SubscribeN returns a subscription buffering up to n messages.
func (h *Hub) SubscribeN(n int) *Subscription {
	s := &Subscription{c: make(chan Message, n), h: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Subscribers returns the number of subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) publish(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- m:
		default:
			if m.ID != 0 {
				s.dropped.Add(1)
			}
		}
	}
}

// NoticeJSON is the data of a notice message: {"type": ..., "event": ...}.
func NoticeJSON(typ event.NoticeType, ev *event.Event) []byte {
	b, _ := json.Marshal(struct {
		Type  event.NoticeType `json:"type"`
		Event *event.Event     `json:"event"`
	}{typ, ev})
	return b
}

// PublishNotice sends a stored notice with its sequence number.
func (h *Hub) PublishNotice(seq int64, typ event.NoticeType, ev *event.Event) {
	h.publish(Message{ID: seq, Event: "notice", Data: NoticeJSON(typ, ev)})
}

// PublishTick sends the data clock.
func (h *Hub) PublishTick(dataTime time.Time, routeEvents int64) {
	var dt any
	if !dataTime.IsZero() {
		dt = dataTime.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(map[string]any{"data_time": dt, "route_events": routeEvents})
	h.publish(Message{Event: "tick", Data: b})
}
