// Package offheap hands out large pointer-free arrays from memory mapped
// outside the Go heap, for the routing state that holds millions of
// routes: the view's per-peer tables and its AS-path trie.
//
// Why not the Go heap: the collector lets the heap grow to its live size
// times 1+GOGC/100 before it collects, and keeps freed spans for a while;
// with a few hundred megabytes of tables that never become garbage, that
// margin alone is tens of megabytes of RSS that hold nothing. Memory from
// an Arena is outside the collector's accounting: it is resident while it
// is used and returned to the system when it is freed (madvise), so RSS
// follows the routes held, and the heap goal covers only what really
// churns. Large arrays are also advised to use transparent huge pages,
// which the trie's random lookups benefit from (fewer TLB misses). The
// standard library and the usual modules have no such allocator (the
// experimental arena package frees only all at once and is not meant for
// long-lived data), hence this small one.
//
// Only types without pointers may live here (the collector does not scan
// this memory); Make checks. An Arena is safe for concurrent use. Memory
// is freed with Free, or all at once with Release, or when the Arena
// itself is collected (a cleanup unmaps it): a slice from an arena is
// valid while the arena is reachable, so whatever holds the slices must
// hold the arena too.
package offheap

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	// regionSize is the size of the regions small blocks are carved from.
	regionSize = 4 << 20
	// bigSize: blocks of at least this size get a mapping of their own,
	// returned to the system on Free.
	bigSize = 1 << 20
	// hugePage is the size of a transparent huge page on the platforms
	// that have them.
	hugePage = 2 << 20
	// hugeAfter: regions past this many are advised to use huge pages.
	hugeAfter = 4
)

// Arena is a set of off-heap blocks. The zero value is ready to use;
// use it through a pointer (the cleanup that frees its memory when it is
// collected is registered on that pointer).
type Arena struct {
	mu sync.Mutex
	b  *blocks // nil until the first block
}

// blocks is what an arena maps: kept apart from the Arena so that the
// cleanup, which holds it, does not keep the Arena reachable.
type blocks struct {
	regions [][]byte         // mapped regions small blocks are carved from
	tail    []byte           // unused rest of the newest region
	free    map[int][][]byte // freed small blocks by size (contents discarded)
	big     map[*byte][]byte // big blocks by their first byte
	inUse   int64            // bytes handed out and not freed
	mapped  int64            // bytes mapped (regions and big blocks)
}

// Every arena's bytes in use and mapped, for InUse and Mapped.
var totalInUse, totalMapped atomic.Int64

// InUse returns the bytes that every arena of the process has handed out
// and not freed: what the off-heap state holds (runtime/metrics does not
// count it; add it to the live heap).
func InUse() int64 { return totalInUse.Load() }

// Mapped returns the bytes every arena of the process has mapped.
func Mapped() int64 { return totalMapped.Load() }

// account adds to b's counters and the process's.
func (b *blocks) account(inUse, mapped int64) {
	b.inUse += inUse
	b.mapped += mapped
	totalInUse.Add(inUse)
	totalMapped.Add(mapped)
}

// Stats reports the bytes handed out and not freed, and the bytes mapped
// (what the arena could hold resident at most).
func (a *Arena) Stats() (inUse, mapped int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.b == nil {
		return 0, 0
	}
	return a.b.inUse, a.b.mapped
}

// Make returns a zeroed slice of n values of T in a. It panics if T holds
// pointers (a programming error: the collector would not see them).
func Make[T any](a *Arena, n int) []T {
	if n == 0 {
		return nil
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	if size == 0 {
		return make([]T, n)
	}
	checkNoPointers(reflect.TypeFor[T]())
	b := a.alloc(n * size)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// Free returns s, which Make of the same arena returned, to a. Nothing may
// use s after.
func Free[T any](a *Arena, s []T) {
	if cap(s) == 0 {
		return
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	if size == 0 {
		return
	}
	s = s[:cap(s)]
	a.release(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*size))
}

// Release frees everything of a at once; nothing from it may be used
// after. The arena is empty and usable again.
func (a *Arena) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.b != nil {
		a.b.release()
		a.b = nil
	}
}

// release unmaps everything of b.
func (b *blocks) release() {
	for _, r := range b.regions {
		unmap(r)
	}
	for _, m := range b.big {
		unmap(m)
	}
	b.regions, b.tail, b.free, b.big = nil, nil, nil, nil
	b.account(-b.inUse, -b.mapped)
}

func (a *Arena) alloc(n int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.b == nil {
		a.b = &blocks{}
		runtime.AddCleanup(a, func(b *blocks) { b.release() }, a.b)
	}
	return a.b.alloc(n)
}

func (a *blocks) alloc(n int) []byte {
	if n >= bigSize {
		b := mapAligned(n, true)
		if a.big == nil {
			a.big = map[*byte][]byte{}
		}
		a.big[&b[0]] = b
		a.account(int64(n), int64(len(b)))
		return b[:n:n]
	}
	// Small blocks round up to 64 bytes (a cache line), so that blocks of
	// one size are all aligned alike.
	n = (n + 63) &^ 63
	if fl := a.free[n]; len(fl) > 0 {
		b := fl[len(fl)-1]
		a.free[n] = fl[:len(fl)-1]
		a.account(int64(n), 0)
		return b // discarded pages read as zeros
	}
	if len(a.tail) < n {
		// Huge pages once the arena is big: a small one would hold a
		// whole huge page resident for a few kilobytes.
		r := mapAligned(regionSize, len(a.regions) >= hugeAfter)
		a.regions = append(a.regions, r)
		a.account(0, int64(len(r)))
		a.tail = r
	}
	b := a.tail[:n:n]
	a.tail = a.tail[n:]
	a.account(int64(n), 0)
	return b
}

func (a *Arena) release(b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.b.release1(b)
}

func (a *blocks) release1(b []byte) {
	if big, ok := a.big[&b[0]]; ok {
		delete(a.big, &b[0])
		unmap(big)
		a.account(-int64(len(b)), -int64(len(big)))
		return
	}
	// The block as alloc handed it out: rounded up to 64 bytes.
	n := (len(b) + 63) &^ 63
	b = unsafe.Slice(&b[0], n)
	discard(b)
	if a.free == nil {
		a.free = map[int][][]byte{}
	}
	a.free[n] = append(a.free[n], b)
	a.account(-int64(n), 0)
}

// checkNoPointers panics if t holds pointers.
func checkNoPointers(t reflect.Type) {
	if hasPointers(t) {
		panic(fmt.Sprintf("offheap: %v holds pointers", t))
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
