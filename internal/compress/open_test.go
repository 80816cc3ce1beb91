package compress

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func readAllClose(t *testing.T, r io.ReadCloser) ([]byte, error) {
	t.Helper()
	b, err := io.ReadAll(r)
	if cerr := r.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	return b, err
}

func TestOpenFile(t *testing.T) {
	data := mrtLike(300_000, 30)
	dir := t.TempDir()
	// The name lies: detection must use the bytes.
	path := filepath.Join(dir, "updates.txt")
	if err := os.WriteFile(path, gzipBytes(t, data), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAllClose(t, r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}

	missing := filepath.Join(dir, "missing.bz2")
	if _, err := Open(context.Background(), missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: error %v does not name the file", err)
	}
}

func TestOpenFileCorruptNamesInput(t *testing.T) {
	data := mrtLike(1_000_000, 31)
	comp := bzip2Cmd(t, data, "-1")
	comp[len(comp)/2] ^= 0xff
	path := filepath.Join(t.TempDir(), "bad.bz2")
	if err := os.WriteFile(path, comp, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAllClose(t, r)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "compressed offset") {
		t.Fatalf("error %v should name %s and the compressed offset", err, path)
	}
}

func TestOpenStdin(t *testing.T) {
	data := mrtLike(200_000, 32)
	r, err := openReader("standard input", bytes.NewReader(zstdBytes(t, data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAllClose(t, r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

func TestOpenURL(t *testing.T) {
	data := mrtLike(2_000_000, 33)
	comp := bzip2Cmd(t, data, "-1")
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.bz2", func(w http.ResponseWriter, r *http.Request) {
		w.Write(comp)
	})
	mux.HandleFunc("/cut.bz2", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(comp)))
		w.Write(comp[:len(comp)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	ctx := context.Background()

	r, err := Open(ctx, srv.URL+"/ok.bz2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAllClose(t, r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("200: got %d bytes, %v", len(got), err)
	}

	url404 := srv.URL + "/missing.bz2"
	_, err = Open(ctx, url404)
	if err == nil || !strings.Contains(err.Error(), url404) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: error %v should name the URL and status", err)
	}

	urlCut := srv.URL + "/cut.bz2"
	r, err = Open(ctx, urlCut)
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAllClose(t, r)
	if err == nil || !strings.Contains(err.Error(), urlCut) {
		t.Fatalf("cut connection: error %v should name the URL", err)
	}
	std, _ := io.ReadAll(bzip2.NewReader(bytes.NewReader(comp[:len(comp)/2])))
	if !bytes.Equal(got, std) || len(got) == 0 {
		t.Fatalf("cut connection: got %d bytes, want the %d decoded before the cut", len(got), len(std))
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Open(cctx, srv.URL+"/ok.bz2"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: error %v", err)
	}
}
