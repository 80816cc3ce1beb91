package detect

import (
	"fmt"
	"os"
	"reflect"
	"testing"
)

// TestMain checks, after every test of the package, that no track wrote
// into the shared cold part (zeroCold) that every track reads until it
// has its own: a write there would leak one entity's event into all.
func TestMain(m *testing.M) {
	code := m.Run()
	if !reflect.DeepEqual(zeroCold, trackCold{}) {
		fmt.Fprintf(os.Stderr, "zeroCold was written: %+v\n", zeroCold)
		code = 1
	}
	os.Exit(code)
}
