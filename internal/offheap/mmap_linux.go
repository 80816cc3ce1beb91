package offheap

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapAligned maps n bytes of zeroed memory (rounded up to whole pages).
// With huge, a mapping of at least a huge page starts on a huge-page
// boundary and is advised to use huge pages.
func mapAligned(n int, huge bool) []byte {
	page := unix.Getpagesize()
	n = (n + page - 1) &^ (page - 1)
	if !huge || n < hugePage {
		return mmap(n)
	}
	b := mmap(n + hugePage)
	start := int((hugePage - uintptr(unsafe.Pointer(&b[0]))%hugePage) % hugePage)
	if start > 0 {
		unmap(b[:start])
	}
	if end := start + n; end < len(b) {
		unmap(b[end:])
	}
	b = b[start : start+n : start+n]
	// Advice only: a kernel without transparent huge pages refuses it,
	// and the memory works the same.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b
}

// mmap maps n bytes with MmapPtr (not unix.Mmap, which remembers every
// mapping for its Munmap and unmaps only whole ones: the aligned mappings
// here are trimmed).
func mmap(n int) []byte {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		// As the runtime does when the heap cannot grow.
		panic(fmt.Sprintf("offheap: mapping %d bytes: %v", n, err))
	}
	return unsafe.Slice((*byte)(p), n)
}

// unmap returns b's pages to the system.
func unmap(b []byte) {
	if len(b) == 0 {
		return
	}
	if err := unix.MunmapPtr(unsafe.Pointer(&b[0]), uintptr(len(b))); err != nil {
		panic(fmt.Sprintf("offheap: unmapping %d bytes: %v", len(b), err))
	}
}

// discard gives b's whole pages back to the system; they read as zeros
// after. The partial pages at either end are cleared.
func discard(b []byte) {
	page := uintptr(unix.Getpagesize())
	p := uintptr(unsafe.Pointer(&b[0]))
	lo := int((page - p%page) % page)
	hi := len(b) - int((p+uintptr(len(b)))%page)
	if lo >= hi {
		clear(b)
		return
	}
	clear(b[:lo])
	clear(b[hi:])
	if err := unix.Madvise(b[lo:hi], unix.MADV_DONTNEED); err != nil {
		clear(b[lo:hi])
	}
}
