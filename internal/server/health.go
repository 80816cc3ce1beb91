package server

import (
	"net/http"
	"time"

	"github.com/blackout-bgp/blackout/internal/store"
)

// StoreHealth is what a Status may also report: the state of the store
// writes (see engine.Engine.StoreHealth). Without it the writes count as
// working.
type StoreHealth interface {
	StoreHealth() (ok bool, reason string, since time.Time, queued int, retry time.Time)
}

// health answers 200 while the store works, and 503 with status
// "degraded" and the reason when the store cannot be written (writes are
// retried, what failed is kept) or read.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	e := s.opts.Status
	out := map[string]any{"version": s.opts.Version, "data_time": timeOrNil(e.DataTime()),
		"route_events": e.RouteEvents(), "running": e.Running(), "judging": s.judging()}
	st := map[string]any{"ok": true}
	out["store"] = st
	_, open, err := s.openState(r.Context())
	if err != nil {
		s.opts.Logger.Error("api: health: the store cannot be read", "error", err)
		st["ok"], st["error"] = false, "store reads are failing: "+store.Describe(err)
		out["events_open"] = nil
	} else {
		out["events_open"] = len(open)
	}
	if sh, ok := e.(StoreHealth); ok {
		if good, reason, since, queued, retry := sh.StoreHealth(); !good {
			st["ok"], st["error"], st["since"], st["queued_rows"] = false, reason, timeOrNil(since), queued
			st["next_retry"] = timeOrNil(retry)
		}
	}
	if st["ok"] == false {
		out["status"], out["reason"] = "degraded", st["error"]
		writeJSON(w, http.StatusServiceUnavailable, out)
		return
	}
	status := "ok"
	if j := out["judging"].(JudgingJSON); !j.Judged {
		switch {
		case e.Running():
			status = "warming_up"
		case !e.DataTime().IsZero():
			status = "not_judged"
		}
	}
	out["status"] = status
	writeJSON(w, http.StatusOK, out)
}
