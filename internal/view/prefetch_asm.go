//go:build amd64 || arm64

package view

// prefetch asks the processor to bring the cache line holding *p in,
// without waiting for it (PREFETCHT0, PRFM PLDL1KEEP).
//
//go:noescape
func prefetch(p *uint32)
