package rislive

import (
	"errors"
	"strings"
	"testing"
)

// TestServerErrorEscaped: a ris_error's text reaches logs with its
// terminal escapes and other unprintable characters escaped, and bounded.
func TestServerErrorEscaped(t *testing.T) {
	msg := `{"type":"ris_error","data":{"message":"bad \u001b[2J\u001b]0;pwned\u0007 filter\r\nx\u202e"}}`
	var d Decoder
	_, _, err := d.Decode(nil, []byte(msg))
	var se *ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *ServerError", err)
	}
	got := err.Error()
	want := `server error: bad \x1b[2J\x1b]0;pwned\a filter\r\nx\u202e`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, r := range got {
		if r < 0x20 || r == 0x7f || r == 0x202e {
			t.Errorf("unprintable %U left in %q", r, got)
		}
	}
	long := &ServerError{Message: strings.Repeat("é", 1000)}
	if s := long.Error(); len(s) > 600 || !strings.HasSuffix(s, "...") {
		t.Errorf("long message: %d bytes", len(s))
	}
}
