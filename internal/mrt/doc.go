// Package mrt reads and writes MRT routing archives (RFC 6396, RFC 6397,
// RFC 8050): the RIB dumps and update files of RIPE RIS, RouteViews and of
// routers such as BIRD and GoBGP.
//
// Three layers, from the bytes up:
//
//   - Reader splits a stream into records (framing, resynchronisation after a
//     corrupt header), in constant memory.
//   - The decoders turn one record's body into its parts: PEER_INDEX_TABLE,
//     RIB entries, BGP4MP messages and state changes. The BGP messages
//     themselves, UPDATEs with their path attributes and NLRI, are decoded
//     by package wire (internal/bgp/wire).
//   - RouteReader turns a whole stream into bgp.Events, one route at a time,
//     with no heap allocation per route once its buffers have grown.
//
// Writer produces the same formats, for tests, the recorder and the
// scenario generator; it encodes the BGP messages with package wire.
//
// The events of a RouteReader can be printed as `bgpdump -m` does
// (AppendBgpdumpLine), as readable lines (AppendEventText) or as JSON Lines
// (AppendEventJSON), and counted (StatsCollector, WriteStatsText): the
// output of `blackout mrt dump` and `blackout mrt stats`.
//
// A *RecordError is not fatal: the stream goes on after it. Other packages
// tell it apart through its Skippable method rather than by its type.
//
// MRT is read by hand rather than with gobgp's pkg/packet/mrt because that
// package allocates per route and cannot read BGP4MP_ET or BGP4MP ADD-PATH
// records, both common in public archives.
package mrt
