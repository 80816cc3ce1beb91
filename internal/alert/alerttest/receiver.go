// Package alerttest is a webhook endpoint for tests of blackout's alerts:
// it listens on loopback, verifies every delivery's signature
// (alert.Verify) and counts the alerts by what they announce.
package alerttest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
)

// Receiver is a webhook endpoint on loopback, closed when the test ends.
// A delivery whose signature does not verify fails the test and is
// answered 401.
type Receiver struct {
	// URL is where to send the deliveries.
	URL string

	mu         sync.Mutex
	got        map[string]int      // Key -> deliveries
	deliveries map[string][]string // Key -> their X-Blackout-Delivery headers
	total      int
}

// New starts a receiver checking signatures made with secret.
func New(t testing.TB, secret string) *Receiver {
	r := &Receiver{got: map[string]int{}, deliveries: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if err := alert.Verify(secret, req.Header.Get("X-Blackout-Timestamp"), req.Header.Get("X-Blackout-Signature"), b, time.Now(), time.Minute); err != nil {
			t.Errorf("delivery not verified: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		k, err := Key(b)
		if err != nil {
			t.Errorf("delivery %s: %v", b, err)
		}
		r.mu.Lock()
		r.got[k]++
		r.total++
		r.deliveries[k] = append(r.deliveries[k], req.Header.Get("X-Blackout-Delivery"))
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Key names what a delivery announces: the notice type, the event's
// natural key (entity, family, start) and the notice's data time.
func Key(body []byte) (string, error) {
	var m struct {
		Type  string    `json:"type"`
		Time  time.Time `json:"time"`
		Event struct {
			EntityType string    `json:"entity_type"`
			EntityCode string    `json:"entity_code"`
			Family     string    `json:"family"`
			Start      time.Time `json:"start"`
		} `json:"event"`
	}
	err := json.Unmarshal(body, &m)
	return fmt.Sprintf("%s %s/%s %s %s at %s", m.Type, m.Event.EntityType, m.Event.EntityCode, m.Event.Family,
		m.Event.Start.Format(time.RFC3339), m.Time.Format(time.RFC3339Nano)), err
}

// Count returns the deliveries received so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Snapshot returns the deliveries received so far per Key.
func (r *Receiver) Snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.got)
}

// Deliveries returns the X-Blackout-Delivery headers of the deliveries of
// key, in the order they came.
func (r *Receiver) Deliveries(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.deliveries[key]...)
}
