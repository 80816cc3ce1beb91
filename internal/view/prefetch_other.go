//go:build !amd64 && !arm64

package view

// prefetch does nothing where there is no prefetch instruction written
// for the architecture.
func prefetch(*uint32) {}

// prefetchAll does nothing either.
func prefetchAll([]uintptr) {}
