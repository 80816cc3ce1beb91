// Package detect finds outages, partial outages, instability, upstream
// changes and vantage-point events in the signals, and explains them.
//
// The baseline of each entity and family is the median of the last 24
// hourly values of its visible address space, each the median of that
// hour's bins (IODA's 24-hour moving median, made cheap enough to keep for
// every AS). While an event is open the bins are replaced by the baseline
// itself (in-painting, as IODA does), so an outage never becomes its own
// normal. Detection does not wait for a bin to close: every change of an
// entity's visible space is compared with its baseline at once, so an
// event's start and end are the moments, to the route event, when
// visibility crossed the thresholds.
//
// The detector reads the routing view only through the Evidence interface
// (prefixes, origins, last paths, withdrawal spread, family state), so it
// can be tested alone; the events it emits are package event's.
package detect
