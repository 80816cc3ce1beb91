package archive

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultCacheDir is where archive files are kept unless told otherwise:
// $BLACKOUT_ARCHIVE_CACHE if set, else <user cache dir>/blackout/archive.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("BLACKOUT_ARCHIVE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("archive: no cache directory (use --cache DIR): %w", err)
	}
	return filepath.Join(d, "blackout", "archive"), nil
}

// DefaultCacheSize bounds the cache unless told otherwise (20 GiB: a day of
// a busy RIS collector's updates in 2025 is a few GB).
const DefaultCacheSize = 20 << 30

// touch marks a file as just used: eviction goes by modification time.
func touch(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}

// Evict removes the least recently used files of the cache directory
// (oldest modification time first: a file's time is set when it is
// downloaded and each time it is served from the cache) until the cache
// holds at most maxBytes. Files in keep (local paths: those of the run in
// progress) are never removed, even when they alone exceed the bound.
// Partial downloads (".part") older than a day count as the oldest. It
// returns the number of files and bytes removed.
func Evict(dir string, maxBytes int64, keep map[string]bool) (files int, bytes int64, err error) {
	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var all []entry
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		mod := info.ModTime()
		if strings.HasSuffix(p, ".part") {
			if time.Since(mod) < 24*time.Hour {
				return nil // perhaps another run's download in progress
			}
			mod = time.Time{}
		}
		total += info.Size()
		all = append(all, entry{p, info.Size(), mod})
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cache %s: %w", dir, err)
	}
	if total <= maxBytes {
		return 0, 0, nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.Before(all[j].mod) })
	for _, e := range all {
		if total <= maxBytes {
			break
		}
		if keep[e.path] {
			continue
		}
		if err := os.Remove(e.path); err != nil && !os.IsNotExist(err) {
			return files, bytes, fmt.Errorf("cache: evict %s: %w", e.path, err)
		}
		total -= e.size
		files++
		bytes += e.size
	}
	return files, bytes, nil
}

// ParseSize parses a size such as "20G", "500M", "1.5GiB" or "123456"
// (bytes; the multipliers are powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := float64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want bytes or a number with K, M, G or T", s)
	}
	return int64(v * mult), nil
}
