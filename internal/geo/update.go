package geo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// RIR is where one Regional Internet Registry publishes its statistics.
type RIR struct {
	Name    string // afrinic, apnic, arin, lacnic or ripencc
	BaseURL string // the directory that holds File() and File()+".md5"
}

// File is the name of the RIR's current delegated-extended file.
func (r RIR) File() string { return "delegated-" + r.Name + "-extended-latest" }

// URL is the address of the RIR's current delegated-extended file.
func (r RIR) URL() string { return strings.TrimRight(r.BaseURL, "/") + "/" + r.File() }

// RIRs returns the five RIRs and their published statistics directories.
func RIRs() []RIR {
	return []RIR{
		{"afrinic", "https://ftp.afrinic.net/pub/stats/afrinic"},
		{"apnic", "https://ftp.apnic.net/stats/apnic"},
		{"arin", "https://ftp.arin.net/pub/stats/arin"},
		{"lacnic", "https://ftp.lacnic.net/pub/stats/lacnic"},
		{"ripencc", "https://ftp.ripe.net/pub/stats/ripencc"},
	}
}

// UpdateOptions configures Update.
type UpdateOptions struct {
	Dir    string       // cache directory; DefaultCacheDir() if empty
	RIRs   []RIR        // RIRs() if empty
	Client *http.Client // a client with a 10-minute timeout if nil
	// Progress, if set, is called as a file downloads, with total -1 when
	// the server does not say the size.
	Progress func(file string, done, total int64)
}

// UpdateResult is the outcome for one RIR.
type UpdateResult struct {
	RIR    string
	URL    string
	Path   string // the cached file
	Status string // "updated", "unchanged" or "failed"
	Bytes  int64  // bytes downloaded
	Err    error
}

// cacheMeta is kept next to each cached file for conditional requests.
type cacheMeta struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	MD5          string    `json:"md5"`
	Fetched      time.Time `json:"fetched"`
}

// Update downloads the current delegated-extended file of each RIR with
// its .md5 checksum file, verifies it and replaces the cached copy
// atomically. A file the server reports unchanged (conditional request with
// the ETag and Last-Modified of the cached copy) is not downloaded again.
// When an RIR fails, its cached copy stays as it was, the others go on, and
// the returned error names every failed URL.
func Update(ctx context.Context, o UpdateOptions) ([]UpdateResult, error) {
	if o.Dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	if len(o.RIRs) == 0 {
		o.RIRs = RIRs()
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("geo update: %w", err)
	}
	var res []UpdateResult
	var errs []error
	for _, r := range o.RIRs {
		u := updateOne(ctx, o, r)
		if u.Err != nil {
			u.Status = "failed"
			errs = append(errs, u.Err)
		}
		res = append(res, u)
	}
	return res, errors.Join(errs...)
}

func updateOne(ctx context.Context, o UpdateOptions, r RIR) UpdateResult {
	u := UpdateResult{RIR: r.Name, URL: r.URL(), Path: filepath.Join(o.Dir, r.File())}
	var meta cacheMeta
	if b, err := os.ReadFile(u.Path + ".meta"); err == nil {
		_ = json.Unmarshal(b, &meta) // a bad meta file only costs a full download
	}
	_, statErr := os.Stat(u.Path)
	haveCopy := statErr == nil && meta.URL == u.URL

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		u.Err = fmt.Errorf("%s: %w", u.URL, err)
		return u
	}
	if haveCopy {
		if meta.ETag != "" {
			req.Header.Set("If-None-Match", meta.ETag)
		}
		if meta.LastModified != "" {
			req.Header.Set("If-Modified-Since", meta.LastModified)
		}
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		u.Err = fmt.Errorf("GET %s: %w", u.URL, err)
		return u
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && haveCopy {
		u.Status = "unchanged"
		return u
	}
	if resp.StatusCode != http.StatusOK {
		u.Err = fmt.Errorf("GET %s: %s", u.URL, resp.Status)
		return u
	}
	tmp, err := os.CreateTemp(o.Dir, "."+r.File()+".tmp*")
	if err != nil {
		u.Err = fmt.Errorf("geo update: %w", err)
		return u
	}
	tmp.Chmod(0o644)            // CreateTemp makes it 0600
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := md5.New()
	var w io.Writer = io.MultiWriter(tmp, h)
	if o.Progress != nil {
		w = &progressWriter{w: w, file: r.File(), total: resp.ContentLength, fn: o.Progress}
	}
	u.Bytes, err = io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && u.Bytes != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		u.Err = fmt.Errorf("GET %s: download cut after %d bytes: %w", u.URL, u.Bytes, err)
		return u
	}
	sum := hex.EncodeToString(h.Sum(nil))
	want, err := fetchMD5(ctx, o.Client, u.URL+".md5")
	if err != nil {
		u.Err = err
		return u
	}
	if sum != want {
		u.Err = fmt.Errorf("GET %s: checksum mismatch: file has MD5 %s, %s.md5 says %s", u.URL, sum, u.URL, want)
		return u
	}
	if err := checkDelegated(tmp.Name()); err != nil {
		u.Err = fmt.Errorf("GET %s: %w", u.URL, err)
		return u
	}
	if err := os.Rename(tmp.Name(), u.Path); err != nil {
		u.Err = fmt.Errorf("geo update: %w", err)
		return u
	}
	meta = cacheMeta{URL: u.URL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), MD5: sum, Fetched: time.Now().UTC()}
	if b, err := json.MarshalIndent(meta, "", "  "); err == nil {
		if err := writeFileAtomic(u.Path+".meta", b); err != nil {
			u.Err = fmt.Errorf("geo update: %w", err)
			return u
		}
	}
	u.Status = "updated"
	return u
}

var md5RE = regexp.MustCompile(`\b[0-9a-fA-F]{32}\b`)

// fetchMD5 reads a checksum file in any of the RIRs' layouts ("MD5 (file) =
// hex", "hex  file" or just the hex digest).
func fetchMD5(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	m := md5RE.Find(b)
	if m == nil {
		return "", fmt.Errorf("GET %s: no MD5 digest in the checksum file", url)
	}
	return strings.ToLower(string(m)), nil
}

// checkDelegated makes sure a download is a delegated file, not an error page.
func checkDelegated(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	if !looksDelegated(head[:n]) {
		return fmt.Errorf("the download is not an RIR delegated statistics file")
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp.Chmod(0o644) // CreateTemp makes it 0600
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(b)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type progressWriter struct {
	w           io.Writer
	file        string
	done, total int64
	last        time.Time
	fn          func(string, int64, int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || p.done == p.total {
		p.last = now
		p.fn(p.file, p.done, p.total)
	}
	return n, err
}
