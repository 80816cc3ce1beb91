package source

import "testing"

func TestCollectorOf(t *testing.T) {
	for path, want := range map[string]string{
		"rrc00/2014.12/bview.20141222.0000.gz":               "rrc00",
		"/data/ris.rrc06.updates.1427846400.gz":              "rrc06",
		"route-views.linx/bgpdata/2014.12/RIBS/rib.bz2":      "route-views.linx",
		"routeviews.route-views.jinx.updates.1427846400.bz2": "route-views.jinx",
		"route-views2/bgpdata/2014.12/UPDATES/updates.bz2":   "route-views2",
		"mirror/route-views6/bgpdata/2015.11/RIBS/rib.bz2":   "route-views6",
		"bview.20141219.0000.gz":                             "",
	} {
		if got := CollectorOf(path); got != want {
			t.Errorf("CollectorOf(%q) = %q, want %q", path, got, want)
		}
	}
}
