// Package wire decodes and encodes the BGP messages that carry routes: the
// UPDATE message (RFC 4271), its path attributes (AS_PATH and AS4_PATH with
// RFC 6793's merge, MP_REACH_NLRI and MP_UNREACH_NLRI of RFC 4760, the
// communities of RFC 1997 and RFC 8092, ...) and NLRI, with ADD-PATH path
// identifiers (RFC 7911).
//
// Each file holds one piece of the protocol, its decoder and its encoder
// side by side: update.go the message, attrs.go the attribute block,
// aspath.go AS_PATH, mpreach.go the multiprotocol attributes, nlri.go the
// prefixes.
//
// The decoders reuse their buffers: once grown, decoding an UPDATE
// allocates nothing, and the decoded values alias the decoder until its
// next call. The encoders append to a caller's buffer and allocate nothing
// once it has grown.
//
// The MRT archives (package mrt), BMP, RIS Live and the recorder all go
// through this package; it knows nothing of them.
package wire
