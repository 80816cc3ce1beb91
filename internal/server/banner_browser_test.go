package server

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/store"
)

// switchStatus is a Status whose store writes fail until healed.
type switchStatus struct {
	fakeStatus
	mu   sync.Mutex
	fail bool
}

func (s *switchStatus) StoreHealth() (bool, string, time.Time, int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fail {
		return true, "", time.Time{}, 0, time.Time{}
	}
	return false, "store writes are failing: " + store.Describe(fmt.Errorf("write: %w", errors.New("x"))), time.Now(), 7273, time.Now()
}

// TestDashboardStorageBanner: in a real browser, the dashboard shows a
// banner with the reason while the health is degraded, and none once the
// store works again.
func TestDashboardStorageBanner(t *testing.T) {
	findChromium(t)
	st := noticeStore(t, 1)
	ss := &switchStatus{fakeStatus: fakeStatus{cov: covJudged}, fail: true}
	srv := httptest.NewServer(New(Options{Store: st, Status: ss, Hub: hub.New(), Version: "test", Logger: quietLog()}))
	t.Cleanup(srv.Close) // after the browser's cleanup, which closes its stream
	ctx, _ := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the storage banner", `!document.getElementById('degraded').hidden`)
	if text := evalJS[string](t, ctx, `document.getElementById('degraded').textContent`); !strings.Contains(text, "Storage problem: store writes are failing: a storage error") {
		t.Errorf("banner: %q", text)
	}
	screenshot(t, ctx, "storage-banner")
	ss.mu.Lock()
	ss.fail = false
	ss.mu.Unlock()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the health read after the store healed", `document.getElementById('version').textContent !== ''`)
	if !evalJS[bool](t, ctx, `document.getElementById('degraded').hidden`) {
		t.Error("the banner stays after the store healed")
	}
}
