//go:build !linux

package offheap

import "sync"

// Elsewhere the blocks come from the Go heap: the same semantics, without
// the memory savings. keep holds them while handed out.
var keep sync.Map

func mapAligned(n int, _ bool) []byte {
	b := make([]byte, n)
	keep.Store(&b[0], b)
	return b
}

func unmap(b []byte) {
	if len(b) > 0 {
		keep.Delete(&b[0])
	}
}

func discard(b []byte) { clear(b) }
