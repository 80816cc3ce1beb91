package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNotFound is wrapped by the error of a file the archive does not have
// (HTTP 404 or 410): a gap in the data, not a failure of the run.
var ErrNotFound = errors.New("not in the archive")

// GapError is the error of a file the archive does not have.
type GapError struct {
	URL    string
	Status string // "404 Not Found"
}

func (g *GapError) Error() string {
	return fmt.Sprintf("fetch %s: %v (HTTP %s)", g.URL, ErrNotFound, g.Status)
}

// Unwrap returns ErrNotFound.
func (g *GapError) Unwrap() error { return ErrNotFound }

// Fetcher downloads archive files into a cache directory.
//
// Downloads run concurrently, at most Workers at a time, in the order of the
// plan. A file already in the cache is used without any request (archive
// files never change once written). A download goes to "<file>.part" and
// is renamed into place once complete and of the announced size, so the
// cache never holds a partial file under its real name. A cut transfer is
// retried with exponential backoff and resumed from where it stopped with
// an HTTP Range request (a 206 whose Content-Range starts at the bytes
// already held); a server that answers 200 instead is read from the start
// again. A .part left by an interrupted run is resumed the same way.
//
// A host that cannot be reached at all (its name does not resolve, it
// refuses the connection, no route to it) is not retried: the file fails
// at once, and so does every later file of the same host, without a
// request, so that a run with no network ends in seconds, not minutes.
type Fetcher struct {
	// Dir is the cache directory (created if needed).
	Dir string
	// Client is the HTTP client (default http.DefaultClient).
	Client *http.Client
	// Workers bounds the concurrent downloads (default 4).
	Workers int
	// Retries is how many times a failed download is retried (0: the
	// default, 5; negative: none). A 404 is never retried.
	Retries int
	// Backoff is the wait before the first retry, doubled at each retry up
	// to 30 times itself (default 1s).
	Backoff time.Duration
	// StallTimeout abandons (and retries) a request that receives no byte
	// for this long (default 2 minutes).
	StallTimeout time.Duration
	// Stats counts what was done; read it with its methods at any time.
	Stats Stats

	down sync.Map // host -> error: hosts found unreachable
}

// Stats are a fetcher's running counts, safe for concurrent use.
type Stats struct {
	FilesTotal  atomic.Int64
	FilesDone   atomic.Int64 // downloaded, from the cache, or failed
	FromCache   atomic.Int64
	Gaps        atomic.Int64 // files missing from the archive
	Failed      atomic.Int64 // files that could not be fetched for another reason
	Bytes       atomic.Int64 // bytes received over the network
	CachedBytes atomic.Int64 // bytes of the files served from the cache
	Requests    atomic.Int64
	Resumed     atomic.Int64 // requests that resumed a partial file
	Retries     atomic.Int64 // requests made again after a failure
	start       atomic.Int64 // unix nanoseconds of the first download
}

// Elapsed returns the time since the fetcher started.
func (s *Stats) Elapsed() time.Duration {
	st := s.start.Load()
	if st == 0 {
		return 0
	}
	return time.Since(time.Unix(0, st))
}

// Download is one file being fetched. Wait for it with Wait.
type Download struct {
	File File
	done chan struct{}
	path string
	err  error
	// FromCache and Size are valid once done.
	FromCache bool
	Size      int64
}

