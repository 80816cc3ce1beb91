// Package hub fans blackout serve's live messages (event notices and the
// data clock) out to the HTTP event stream's subscribers. The engine
// publishes; the server subscribes. A slow subscriber loses messages: the
// pipeline never waits for a client.
package hub

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Hub fans messages out to subscribers.
type Hub struct {
	mu   sync.Mutex
	subs map[chan Message]struct{}
}

// Message is one server-sent event.
type Message struct {
	Event string // "notice" or "tick"
	Data  []byte
}

// New returns an empty hub.
func New() *Hub { return &Hub{subs: map[chan Message]struct{}{}} }

// Subscribe returns a channel of messages and a function that ends the
// subscription.
func (h *Hub) Subscribe() (<-chan Message, func()) {
	ch := make(chan Message, 256)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// Publish sends a message as it is (a relay of another hub's messages).
func (h *Hub) Publish(m Message) { h.publish(m) }

func (h *Hub) publish(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// PublishNotice sends an event notice.
func (h *Hub) PublishNotice(typ event.NoticeType, ev *event.Event) {
	b, _ := json.Marshal(struct {
		Type  event.NoticeType `json:"type"`
		Event *event.Event     `json:"event"`
	}{typ, ev})
	h.publish(Message{Event: "notice", Data: b})
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
