//go:build amd64 || arm64

package view

// prefetch asks the processor to bring the cache line holding *p in,
// without waiting for it (PREFETCHT0, PRFM PLDL1KEEP).
//
//go:noescape
func prefetch(p *uint32)

// prefetchAll is prefetch of every address in addrs, in one call: an
// assembly function is not inlined, and a call per address cost as much
// as the prefetch bought in the trie's batched lookups. The addresses are
// of off-heap memory (package offheap), which never moves.
//
//go:noescape
func prefetchAll(addrs []uintptr)
