package mrt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// HeaderLen is the length of the MRT common header.
const HeaderLen = 12

// MaxRecordLen bounds the length a record may claim. Real RIB records exceed
// 64 KiB; none comes near this. A larger length marks a corrupt header.
const MaxRecordLen = 16 << 20

// readBufSize is the size of the read buffer; records that fit are handed
// out without copying.
const readBufSize = 1 << 20

// Record is one MRT record. Body aliases the Reader's buffer and is valid
// until the next call of Next.
type Record struct {
	Offset      int64  // byte offset of the record's header in the (decompressed) input
	Timestamp   uint32 // seconds since the Unix epoch
	Microsecond uint32 // the _ET microsecond field, 0 for other types
	Type        Type
	Subtype     uint16
	Body        []byte // the message, after the microsecond field of _ET types
}

// Time returns the record's timestamp.
func (r *Record) Time() time.Time {
	return time.Unix(int64(r.Timestamp), int64(r.Microsecond)*1000).UTC()
}

// Reader reads MRT records one at a time from a stream, in constant memory
// (the read buffer, plus the largest record seen when it exceeds the buffer).
type Reader struct {
	name   string
	br     *bufio.Reader
	off    int64  // offset of the next unread byte
	big    []byte // buffer for records larger than the read buffer
	lastTS uint32
	done   bool
	// Skipped counts bytes skipped while resynchronising after corrupt headers.
	Skipped int64
}

// NewReader returns a Reader of r. name identifies the input in errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, readBufSize)}
}

// Name returns the input's name as given to NewReader.
func (r *Reader) Name() string { return r.name }

// Offset returns the offset of the next unread byte.
func (r *Reader) Offset() int64 { return r.off }

// RecordError is an error in one record, or in the framing at one offset. It
// is not fatal: the Reader goes on with the next record.
type RecordError struct {
	Name    string // the input
	Offset  int64  // byte offset of the record's header
	Type    Type
	Subtype uint16
	Err     error
}

