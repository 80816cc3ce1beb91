package livefeed

import (
	"flag"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/archive"
)

// TestRouteViewsBootstrapFlags: --routeviews-bootstrap builds the
// bootstrap of the named collectors ("linx" is route-views.linx), and
// refuses what cannot work, saying why.
func TestRouteViewsBootstrapFlags(t *testing.T) {
	build := func(args ...string) (*Feed, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		lf := Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return lf.Build(func(string, ...any) {})
	}
	fd, err := build("--routeviews=127.0.0.1:9092", "--routeviews-bootstrap", "linx,route-views2", "--routeviews-base", "http://127.0.0.1:1/rv/", "--cache", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(fd.Runners) != 1 {
		t.Fatalf("%d runners", len(fd.Runners))
	}
	b, ok := fd.Runners[0].(*RouteViewsBootstrap)
	if !ok {
		t.Fatalf("runner %T, want the bootstrap", fd.Runners[0])
	}
	if len(b.Collectors) != 2 || b.Collectors[0].Name != "route-views.linx" || b.Collectors[1].Name != "route-views2" || b.Bases.RouteViews != "http://127.0.0.1:1/rv" {
		t.Errorf("collectors %v, bases %+v", b.Collectors, b.Bases)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--routeviews-bootstrap", "linx"}, "needs --routeviews"},
		{[]string{"--routeviews", "--routeviews-bootstrap", "rrc00"}, "not a RouteViews collector"},
		{[]string{"--routeviews", "--routeviews-bootstrap", "linx", "--routeviews-group", "g"}, "not with --routeviews-group"},
		{[]string{"--routeviews", "--routeviews-bootstrap", "linx", "--routeviews-start", "start"}, "not with --routeviews-group or --routeviews-start"},
	} {
		if _, err := build(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestRouteViewsRename: the feed's collector names become the archive's,
// each BMP view keeping its suffix; other collectors' stay.
func TestRouteViewsRename(t *testing.T) {
	b := &RouteViewsBootstrap{Collectors: []archive.Collector{{Name: "route-views.linx", Project: archive.RouteViews}, {Name: "route-views2", Project: archive.RouteViews}}}
	rename := b.renamer()
	for in, want := range map[string]string{
		"linx": "route-views.linx", "linx/post": "route-views.linx/post", "linx/loc-rib": "route-views.linx/loc-rib",
		"route-views.linx": "route-views.linx", "route-views2": "route-views2", "amsix": "amsix", "route-views.amsix/post": "route-views.amsix/post",
	} {
		ev := bgp.Event{Peer: bgp.Peer{Collector: in}}
		rename(&ev)
		if ev.Peer.Collector != want {
			t.Errorf("%q became %q, want %q", in, ev.Peer.Collector, want)
		}
	}
}
