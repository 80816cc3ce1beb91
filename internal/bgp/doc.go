// Package bgp holds the value types that flow down blackout's pipeline: AS
// numbers, AS paths, path attributes, vantage points (peers), peer session
// states and route events.
//
// The types are small values in the style of net/netip. Slices inside Attrs
// and Path may alias a decoder's reusable buffers: a consumer that keeps an
// event beyond the next call of its source must copy it with Clone.
package bgp
