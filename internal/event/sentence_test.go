package event

import "testing"

func TestFirstSentence(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"AS131279 (Star Joint Venture Co. Ltd.): reachability went up and down. Its normal: 0.", "AS131279 (Star Joint Venture Co. Ltd.): reachability went up and down."},
		{"North Korea (KP) went dark: 100% of it. 4 prefixes became unreachable.", "North Korea (KP) went dark: 100% of it."},
		{"Reached through AS1 Example Co. Ltd. Then it fell.", "Reached through AS1 Example Co. Ltd. Then it fell."},
		{"One sentence only.", "One sentence only."},
		{"Lost 2.5 of 4 /24s. Back later.", "Lost 2.5 of 4 /24s."},
		{"no period at all", "no period at all"},
		{"  spread\nover  lines. Next.", "spread over lines."},
	} {
		if got := FirstSentence(tc.in); got != tc.want {
			t.Errorf("FirstSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
