package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/blackout-bgp/blackout/internal/hub"
)

// stream is the live event stream (server-sent events). Each notice
// carries its outbox sequence number as the event id; a client that
// reconnects with Last-Event-ID (or ?last_event_id=) gets the notices it
// missed from the store, then the live ones. A client too slow for the
// live feed is caught up from the store; when that cannot be done (more
// than the backlog behind, or the store cannot be read) it gets an event
// "lost" saying how many notices it missed and the id to resume after.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, 500, "streaming unsupported")
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("last_event_id"); v != "" {
		last = v
	}
	var after int64 = -1 // not resuming
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			writeError(w, 400, "Last-Event-ID: want the id of a notice of this stream (a number), got "+strconv.Quote(cut(last, 40)))
			return
		}
		after = n
	}
	sub := s.opts.Hub.Subscribe()
	defer sub.Close()
	if after < 0 {
		// A new client: the notices stored before it subscribed are in the
		// API; it gets the ones after.
		n, err := s.st.LastNoticeSeq(r.Context())
		if err != nil {
			s.internal(w, err)
			return
		}
		after = n
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	e := s.opts.Status
	tick, _ := json.Marshal(map[string]any{"data_time": timeOrNil(e.DataTime()), "route_events": e.RouteEvents()})
	fmt.Fprintf(w, "retry: 2000\nevent: tick\ndata: %s\n\n", tick)
	sent := s.catchUp(w, r, after)
	fl.Flush()
	dropped := sub.Dropped()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			if d := sub.Dropped(); d != dropped {
				dropped = d
				sent = s.catchUp(w, r, sent)
			}
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case m := <-sub.C():
			if m.ID != 0 {
				if m.ID <= sent {
					continue // sent from the store already
				}
				if d := sub.Dropped(); m.ID > sent+1 || d != dropped {
					// Missed some (a full buffer): from the store, in order.
					dropped = d
					sent = s.catchUp(w, r, sent)
					if m.ID <= sent {
						fl.Flush()
						continue
					}
				}
				sent = m.ID
				fmt.Fprintf(w, "id: %d\n", m.ID)
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.Event, m.Data)
			fl.Flush()
		}
	}
}

// catchUp sends the stored notices after the id after, at most the
// backlog of them (the latest), and returns the id of the last one sent.
// What it cannot send it announces in an event "lost".
func (s *Server) catchUp(w http.ResponseWriter, r *http.Request, after int64) int64 {
	ctx := r.Context()
	lost := func(missed any, reason string) {
		b, _ := json.Marshal(map[string]any{"missed": missed, "after_id": after, "reason": reason})
		fmt.Fprintf(w, "event: lost\ndata: %s\n\n", b)
	}
	latest, err := s.st.LastNoticeSeq(ctx)
	if err != nil {
		s.opts.Logger.Error("stream: the store cannot be read", "error", err)
		lost(nil, "the store cannot be read; reload the page")
		return after
	}
	if latest-after > int64(s.backlog) {
		skip := latest - int64(s.backlog)
		lost(skip-after, fmt.Sprintf("more than %d notices behind; the older ones are in the API", s.backlog))
		after = skip
	}
	for after < latest {
		ns, err := s.st.Notices(ctx, after, 200)
		if err != nil {
			s.opts.Logger.Error("stream: the store cannot be read", "error", err)
			lost(latest-after, "the store cannot be read; reload the page")
			return latest
		}
		if len(ns) == 0 {
			break
		}
		for i := range ns {
			n := &ns[i]
			if n.Seq > latest {
				break
			}
			fmt.Fprintf(w, "id: %d\nevent: notice\ndata: %s\n\n", n.Seq, hub.NoticeJSON(n.Type, &n.Event))
			after = n.Seq
		}
	}
	return after
}

// cut shortens s to n bytes for an error message.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
