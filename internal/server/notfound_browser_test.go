package server

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNotFoundPageBrowser loads an unknown path and a directory in
// headless chromium: the styled 404 page, with the dashboard's stylesheet
// applied and a way home, and no script error.
func TestNotFoundPageBrowser(t *testing.T) {
	srv, _ := demoServer(t)
	ctx, problems := browser(t)
	for _, p := range []string{"/no/such/page", "/vendor/"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+p)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		waitJS(t, ctx, "the 404 page", `document.querySelector('h1') && document.querySelector('h1').textContent === 'Page not found'`)
		// The header of the dashboard's stylesheet: dark, sticky.
		if bg := evalJS[string](t, ctx, `getComputedStyle(document.querySelector('header.top')).backgroundColor`); bg != "rgb(18, 26, 38)" {
			t.Errorf("%s: header background %q: app.css not applied", p, bg)
		}
		if href := evalJS[string](t, ctx, `document.querySelector('main a').getAttribute('href')`); href != "/" {
			t.Errorf("%s: first link %q, want /", p, href)
		}
		if txt := evalJS[string](t, ctx, `document.body.innerText`); strings.Contains(txt, "uPlot") {
			t.Errorf("%s: a listing: %s", p, txt)
		}
		screenshot(t, ctx, "notfound"+strings.ReplaceAll(p, "/", "-"))
	}
	for _, m := range problems() {
		if !strings.Contains(m, "404") {
			t.Errorf("console: %s", m)
		}
	}
}
