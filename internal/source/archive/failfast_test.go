package archive_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/source/archive"
)

// planOn returns the files of the test range with both archives based
// at base (a host that is down in these tests).
func planOn(t *testing.T, base string) []archive.File {
	t.Helper()
	files, err := archive.Plan(testFrom, testUntil, bothCols, archive.Bases{RIS: base + "/ris", RouteViews: base + "/rv"})
	if err != nil || len(files) < 4 {
		t.Fatalf("plan: %d files, %v", len(files), err)
	}
	return files
}

// TestFetchFailsFastUnreachable: a name that does not resolve and a
// refused connection fail the file at once (no retry, no backoff) and
// every later file of the host without a request; the retries counter
// stays at zero. The name error is made by the dialer (no DNS query
// leaves the machine); the refused connection is a real one on loopback.
func TestFetchFailsFastUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		name, base string
		dial       func(ctx context.Context, network, addr string) (net.Conn, error)
		want       string
	}{
		{"dns", "http://archive.example.invalid", func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		}, "no such host"},
		{"refused", "http://" + refused, (&net.Dialer{}).DialContext, "refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var dials atomic.Int64
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return c.dial(ctx, network, addr)
			}}
			// A backoff of an hour: a single retry would hang the test.
			f := &archive.Fetcher{Dir: t.TempDir(), Client: &http.Client{Transport: tr}, Backoff: time.Hour, Workers: 1}
			files := planOn(t, c.base)
			ds := f.Fetch(testCtx(t), files)
			for _, d := range ds {
				err := d.Err()
				if err == nil || errors.Is(err, archive.ErrNotFound) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%s: error %v, want one naming %q", d.File.URL, err, c.want)
				}
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("%d dials for %d files, want 1", n, len(files))
			}
			if r, fl := f.Stats.Retries.Load(), f.Stats.Failed.Load(); r != 0 || fl != int64(len(files)) {
				t.Errorf("retries %d, failed %d of %d", r, fl, len(files))
			}
		})
	}
}

// TestFetchRetriesCounted: a server error is retried, and the retries
// are counted for the progress line.
func TestFetchRetriesCounted(t *testing.T) {
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	file := planOn(t, "http://"+ln.Addr().String())[0]
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond, Retries: 3}
	ds := f.Fetch(testCtx(t), []archive.File{file})
	if err := ds[0].Err(); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("error %v", err)
	}
	if r := f.Stats.Retries.Load(); r != 3 || hits.Load() != 4 {
		t.Errorf("retries %d, requests %d: want 3 and 4", r, hits.Load())
	}
	if line := archive.ProgressText("fetch", &f.Stats, nil, time.Second); !strings.Contains(line, "1 failed, 3 retries") {
		t.Errorf("progress line %q does not say the retries", line)
	}
}
