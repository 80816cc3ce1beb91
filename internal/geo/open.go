package geo

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

//go:generate go run ./internal/gensnap -o data/default.snap

// defaultSnapshot is the embedded snapshot, built by `go generate` from the
// ip-location-db npm packages (see README.md).
//
//go:embed data/default.snap
var defaultSnapshot []byte

// Option changes how Open loads data.
type Option func(*options)

type options struct {
	noDefault bool
	noCache   bool
	cacheDir  string
}

// WithoutDefault leaves out the embedded snapshot.
func WithoutDefault() Option { return func(o *options) { o.noDefault = true } }

// WithoutCache leaves out the delegated files cached by `geo update`.
func WithoutCache() Option { return func(o *options) { o.noCache = true } }

// WithCacheDir reads cached delegated files from dir instead of
// DefaultCacheDir().
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// DefaultCacheDir is where `geo update` keeps RIR files:
// $BLACKOUT_GEO_CACHE if set, else <user cache dir>/blackout/geo.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("BLACKOUT_GEO_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("geo: no cache directory: %w", err)
	}
	return filepath.Join(d, "blackout", "geo"), nil
}

var (
	defaultOnce sync.Once
	defaultDB   *DB
	defaultErr  error
)

// Default returns the embedded snapshot with the RIR files cached by
// `blackout geo update` laid over it. It is loaded once and shared.
func Default() (*DB, error) {
	defaultOnce.Do(func() { defaultDB, defaultErr = Open(nil) })
	return defaultDB, defaultErr
}

// Open loads a DB. Precedence, lowest first: the embedded snapshot (unless
// WithoutDefault), the cached RIR delegated files (unless WithoutCache),
// then paths in order. A later source wins wherever it has data (address
// range, AS country or AS name); elsewhere earlier sources show through.
//
// Each path is an RIR delegated or delegated-extended file, an MMDB
// database or a CSV file (optionally gzip-compressed), recognised by its
// content. Malformed lines are skipped and counted in the Source (see
// Sources); a file that cannot be read or holds no usable record is an
// error.
func Open(paths []string, opts ...Option) (*DB, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	b := newBuilder()
	if !o.noDefault {
		if err := readSnapshot(defaultSnapshot, b, ""); err != nil {
			return nil, fmt.Errorf("geo: embedded snapshot: %w", err)
		}
	}
	if !o.noCache {
		dir := o.cacheDir
		if dir == "" {
			d, err := DefaultCacheDir()
			if err == nil {
				dir = d
			}
		}
		cached, err := CachedFiles(dir)
		if err != nil {
			return nil, err
		}
		for _, p := range cached {
			l, err := LoadFile(p)
			if err != nil {
				return nil, fmt.Errorf("geo: cached file (run 'blackout geo update' again): %w", err)
			}
			l.layer.src.Kind = "delegated"
			if err := b.add(l.layer); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range paths {
		l, err := LoadFile(p)
		if err != nil {
			return nil, err
		}
		if err := b.add(l.layer); err != nil {
			return nil, err
		}
	}
	return b.build(), nil
}

// CachedFiles lists the delegated files `geo update` left in dir, sorted.
func CachedFiles(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	m, err := filepath.Glob(filepath.Join(dir, "delegated-*-extended-latest"))
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	sort.Strings(m)
	return m, nil
}

// Loaded is one file read by LoadFile.
type Loaded struct {
	layer *layer
}

// Source returns the source description of the loaded file.
func (l *Loaded) Source() *Dataset { return l.layer.src }

// LoadFile reads one source file without stacking it (Open calls it for
// every path). Use Source on the result for the skipped-line count.
func LoadFile(path string) (*Loaded, error) {
	src := &Dataset{Path: path, Name: filepath.Base(path)}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("geo: %s: %w", path, err)
	}
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("geo: %s: %w", path, err)
	}
	if isMMDB(f, path) {
		src.Kind = "mmdb"
		l, err := loadMMDB(path, src)
		if err != nil {
			return nil, fmt.Errorf("geo: %w", err)
		}
		return &Loaded{l}, nil
	}
	var r io.Reader = f
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("geo: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
		head = head[:0]
		if h, err := io.ReadAll(io.LimitReader(zr, 4096)); err == nil {
			head = h
		}
		r = io.MultiReader(bytes.NewReader(head), zr)
	}
	var l *layer
	switch {
	case looksDelegated(head):
		src.Kind = "delegated"
		l, err = parseDelegated(r, src)
	default:
		src.Kind = "csv"
		if st, err := f.Stat(); err == nil {
			src.Date = st.ModTime().UTC()
		}
		l, err = parseCSV(r, src)
	}
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	return &Loaded{l}, nil
}

var mmdbMarker = []byte("\xab\xcd\xefMaxMind.com")

// isMMDB looks for the MMDB metadata marker in the last 128 KiB of f.
func isMMDB(f *os.File, path string) bool {
	st, err := f.Stat()
	if err != nil {
		return strings.HasSuffix(path, ".mmdb")
	}
	size := st.Size()
	off := max(size-128*1024, 0)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return bytes.Contains(buf, mmdbMarker)
}
