// Command gensnap builds the embedded registry snapshot of package geo from
// the ip-location-db npm packages. It is run by `go generate
// ./internal/geo/...` and needs npm on the PATH (or -tgz-dir with the two
// package tarballs already fetched by `npm pack`).
//
//	go run ./internal/gensnap -o data/default.snap [-version 2.3.2026061719]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/geo"
)

const (
	countryPkg = "@ip-location-db/geo-whois-asn-country"
	asnPkg     = "@ip-location-db/asn"
)

func main() {
	out := flag.String("o", "data/default.snap", "output file")
	version := flag.String("version", "latest", "package version to fetch (both packages)")
	tgzDir := flag.String("tgz-dir", "", "use the package tarballs in this directory instead of running npm pack")
	flag.Parse()
	if err := run(*out, *version, *tgzDir); err != nil {
		fmt.Fprintln(os.Stderr, "gensnap:", err)
		os.Exit(1)
	}
}

func run(out, version, tgzDir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "gensnap")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var inputs []geo.SnapshotInput
	for _, pkg := range []struct {
		name  string
		files []string
	}{
		{countryPkg, []string{"geo-whois-asn-country-ipv4.csv", "geo-whois-asn-country-ipv6.csv"}},
		{asnPkg, []string{"asn-ipv4.csv", "asn-ipv6.csv"}},
	} {
		tgz, err := fetch(ctx, pkg.name, version, tgzDir, tmp)
		if err != nil {
			return err
		}
		ver, err := extract(tgz, tmp, pkg.files)
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		date, err := versionDate(ver)
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		for _, f := range pkg.files {
			inputs = append(inputs, geo.SnapshotInput{
				Path: filepath.Join(tmp, f),
				Name: strings.TrimPrefix(pkg.name, "@") + " " + ver,
				Date: date,
			})
		}
		fmt.Fprintf(os.Stderr, "gensnap: %s %s (%s)\n", pkg.name, ver, date.Format("2006-01-02"))
	}
	var buf bytes.Buffer
	db, err := geo.BuildSnapshot(&buf, inputs, true)
	if err != nil {
		return err
	}
	for _, s := range db.Sources() {
		fmt.Fprintf(os.Stderr, "gensnap: source %s: %d records, %d skipped\n", s, s.Records, s.Skipped)
		for _, e := range s.Errors {
			fmt.Fprintln(os.Stderr, "  ", e)
		}
	}
	tmpOut := out + ".tmp"
	if err := os.WriteFile(tmpOut, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmpOut, out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gensnap: wrote %s, %d bytes\n", out, buf.Len())
	return nil
}

// fetch returns the path of the package tarball, running npm pack unless
// tgzDir holds it already.
func fetch(ctx context.Context, pkg, version, tgzDir, tmp string) (string, error) {
	base := strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "-")
	if tgzDir != "" {
		m, _ := filepath.Glob(filepath.Join(tgzDir, base+"-[0-9]*.tgz"))
		if len(m) == 0 {
			return "", fmt.Errorf("no %s-*.tgz in %s", base, tgzDir)
		}
		return m[len(m)-1], nil
	}
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", "--pack-destination", tmp, pkg+"@"+version)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s@%s: %w", pkg, version, err)
	}
	name := strings.TrimSpace(string(outb))
	if i := strings.LastIndexByte(name, '\n'); i >= 0 {
		name = name[i+1:]
	}
	return filepath.Join(tmp, name), nil
}

// extract writes the named files of an npm tarball into dir and returns the
// package version from its package.json.
func extract(tgz, dir string, files []string) (string, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	want := map[string]bool{}
	for _, n := range files {
		want[n] = true
	}
	version := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		name := strings.TrimPrefix(h.Name, "package/")
		switch {
		case name == "package.json":
			b, err := io.ReadAll(tr)
			if err != nil {
				return "", err
			}
			if m := regexp.MustCompile(`"version"\s*:\s*"([^"]+)"`).FindSubmatch(b); m != nil {
				version = string(m[1])
			}
		case want[name]:
			o, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				return "", err
			}
			if _, err := io.Copy(o, tr); err != nil {
				o.Close()
				return "", err
			}
			if err := o.Close(); err != nil {
				return "", err
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		return "", fmt.Errorf("files missing from the package: %v", want)
	}
	if version == "" {
		return "", fmt.Errorf("no version in package.json")
	}
	return version, nil
}

// versionDate reads the data date from an ip-location-db version such as
// 2.3.2026061719 (the last part is YYYYMMDDHH).
func versionDate(v string) (time.Time, error) {
	m := regexp.MustCompile(`(\d{10})$`).FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, fmt.Errorf("version %q carries no date", v)
	}
	return time.Parse("2006010215", m[1])
}
