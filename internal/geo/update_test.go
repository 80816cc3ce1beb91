package geo

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rirServer serves sample delegated-extended files for the five RIRs on
// loopback under several directories that behave differently:
//
//	/ok/      the file, its .md5, ETag and Last-Modified (304 when unchanged)
//	/badsum/  a .md5 that does not match
//	/missing/ 404
//	/cut/     the connection closes half way through the file
type rirServer struct {
	*httptest.Server
	files       map[string][]byte
	notMod      atomic.Int32
	conditional atomic.Int32
}

func newRIRServer(t *testing.T) *rirServer {
	t.Helper()
	sample, err := os.ReadFile("testdata/delegated-apnic-extended-20250101")
	if err != nil {
		t.Fatal(err)
	}
	s := &rirServer{files: map[string][]byte{}}
	for _, r := range RIRs() {
		s.files[r.File()] = bytes.ReplaceAll(sample, []byte("apnic"), []byte(r.Name))
	}
	mod := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dir, name, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		isSum := strings.HasSuffix(name, ".md5")
		body, ok := s.files[strings.TrimSuffix(name, ".md5")]
		if !ok || dir == "missing" {
			http.NotFound(w, req)
			return
		}
		if isSum {
			sum := md5.Sum(body)
			if dir == "badsum" {
				sum[0] ^= 0xff
			}
			fmt.Fprintf(w, "MD5 (%s) = %x\n", strings.TrimSuffix(name, ".md5"), sum)
			return
		}
		if req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "" {
			s.conditional.Add(1)
		}
		switch dir {
		case "cut":
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case "badsum":
			w.Header().Set("ETag", `"bad"`)
		default:
			w.Header().Set("ETag", fmt.Sprintf(`"%x"`, md5.Sum(body)))
		}
		if req.Header.Get("If-None-Match") == w.Header().Get("ETag") {
			s.notMod.Add(1)
		}
		http.ServeContent(w, req, name, mod, bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rirServer) rirs(dir string) []RIR {
	var out []RIR
	for _, r := range RIRs() {
		out = append(out, RIR{Name: r.Name, BaseURL: s.URL + "/" + dir})
	}
	return out
}

func TestUpdate(t *testing.T) {
	srv := newRIRServer(t)
	dir := t.TempDir()
	ctx := context.Background()
	var progress atomic.Int32
	opts := UpdateOptions{Dir: dir, RIRs: srv.rirs("ok"), Progress: func(string, int64, int64) { progress.Add(1) }}

	res, err := Update(ctx, opts)
	if err != nil {
		t.Fatalf("first update: %v", err)
	}
	for _, r := range res {
		if r.Status != "updated" || r.Bytes == 0 {
			t.Errorf("first update %s: %+v", r.RIR, r)
		}
	}
	if progress.Load() == 0 {
		t.Error("no progress reported")
	}
	files, _ := CachedFiles(dir)
	if len(files) != 5 {
		t.Fatalf("cached files %v", files)
	}
	db := mustOpen(t, nil, WithoutDefault(), WithCacheDir(dir))
	wantCountry(t, db, "175.45.176.1", "KP")
	if len(db.Sources()) != 5 {
		t.Errorf("sources %v", db.Sources())
	}

	// Second run: conditional requests, nothing downloaded.
	res, err = Update(ctx, opts)
	if err != nil {
		t.Fatalf("second update: %v", err)
	}
	for _, r := range res {
		if r.Status != "unchanged" || r.Bytes != 0 {
			t.Errorf("second update %s: %+v", r.RIR, r)
		}
	}
	if srv.conditional.Load() != 5 || srv.notMod.Load() != 5 {
		t.Errorf("conditional requests %d, 304s %d; want 5, 5", srv.conditional.Load(), srv.notMod.Load())
	}

	if st, err := os.Stat(filepath.Join(dir, "delegated-apnic-extended-latest")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("cached file not 0644: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "delegated-apnic-extended-latest"))
	for _, tc := range []struct{ dir, want string }{
		{"badsum", "checksum mismatch"},
		{"missing", "404"},
		{"cut", "download cut"},
	} {
		o := opts
		o.RIRs = []RIR{{Name: "apnic", BaseURL: srv.URL + "/" + tc.dir}}
		res, err := Update(ctx, o)
		url := srv.URL + "/" + tc.dir + "/delegated-apnic-extended-latest"
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), url) {
			t.Errorf("%s: err = %v, want %q and the URL", tc.dir, err, tc.want)
		}
		if len(res) != 1 || res[0].Status != "failed" {
			t.Errorf("%s: results %+v", tc.dir, res)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "delegated-apnic-extended-latest"))
		if !bytes.Equal(before, after) {
			t.Errorf("%s: the cached file changed", tc.dir)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
			t.Errorf("%s: temporary files left: %v", tc.dir, m)
		}
		db := mustOpen(t, nil, WithoutDefault(), WithCacheDir(dir))
		wantCountry(t, db, "175.45.176.1", "KP")
	}
}
