// Package report renders what the pipeline found for people and programs:
// a readable report (with what was judged and what was not), one JSON
// object per event, and an SVG chart of an entity's visible address space
// with its baseline and events. The events come joined across families
// from the detector; report only renders them.
package report
