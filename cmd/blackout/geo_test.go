package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestGeoLookupJSON(t *testing.T) {
	t.Setenv("BLACKOUT_GEO_CACHE", t.TempDir())
	code, out, errs := runCmd(t, "geo", "lookup", "--json", "175.45.176.0/24", "AS131279", "8.8.8.8", "193.0.0.0/21", "AS4837", "2001:67c:2e8::1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := []struct{ typ, country string }{{"prefix", "KP"}, {"asn", "KP"}, {"address", "US"}, {"prefix", "NL"}, {"asn", "CN"}, {"address", "NL"}}
	dec := json.NewDecoder(strings.NewReader(out))
	for i, w := range want {
		var r geoResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		if r.Type != w.typ || r.Country != w.country || r.Source == "" || r.Date == "" || r.CountryName == "" {
			t.Errorf("object %d = %+v, want type %s country %s with name, source and date", i, r, w.typ, w.country)
		}
	}
}

func TestGeoLookupSkipped(t *testing.T) {
	t.Setenv("BLACKOUT_GEO_CACHE", t.TempDir())
	code, out, errs := runCmd(t, "geo", "lookup", "--geo", "../../internal/geo/testdata/country.csv", "10.0.1.1")
	if code != 0 || !strings.Contains(out, "FR France") {
		t.Errorf("exit %d, out %q", code, out)
	}
	if !strings.Contains(errs, "skipped 2 malformed line(s)") || !strings.Contains(errs, "country.csv:7:") {
		t.Errorf("stderr %q: want the skipped count and file:line", errs)
	}
}

func TestGeoUpdateFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	code, out, errs := runCmd(t, "geo", "update", "--dir", t.TempDir(), "--rir", "lacnic", "--base-url", "lacnic="+srv.URL+"/x")
	if code != 1 || !strings.Contains(errs, srv.URL+"/x/delegated-lacnic-extended-latest") || !strings.Contains(errs, "404") || !strings.Contains(out, "failed") {
		t.Errorf("exit %d, out %q, err %q", code, out, errs)
	}
	if code, _, _ := runCmd(t, "geo", "update", "--base-url", "nosuch=http://127.0.0.1/"); code != 2 {
		t.Errorf("unknown RIR: exit %d, want 2", code)
	}
}