// Error names the input, the offset and, when known, the record type.
func (e *RecordError) Error() string {
	if e.Type == 0 {
		return fmt.Sprintf("%s: offset %d: %v", e.Name, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: record at offset %d (%s/%s): %v", e.Name, e.Offset, e.Type, SubtypeName(e.Type, e.Subtype), e.Err)
}

// Unwrap returns the error in the record.
func (e *RecordError) Unwrap() error { return e.Err }

// Skippable reports that a RecordError is not fatal: the stream goes on
// after it, with the next record. Other packages classify errors with it
// (errors.As into an interface{ Skippable() bool }) rather than by this
// concrete type.
func (e *RecordError) Skippable() bool { return true }

// ErrCorruptHeader is wrapped by the error reported for a record header that
// cannot be right (a length beyond MaxRecordLen, a truncated _ET field).
var ErrCorruptHeader = errors.New("corrupt record header")

// Next returns the next record. At the end of the input it returns io.EOF.
// A truncated last record yields a *RecordError wrapping io.ErrUnexpectedEOF
// and then io.EOF. A corrupt header yields a *RecordError wrapping
// ErrCorruptHeader; the next call resumes at the next plausible record.
// Other read errors are returned wrapped with the input's name and offset;
// after them Next returns io.EOF.
func (r *Reader) Next(rec *Record) error {
	if r.done {
		return io.EOF
	}
	hdr, err := r.br.Peek(HeaderLen)
	if err != nil {
		r.done = true
		if len(hdr) == 0 && (err == io.EOF) {
			return io.EOF
		}
		if err == io.EOF {
			return &RecordError{Name: r.name, Offset: r.off, Err: fmt.Errorf("truncated header (%d of %d bytes): %w", len(hdr), HeaderLen, io.ErrUnexpectedEOF)}
		}
		return fmt.Errorf("%s: offset %d: %w", r.name, r.off, err)
	}
	ts := binary.BigEndian.Uint32(hdr[0:])
	typ := Type(binary.BigEndian.Uint16(hdr[4:]))
	sub := binary.BigEndian.Uint16(hdr[6:])
	length := binary.BigEndian.Uint32(hdr[8:])
	if length > MaxRecordLen || (typ.extendedTime() && length < 4) {
		start := r.off
		skipped, ok := r.resync()
		r.Skipped += skipped
		msg := fmt.Errorf("%w (type %d, subtype %d, length %d); skipped %d bytes", ErrCorruptHeader, typ, sub, length, skipped)
		if !ok {
			r.done = true
			msg = fmt.Errorf("%w (type %d, subtype %d, length %d); no record found in the remaining %d bytes", ErrCorruptHeader, typ, sub, length, skipped)
		}
		return &RecordError{Name: r.name, Offset: start, Err: msg}
	}
	total := HeaderLen + int(length)
	var body []byte
	if total <= readBufSize {
		buf, err := r.br.Peek(total)
		if err != nil {
			return r.truncated(rec, typ, sub, len(buf), total, err)
		}
		body = buf[HeaderLen:]
		r.br.Discard(total)
	} else {
		if cap(r.big) < int(length) {
			r.big = make([]byte, length)
		}
		r.big = r.big[:length]
		r.br.Discard(HeaderLen)
		n, err := io.ReadFull(r.br, r.big)
		if err != nil {
			r.off += HeaderLen + int64(n)
			r.done = true
			return &RecordError{Name: r.name, Offset: r.off - HeaderLen - int64(n), Type: typ, Subtype: sub,
				Err: fmt.Errorf("truncated record (%d of %d bytes): %w", HeaderLen+n, total, io.ErrUnexpectedEOF)}
		}
		body = r.big
	}
	*rec = Record{Offset: r.off, Timestamp: ts, Type: typ, Subtype: sub, Body: body}
	r.off += int64(total)
	r.lastTS = ts
	if typ.extendedTime() {
		rec.Microsecond = binary.BigEndian.Uint32(body)
		rec.Body = body[4:]
	}
	return nil
}

func (r *Reader) truncated(rec *Record, typ Type, sub uint16, have, want int, err error) error {
	r.done = true
	if err != io.EOF && err != bufio.ErrBufferFull {
		return fmt.Errorf("%s: offset %d: %w", r.name, r.off, err)
	}
	return &RecordError{Name: r.name, Offset: r.off, Type: typ, Subtype: sub,
		Err: fmt.Errorf("truncated record (%d of %d bytes): %w", have, want, io.ErrUnexpectedEOF)}
}

// plausible reports whether b starts with a header that a real archive could
// hold next: a known type and subtype, a sane length, and a timestamp within
// a day of the last good record's.
func (r *Reader) plausible(b []byte) bool {
	if len(b) < HeaderLen {
		return false
	}
	ts := binary.BigEndian.Uint32(b[0:])
	typ := Type(binary.BigEndian.Uint16(b[4:]))
	sub := binary.BigEndian.Uint16(b[6:])
	length := binary.BigEndian.Uint32(b[8:])
	if !knownSubtype(typ, sub) || length > MaxRecordLen || length == 0 {
		return false
	}
	if r.lastTS != 0 {
		d := int64(ts) - int64(r.lastTS)
		if d < -86400 || d > 86400 {
			return false
		}
	}
	return true
}

// resync skips bytes until a plausible header that is followed by another
// plausible header or by the end of the input. It returns the bytes skipped
// and whether such a header was found.
func (r *Reader) resync() (int64, bool) {
	var skipped int64
	const window = readBufSize / 2
	for {
		buf, err := r.br.Peek(window)
		if len(buf) <= HeaderLen {
			n, _ := r.br.Discard(len(buf))
			skipped += int64(n)
			r.off += int64(n)
			return skipped, false
		}
		for i := 1; i+HeaderLen <= len(buf); i++ {
			if !r.plausible(buf[i:]) {
				continue
			}
			next := i + HeaderLen + int(binary.BigEndian.Uint32(buf[i+8:]))
			switch {
			case next+HeaderLen <= len(buf):
				if !r.plausible(buf[next:]) {
					continue
				}
			case next == len(buf) && err != nil:
				// The candidate ends exactly at the end of the input.
			case err != nil:
				continue // it would run past the end of the input
			default:
				// Its follower lies beyond the window: accept on one header.
			}
			r.br.Discard(i)
			r.off += int64(i)
			return skipped + int64(i), true
		}
		step := len(buf) - HeaderLen
		if err != nil {
			step = len(buf)
		}
		n, _ := r.br.Discard(step)
		skipped += int64(n)
		r.off += int64(n)
		if err != nil {
			return skipped, false
		}
	}
}
