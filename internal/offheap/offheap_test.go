package offheap

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestMakeZeroedAndReused(t *testing.T) {
	var a Arena
	s := Make[uint32](&a, 4096)
	if len(s) != 4096 || cap(s) != 4096 {
		t.Fatalf("len %d cap %d, want 4096", len(s), cap(s))
	}
	for i, v := range s {
		if v != 0 {
			t.Fatalf("new block: s[%d] = %d, want 0", i, v)
		}
		s[i] = uint32(i) + 1
	}
	if in, mapped := a.Stats(); in != 4096*4 || mapped < in {
		t.Errorf("stats after one block: in use %d, mapped %d", in, mapped)
	}
	Free(&a, s)
	if in, _ := a.Stats(); in != 0 {
		t.Errorf("in use after Free: %d", in)
	}
	// The freed block comes back for the same size, cleared.
	r := Make[uint32](&a, 4096)
	if &r[0] != &s[0] {
		t.Errorf("a freed block of the same size was not reused")
	}
	for i, v := range r {
		if v != 0 {
			t.Fatalf("reused block: r[%d] = %d, want 0", i, v)
		}
	}
	before := InUse()
	a.Release()
	if in, mapped := a.Stats(); in != 0 || mapped != 0 {
		t.Errorf("after Release: in use %d, mapped %d", in, mapped)
	}
	if d := before - InUse(); d != 4096*4 {
		t.Errorf("the process's off-heap bytes fell by %d on Release, want %d", d, 4096*4)
	}
}

func TestBigBlocksReturned(t *testing.T) {
	var a Arena
	type pair struct{ a, b uint64 }
	s := Make[pair](&a, 1<<20) // 16 MB: a mapping of its own
	s[len(s)-1] = pair{1, 2}
	_, mapped := a.Stats()
	if mapped < 16<<20 {
		t.Errorf("16 MB block: %d bytes mapped", mapped)
	}
	Free(&a, s)
	if in, m := a.Stats(); in != 0 || m != 0 {
		t.Errorf("after freeing the big block: in use %d, mapped %d, want 0 0", in, m)
	}
}

func TestSmallBlocksShareRegions(t *testing.T) {
	var a Arena
	var blocks [][]byte
	for range 1000 {
		b := Make[byte](&a, 1000) // rounded to 1024
		b[0], b[999] = 1, 2
		blocks = append(blocks, b)
	}
	in, mapped := a.Stats()
	if in != 1000*1024 || mapped != regionSize {
		t.Errorf("1000 blocks of 1000 bytes: in use %d, mapped %d, want %d in one region", in, mapped, 1000*1024)
	}
	for i, b := range blocks {
		for j, c := range blocks[i+1:] {
			if &b[0] == &c[0] {
				t.Fatalf("blocks %d and %d overlap", i, i+1+j)
			}
		}
	}
}

func TestPointersRefused(t *testing.T) {
	var a Arena
	for name, f := range map[string]func(){
		"pointer": func() { Make[*int](&a, 1) },
		"slice":   func() { Make[[]int](&a, 1) },
		"string":  func() { Make[string](&a, 1) },
		"in a struct": func() {
			Make[struct {
				n int
				p *int
			}](&a, 1)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Make did not refuse a type with pointers", name)
				}
			}()
			f()
		}()
	}
	// Arrays and structs of plain values are fine.
	Make[struct {
		a [3]uint16
		b float64
	}](&a, 10)
}

func TestConcurrentUse(t *testing.T) {
	var a Arena
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s := Make[uint64](&a, 512+g)
				s[0] = uint64(i)
				if i%2 == 0 {
					Free(&a, s)
				}
			}
		}()
	}
	wg.Wait()
	var want int64
	for g := range 4 {
		want += 100 * int64(((512+g)*8+63)&^63) // the blocks kept, rounded to 64 bytes
	}
	if in, _ := a.Stats(); in != want {
		t.Errorf("in use after concurrent blocks: %d, want %d", in, want)
	}
}

// TestReleasedWhenUnreachable checks that an arena's memory is unmapped
// once the arena is collected.
func TestReleasedWhenUnreachable(t *testing.T) {
	before := Mapped()
	a := &Arena{}
	s := Make[uint32](a, 1<<20) // 4 MB: a mapping of its own
	s[0] = 1
	if Mapped() < before+4<<20 {
		t.Fatalf("mapped %d after a 4 MB block, was %d", Mapped(), before)
	}
	a, s = nil, nil
	for range 200 {
		runtime.GC()
		if Mapped() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the arena was collected but %d bytes are still mapped (%d before it)", Mapped(), before)
}
