package compress

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// Small valid bzip2 streams made by the bzip2 command.
var bzip2Seeds = []string{
	"425a683931415926535954a49784000002d180001040040644908020003100302068620049d4b21f3f17724538509054a49784", // "hello, world\n"
	"425a683917724538509000000000", // empty
	"425a6831314159265359b0da615b000005c008c00000008008200030cc089a4a5003c5dc914e14242c369856c0", // 3000 zeros
	"425a68393141592653598b9daea500003181003800200030cc0529a622e22c45e2ee48a70a121173b5d4a0",     // "abc" * 100
}

func seedBytes(tb testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzBzip2 checks NewBzip2Reader never panics and, whenever compress/bzip2
// decodes the input, gives the same output, also when blocks are cut at
// false magics. Run with go test -fuzz FuzzBzip2 ./internal/compress/.
func FuzzBzip2(f *testing.F) {
	for _, s := range bzip2Seeds {
		b := seedBytes(f, s)
		f.Add(b)
		f.Add(append(append([]byte{}, b...), b...)) // two streams
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ourBzip2(in, 2)
		want, stdErr := stdBzip2(in)
		if stdErr != nil {
			return
		}
		if err != nil {
			t.Fatalf("compress/bzip2 succeeded, ours failed: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output differs: got %d bytes, want %d", len(got), len(want))
		}
		// Same with extra cuts inside every block, as chance magics make.
		falseCuts = true
		got, err = ourBzip2(in, 2)
		falseCuts = false
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("with false cuts: got %d bytes, want %d: %v", len(got), len(want), err)
		}
	})
}

func TestBzip2Seeds(t *testing.T) {
	want := [][]byte{[]byte("hello, world\n"), nil, make([]byte, 3000), bytes.Repeat([]byte("abc"), 100)}
	for i, s := range bzip2Seeds {
		got, err := ourBzip2(seedBytes(t, s), 0)
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Errorf("seed %d: got %q, %v", i, got, err)
		}
	}
}
