package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// TestServeRISLive runs `blackout serve` on a live source (a local RIS Live
// server replaying a real capture): the route events flow into the store
// and the API, and the capture's peer going down is stored as a peer event.
func TestServeRISLive(t *testing.T) {
	lines := ristest.CorpusLines(t, "ris-live-stream.json")
	srv := ristest.New(lines)
	defer srv.Close()
	proc := startServeProc(t, "--data", t.TempDir(), "--ris-live="+srv.URL, "--record", t.TempDir())
	proc.waitFor(t, "route events from RIS Live", func(h health) bool { return h.RouteEvents > 0 && h.DataTime != nil })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(proc.base + "/api/v1/events?entity_type=peer")
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				EntityCode    string `json:"entity_code"`
				Kind          string `json:"kind"`
				PeerCollector string `json:"peer_collector"`
			} `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.EntityCode == "195.66.224.59" && ev.Kind == "peer_event" && ev.PeerCollector == "rrc01" {
				proc.stop(t)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no peer event of 195.66.224.59 stored; events %+v\n%s", page.Events, proc.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
