package compress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Open opens name ("-" = standard input, http:// or https:// URL, else a file path),
// detects the compression from the first bytes and returns a reader of the decompressed bytes.
// Closing it releases everything (goroutines, connections, files).
// Read errors name the input and, where known, the compressed byte offset.
func Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	switch {
	case name == "-":
		return openReader("standard input", os.Stdin, nil)
	case strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://"):
		return openURL(ctx, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return openReader(name, f, f.Close)
}

// openReader decodes src, naming it name in errors; closeSrc (may be nil)
// releases src when the result is closed.
func openReader(name string, src io.Reader, closeSrc func() error) (io.ReadCloser, error) {
	rc, _, err := NewReader(src)
	if err != nil {
		if closeSrc != nil {
			closeSrc()
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &namedReader{name: name, rc: rc, closeSrc: closeSrc}, nil
}

// openURL streams an http(s) URL; a non-2xx status is an error.
func openURL(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	// Ask for the bytes as stored: detection undoes the compression itself.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, fmt.Errorf("open %s: HTTP status %s", url, resp.Status)
	}
	return openReader(url, resp.Body, resp.Body.Close)
}

// namedReader prefixes errors with the input's name and closes both the
// decoder and the source.
type namedReader struct {
	name     string
	rc       io.ReadCloser
	closeSrc func() error
	closed   bool
}

func (n *namedReader) Read(p []byte) (int, error) {
	k, err := n.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", n.name, err)
	}
	return k, err
}

// Close closes the source first (unblocking a decoder goroutine waiting on
// it), then the decoder.
func (n *namedReader) Close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	var errSrc error
	if n.closeSrc != nil {
		errSrc = n.closeSrc()
	}
	errDec := n.rc.Close()
	if err := errors.Join(errSrc, errDec); err != nil {
		return fmt.Errorf("close %s: %w", n.name, err)
	}
	return nil
}
