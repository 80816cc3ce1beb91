package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

func makeTempDir() (string, error) { return os.MkdirTemp("", "blackout-server-test-") }

type oaDoc struct {
	Paths      map[string]map[string]oaOp `json:"paths"`
	Components struct {
		Schemas map[string]*oaSchema `json:"schemas"`
	} `json:"components"`
}

type oaOp struct {
	Parameters []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
		Example  any    `json:"example"`
	} `json:"parameters"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema *oaSchema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type oaSchema struct {
	Ref        string               `json:"$ref"`
	Type       string               `json:"type"`
	Nullable   bool                 `json:"nullable"`
	Properties map[string]*oaSchema `json:"properties"`
	Required   []string             `json:"required"`
	Items      *oaSchema            `json:"items"`
	Enum       []any                `json:"enum"`
	AddProps   *oaSchema            `json:"additionalProperties"`
}

// check validates v against s: required fields present, types, enums.
func (d *oaDoc) check(t *testing.T, where string, s *oaSchema, v any) {
	t.Helper()
	if s == nil {
		return
	}
	if s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		if s == nil {
			t.Fatalf("%s: unknown $ref", where)
		}
	}
	if v == nil {
		if !s.Nullable {
			t.Errorf("%s: null but not nullable", where)
		}
		return
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %T, want an object", where, v)
			return
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				t.Errorf("%s: field %q missing", where, r)
			}
		}
		for k, ps := range s.Properties {
			if x, ok := m[k]; ok {
				d.check(t, where+"."+k, ps, x)
			}
		}
		if s.AddProps != nil {
			for k, x := range m {
				if _, ok := s.Properties[k]; !ok {
					d.check(t, where+"."+k, s.AddProps, x)
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %T, want an array", where, v)
			return
		}
		for i, x := range a {
			d.check(t, fmt.Sprintf("%s[%d]", where, i), s.Items, x)
		}
	case "string":
		if _, ok := v.(string); !ok {
			t.Errorf("%s: %T, want a string", where, v)
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			t.Errorf("%s: %T, want a number", where, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: %T, want a boolean", where, v)
		}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		t.Errorf("%s: %v not in %v", where, v, s.Enum)
	}
}

// TestOpenAPI keeps the document true: every route of the server is in it,
// and every path of it answers, with and without its example parameters,
// with every field the document names.
func TestOpenAPI(t *testing.T) {
	srv, eng := demoServer(t)
	var doc oaDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Store: eng.Store(), Status: eng, Hub: eng.Hub()})
	for _, r := range s.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for path, ops := range doc.Paths {
		if !slices.Contains(s.Routes(), "GET "+path) {
			t.Errorf("openapi.json path %s is not a route", path)
		}
		op, ok := ops["get"]
		if !ok || path == "/api/v1/stream" { // the stream is checked by TestStream
			continue
		}
		p := path
		q := url.Values{}
		for _, prm := range op.Parameters {
			switch prm.In {
			case "path":
				ex := fmt.Sprint(prm.Example)
				if prm.Name == "id" {
					ex = "3"
				}
				p = strings.ReplaceAll(p, "{"+prm.Name+"}", url.PathEscape(ex))
			case "query":
				if prm.Example != nil {
					q.Set(prm.Name, fmt.Sprint(prm.Example))
				}
			}
		}
		ct := "application/json"
		if _, ok := op.Responses["200"].Content[ct]; !ok {
			for c := range op.Responses["200"].Content {
				ct = c // an image (chart.svg): checked for its content type only
			}
		}
		schema := op.Responses["200"].Content["application/json"].Schema
		for _, u := range []string{srv.URL + p, srv.URL + p + "?" + q.Encode()} {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
				continue
			}
			if got := resp.Header.Get("Content-Type"); ct != "application/json" {
				if !strings.HasPrefix(got, ct) {
					t.Errorf("GET %s: Content-Type %q, want %s", u, got, ct)
				}
				continue
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("GET %s: %v", u, err)
				continue
			}
			doc.check(t, "GET "+u, schema, v)
		}
	}
}
