package server

import (
	"net/http"
	"strings"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// DeadLetterJSON is an alert given up on, in the API.
type DeadLetterJSON struct {
	ID       int64            `json:"id"` // the notice's sequence number (the stream's event id)
	Sink     string           `json:"sink"`
	Attempts int              `json:"attempts"`
	Error    string           `json:"error"`
	Time     string           `json:"time"` // wall time of the last attempt
	Type     event.NoticeType `json:"type"`
	Event    *event.Event     `json:"event"`
}

// deadLetters lists the alerts given up on, the latest first.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, q, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	sink := strings.TrimSpace(q.Get("sink"))
	if len(sink) > 200 {
		writeError(w, 400, "sink: too long")
		return
	}
	dls, err := s.st.DeadLetters(r.Context(), store.DeadFilter{Sink: sink, Limit: limit})
	if err != nil {
		s.internal(w, err)
		return
	}
	out := make([]DeadLetterJSON, len(dls))
	for i := range dls {
		d := &dls[i]
		out[i] = DeadLetterJSON{ID: d.Seq, Sink: d.Sink, Attempts: d.Attempts, Error: d.Error, Time: d.Time.UTC().Format("2006-01-02T15:04:05Z"),
			Type: d.Notice.Type, Event: &d.Notice.Event}
	}
	writeJSON(w, 200, map[string]any{"dead_letters": out})
}