// Wait blocks until the file is in the cache or has failed and returns its
// local path, or the error (wrapping ErrNotFound for a gap), or ctx's error.
func (d *Download) Wait(ctx context.Context) (string, error) {
	select {
	case <-d.done:
		return d.path, d.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Done returns a channel closed when the download has finished.
func (d *Download) Done() <-chan struct{} { return d.done }

// Err returns the download's error once it is done.
func (d *Download) Err() error { <-d.done; return d.err }

// Start begins fetching files in order, at most Workers at a time, and
// returns at once with one Download per file, in the same order. The
// downloads stop when ctx is done.
func (f *Fetcher) Start(ctx context.Context, files []File) []*Download {
	ds := make([]*Download, len(files))
	for i, file := range files {
		ds[i] = &Download{File: file, done: make(chan struct{})}
	}
	f.Stats.FilesTotal.Add(int64(len(files)))
	f.Stats.start.CompareAndSwap(0, time.Now().UnixNano())
	workers := f.Workers
	if workers <= 0 {
		workers = 4
	}
	queue := make(chan *Download)
	go func() {
		defer close(queue)
		for _, d := range ds {
			select {
			case queue <- d:
			case <-ctx.Done():
				// Fail the rest so that nobody waits forever.
				d.err = fmt.Errorf("fetch %s: %w", d.File.URL, ctx.Err())
				close(d.done)
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range queue {
				d.path, d.err = f.fetch(ctx, d)
				switch {
				case d.err == nil:
				case errors.Is(d.err, ErrNotFound):
					f.Stats.Gaps.Add(1)
				default:
					f.Stats.Failed.Add(1)
				}
				f.Stats.FilesDone.Add(1)
				close(d.done)
			}
		}()
	}
	return ds
}

// Fetch fetches every file and waits for all of them. It returns the
// downloads; each carries its own error.
func (f *Fetcher) Fetch(ctx context.Context, files []File) []*Download {
	ds := f.Start(ctx, files)
	for _, d := range ds {
		<-d.done
	}
	return ds
}

// LocalPath returns where file lives in the cache.
func (f *Fetcher) LocalPath(file File) string {
	return filepath.Join(f.Dir, filepath.FromSlash(file.CachePath()))
}

func (f *Fetcher) fetch(ctx context.Context, d *Download) (string, error) {
	dst := f.LocalPath(d.File)
	if st, err := os.Stat(dst); err == nil && st.Mode().IsRegular() {
		touch(dst)
		d.FromCache, d.Size = true, st.Size()
		f.Stats.FromCache.Add(1)
		f.Stats.CachedBytes.Add(st.Size())
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("fetch %s: cache: %w", d.File.URL, err)
	}
	part := dst + ".part"
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	retries := f.Retries
	switch {
	case retries == 0:
		retries = 5
	case retries < 0:
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		size, err := f.try(ctx, d.File.URL, part)
		if err == nil {
			if err := os.Rename(part, dst); err != nil {
				return "", fmt.Errorf("fetch %s: %w", d.File.URL, err)
			}
			d.Size = size
			return dst, nil
		}
		var pe permanentError
		if ctx.Err() == nil && !errors.As(err, &pe) && attempt < retries {
			f.Stats.Retries.Add(1)
		}
		if ctx.Err() != nil || errors.As(err, &pe) || attempt >= retries {
			if errors.As(err, &pe) {
				err = pe.err
			}
			if attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return "", err
		}
		wait := backoff << attempt
		wait = min(wait, 30*backoff)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("fetch %s: %w", d.File.URL, ctx.Err())
		}
	}
}

// unreachable reports whether err says that the host cannot be reached
// at all: a name that does not resolve, a refused connection, no route.
func unreachable(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}

// permanentError is an error not worth a retry.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }

// try makes one request for url and appends what it gets to part, resuming
// from part's size. It returns the complete size on success.
func (f *Fetcher) try(ctx context.Context, url, part string) (int64, error) {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	// A watchdog cancels the request when no byte comes for StallTimeout.
	stall := f.StallTimeout
	if stall <= 0 {
		stall = 2 * time.Minute
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errStalled := fmt.Errorf("no data for %s", stall)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, permanentError{fmt.Errorf("fetch %s: %w", url, err)}
	}
	// The bytes as stored: the reader detects and undoes the compression.
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		f.Stats.Resumed.Add(1)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	if e, ok := f.down.Load(req.URL.Host); ok {
		return 0, permanentError{fmt.Errorf("fetch %s: host %s unreachable (not tried again in this run): %w", url, req.URL.Host, e.(error))}
	}
	f.Stats.Requests.Add(1)
	resp, err := client.Do(req)
	if err != nil {
		if context.Cause(rctx) == errStalled {
			err = errStalled
		}
		if ctx.Err() == nil && unreachable(err) {
			f.down.LoadOrStore(req.URL.Host, err)
			return 0, permanentError{fmt.Errorf("fetch %s: %w", url, err)}
		}
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	var total int64 = -1 // the complete file's size, when known
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return 0, permanentError{&GapError{URL: url, Status: resp.Status}}
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, end, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != have {
			// Not the bytes asked for: start again from scratch.
			os.Remove(part)
			return 0, fmt.Errorf("fetch %s: resuming at byte %d: unusable Content-Range %q", url, have, resp.Header.Get("Content-Range"))
		}
		total = size
		if total < 0 && resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		}
		if resp.ContentLength >= 0 && resp.ContentLength != end-start+1 {
			os.Remove(part)
			return 0, fmt.Errorf("fetch %s: Content-Length %d does not match Content-Range %q", url, resp.ContentLength, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part may already be whole (cut after the last byte), else
		// it is wrong: start again.
		if _, _, size, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && size == have {
			return have, nil
		}
		os.Remove(part)
		return 0, fmt.Errorf("fetch %s: range from byte %d not satisfiable; restarting", url, have)
	case resp.StatusCode == http.StatusOK:
		// The whole file (a server that ignores Range too): restart.
		have = 0
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		total = resp.ContentLength
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, fmt.Errorf("fetch %s: HTTP %s", url, resp.Status)
	default:
		return 0, permanentError{fmt.Errorf("fetch %s: HTTP %s", url, resp.Status)}
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, permanentError{fmt.Errorf("fetch %s: cache: %w", url, err)}
	}
	n, cerr := io.Copy(out, &countingReader{r: resp.Body, n: &f.Stats.Bytes, watchdog: watchdog, stall: stall})
	if cerr != nil && context.Cause(rctx) == errStalled {
		cerr = errStalled
	}
	if err := out.Close(); err != nil && cerr == nil {
		cerr = err
	}
	got := have + n
	if cerr != nil {
		// Keep the part: the next attempt resumes after its last byte.
		return 0, fmt.Errorf("fetch %s: cut after %d of %s bytes: %w", url, got, sizeString(total), cerr)
	}
	if total >= 0 && got != total {
		if got > total {
			os.Remove(part)
		}
		return 0, fmt.Errorf("fetch %s: got %d bytes, want %d", url, got, total)
	}
	return got, nil
}

func sizeString(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}

// parseContentRange parses "bytes START-END/SIZE" (SIZE may be "*", -1) or
// "bytes */SIZE" (start and end -1).
func parseContentRange(s string) (start, end, size int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil {
			return 0, 0, 0, bad
		}
	}
	if rng == "*" {
		return -1, -1, size, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
		return 0, 0, 0, bad
	}
	return start, end, size, nil
}

// countingReader counts the bytes read and rearms the stall watchdog.
type countingReader struct {
	r        io.Reader
	n        *atomic.Int64
	watchdog *time.Timer
	stall    time.Duration
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		c.watchdog.Reset(c.stall)
	}
	return n, err
}
