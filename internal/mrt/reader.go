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
	name string
	br   *bufio.Reader
	off  int64  // offset of the next unread byte
	big  []byte // buffer for records larger than the read buffer
	done bool
	// pendingErr is an error to return before reading on.
	pendingErr error
	// framed, when not nil, is the input instead of br: records another
	// Reader already framed (WriteBgpdump), read without judging them.
	framed []byte
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
// ErrCorruptHeader, naming the stretch of bytes skipped; the next call
// resumes at the next plausible record. A record whose length runs into
// the records after it (the next header is corrupt, and records frame from
// a point inside its body) is cut there: Next returns it, then a
// *RecordError wrapping ErrCorruptHeader, then the records after it.
// Other read errors are returned wrapped with the input's name and offset;
// after them Next returns io.EOF.
//
// A header is corrupt when its length exceeds MaxRecordLen or is too short
// for the microsecond field of an _ET type, or when it is of a type or
// subtype not decoded and the records after it do not frame. (A record's
// time is not judged here: package source does, naming the record.)
// The resynchronisation looks, byte by byte, for a header of a decoded
// type followed by records that frame (chainLen headers with sane
// lengths, times within a day of each other, or the end of the input),
// whatever their time; so it finds at least every record that bgpdump,
// which trusts each length it reads, finds after a corrupt header.
func (r *Reader) Next(rec *Record) error {
	if err := r.pendingErr; err != nil {
		r.pendingErr = nil
		return err
	}
	if r.done {
		return io.EOF
	}
	if r.framed != nil {
		return r.nextFramed(rec)
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
	ts, typ, sub, length := parseHeader(hdr)
	if !saneHeader(typ, length) {
		return r.corrupt(typ, sub, length, "")
	}
	decoded := knownSubtype(typ, sub)
	if !decoded {
		// A type or subtype not decoded: a record (not decoded, counted)
		// only if the records after it frame (judged on what the next
		// 64 KiB hold), else a corrupt header.
		buf, err := r.br.Peek(lookahead)
		if !chain(buf, 0, err != nil, false) {
			return r.corrupt(typ, sub, length, "a type not decoded, and the records after it do not frame")
		}
	}
	total := HeaderLen + int(length)
	var body []byte
	if total <= readBufSize {
		want := total + HeaderLen // the record and the header after it
		if want > readBufSize {
			want = total
		}
		buf, err := r.br.Peek(want)
		if len(buf) < total {
			return r.truncated(rec, typ, sub, len(buf), total, err)
		}
		if decoded && len(buf) >= total+HeaderLen {
			if _, ntyp, _, nlen := parseHeader(buf[total:]); !saneHeader(ntyp, nlen) {
				if q := r.runsInto(ts, total); q > 0 {
					return r.cut(rec, ts, typ, sub, length, q)
				}
				// Re-peek: runsInto may have moved the buffer.
				buf, _ = r.br.Peek(total)
			}
		}
		body = buf[HeaderLen:total]
		r.br.Discard(total)
	} else {
		if buf, err := r.br.Peek(readBufSize); err != nil && len(buf) < total {
			return r.truncated(rec, typ, sub, len(buf), total, err)
		}
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
	r.deliver(rec, ts, typ, sub, body, total)
	return nil
}

// nextFramed reads the next record of r.framed.
func (r *Reader) nextFramed(rec *Record) error {
	b := r.framed
	if len(b) < HeaderLen {
		r.done = true
		return io.EOF
	}
	ts, typ, sub, length := parseHeader(b)
	total := HeaderLen + int(length)
	r.deliver(rec, ts, typ, sub, b[HeaderLen:total], total)
	r.framed = b[total:]
	return nil
}

// deliver hands out the record read at the current offset.
func (r *Reader) deliver(rec *Record, ts uint32, typ Type, sub uint16, body []byte, total int) {
	*rec = Record{Offset: r.off, Timestamp: ts, Type: typ, Subtype: sub, Body: body}
	r.off += int64(total)
	if typ.extendedTime() {
		rec.Microsecond = binary.BigEndian.Uint32(body)
		rec.Body = body[4:]
	}
}

// runsInto looks inside the record of total bytes at the current offset,
// whose next header is corrupt, for a point where records frame (a record
// whose length ran into the records after it); it returns that point's
// offset within the record, or 0.
func (r *Reader) runsInto(ts uint32, total int) int {
	buf, err := r.br.Peek(resyncWindow)
	if len(buf) < total {
		return 0
	}
	for q := HeaderLen + 1; q+HeaderLen <= total; q++ {
		if t, typ, sub, _ := parseHeader(buf[q:]); knownSubtype(typ, sub) && !farApart(t, ts) && chain(buf, q, err != nil, true) {
			return q
		}
	}
	return 0
}

// cut hands out the first q bytes of the record at the current offset as
// the record, and queues the error that says so.
func (r *Reader) cut(rec *Record, ts uint32, typ Type, sub uint16, length uint32, q int) error {
	buf, _ := r.br.Peek(q)
	start := r.off
	if typ.extendedTime() && q < HeaderLen+4 {
		r.br.Discard(q)
		r.off += int64(q)
		return &RecordError{Name: r.name, Offset: start, Type: typ, Subtype: sub,
			Err: fmt.Errorf("%w: length %d runs into a record at offset %d", ErrCorruptHeader, length, start+int64(q))}
	}
	r.deliver(rec, ts, typ, sub, buf[HeaderLen:q], q)
	r.br.Discard(q)
	r.pendingErr = &RecordError{Name: r.name, Offset: start, Type: typ, Subtype: sub,
		Err: fmt.Errorf("%w: length %d runs into a record at offset %d; read as a record of %d bytes", ErrCorruptHeader, length, start+int64(q), q-HeaderLen)}
	return nil
}

// corrupt skips a corrupt header and what follows it up to the next
// plausible record, and returns the error that names the stretch.
func (r *Reader) corrupt(typ Type, sub uint16, length uint32, why string) error {
	start := r.off
	skipped, ok := r.resync()
	r.Skipped += skipped
	if why != "" {
		why = ": " + why
	}
	msg := fmt.Errorf("%w (type %d, subtype %d, length %d%s); skipped %d bytes, to offset %d", ErrCorruptHeader, typ, sub, length, why, skipped, start+skipped)
	if !ok {
		r.done = true
		msg = fmt.Errorf("%w (type %d, subtype %d, length %d%s); no record found in the remaining %d bytes", ErrCorruptHeader, typ, sub, length, why, skipped)
	}
	return &RecordError{Name: r.name, Offset: start, Err: msg}
}

// truncated reports a record that runs past the end of the input. When
// records frame again inside what is left (its length was corrupt), it
// skips to them; otherwise the input ends there.
func (r *Reader) truncated(rec *Record, typ Type, sub uint16, have, want int, err error) error {
	if err != io.EOF {
		r.done = true
		return fmt.Errorf("%s: offset %d: %w", r.name, r.off, err)
	}
	start := r.off
	if skipped, ok := r.resync(); ok {
		r.Skipped += skipped
		return &RecordError{Name: r.name, Offset: start, Type: typ, Subtype: sub,
			Err: fmt.Errorf("%w: length %d runs past the end of the input (%d bytes left); skipped %d bytes, to offset %d", ErrCorruptHeader, want-HeaderLen, have, skipped, start+skipped)}
	}
	r.done = true
	return &RecordError{Name: r.name, Offset: start, Type: typ, Subtype: sub,
		Err: fmt.Errorf("truncated record (%d of %d bytes): %w", have, want, io.ErrUnexpectedEOF)}
}

// parseHeader reads an MRT common header.
func parseHeader(b []byte) (ts uint32, typ Type, sub uint16, length uint32) {
	return binary.BigEndian.Uint32(b), Type(binary.BigEndian.Uint16(b[4:])), binary.BigEndian.Uint16(b[6:]), binary.BigEndian.Uint32(b[8:])
}

// saneHeader reports whether a header of type typ and length could be
// right: a length within MaxRecordLen that holds the microsecond field of
// an _ET type.
func saneHeader(typ Type, length uint32) bool {
	return length <= MaxRecordLen && (!typ.extendedTime() || length >= 4)
}

// farApart reports whether two record times are more than a day apart.
func farApart(a, b uint32) bool {
	d := int64(a) - int64(b)
	return d < -86400 || d > 86400
}

// chainLen is how many headers in a row must frame for a candidate to be
// taken as a record.
const chainLen = 4

// resyncWindow is how far ahead the resynchronisation looks at a time;
// lookahead is the part of it kept for the next window, so that a
// candidate near its end is judged with the records after it.
const (
	resyncWindow = readBufSize / 2
	lookahead    = 64 << 10
)

// chain reports whether records frame from offset p of b, the input's
// bytes ahead (eof: up to its end): chainLen headers with sane lengths and
// times within a day of each other, or fewer that end exactly
// at the end of the input. Fewer that run beyond b (the input goes on) or
// end in a truncated last record do too if one of them is of a decoded
// type. With decoded, the first must be of a decoded type and subtype.
func chain(b []byte, p int, eof, decoded bool) bool {
	var prev uint32
	seen := false // a header of a decoded type and subtype
	for i := 0; i < chainLen; i++ {
		if p == len(b) && eof {
			return i > 0
		}
		if p+HeaderLen > len(b) {
			return i > 0 && seen && !eof
		}
		ts, typ, sub, length := parseHeader(b[p:])
		known := knownSubtype(typ, sub)
		if !saneHeader(typ, length) || (i == 0 && decoded && !known) || (i > 0 && farApart(ts, prev)) {
			return false
		}
		seen = seen || known
		prev = ts
		p += HeaderLen + int(length)
		if p > len(b) {
			// Beyond what is buffered, or a truncated last record.
			return seen && (!eof || i > 0)
		}
	}
	return true
}

// resync skips bytes until records frame again (see chain). It returns the
// bytes skipped and whether such a point was found.
func (r *Reader) resync() (int64, bool) {
	var skipped int64
	first := 1 // skip at least the first byte of the corrupt header
	for {
		buf, err := r.br.Peek(resyncWindow)
		eof := err != nil
		limit := len(buf) - HeaderLen + 1
		if !eof {
			limit = len(buf) - lookahead
		}
		for i := first; i < limit; i++ {
			if _, typ, sub, length := parseHeader(buf[i:]); !knownSubtype(typ, sub) || !saneHeader(typ, length) {
				continue
			}
			if chain(buf, i, eof, true) {
				r.br.Discard(i)
				r.off += int64(i)
				return skipped + int64(i), true
			}
		}
		step := max(limit, first)
		if eof {
			step = len(buf)
		}
		n, _ := r.br.Discard(step)
		skipped += int64(n)
		r.off += int64(n)
		if eof {
			return skipped, false
		}
		first = 0
	}
}
