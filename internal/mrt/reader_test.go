package mrt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestRecordErrorSkippable checks that a record error, even wrapped, is
// told apart from a fatal one through the Skippable interface.
func TestRecordErrorSkippable(t *testing.T) {
	// A header claiming 100 bytes, followed by 10: a truncated record.
	data := append([]byte{0, 0, 0, 1, 0, 16, 0, 4, 0, 0, 0, 100}, make([]byte, 10)...)
	rd := NewReader(bytes.NewReader(data), "t")
	var rec Record
	err := rd.Next(&rec)
	if err == nil {
		t.Fatal("truncated record read")
	}
	var s interface{ Skippable() bool }
	if !errors.As(fmt.Errorf("wrapped: %w", err), &s) || !s.Skippable() {
		t.Errorf("%v (%T) is not skippable", err, err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%v does not wrap io.ErrUnexpectedEOF", err)
	}
	if errors.As(io.ErrUnexpectedEOF, &s) {
		t.Error("io.ErrUnexpectedEOF is skippable")
	}
}
