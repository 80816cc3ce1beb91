package mrt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
)

// WriteBgpdump writes to w the `bgpdump -m` lines of every event of rr,
// the lines BgpdumpDumper.Next makes, in the input's order. With workers
// above 1, rr's goroutine only frames the records, in batches, and that
// many goroutines decode and format the batches. onErr is called for each
// error of the input, in order, after the lines before it went to w (w is
// flushed first). It returns the number of input errors, and a write
// error or ctx's error if one ended the writing. Afterwards rr's Stats,
// Summary and Undecoded count everything that was read.
func WriteBgpdump(ctx context.Context, w *bufio.Writer, rr *RouteReader, workers int, onErr func(error)) (int64, error) {
	if workers < 2 {
		return writeBgpdumpSerial(ctx, w, rr, onErr)
	}
	p := &pipeline{rr: rr, w: w, onErr: onErr,
		work:  make(chan *batch, workers),
		queue: make(chan *batch, 2*workers+2),
		free:  make(chan *batch, 3*workers+4),
		stop:  make(chan struct{}),
	}
	var wg sync.WaitGroup
	wrs := make([]*RouteReader, workers)
	for i := range wrs {
		wrs[i] = p.newWorker()
		wg.Add(1)
		go func(wr *RouteReader) {
			defer wg.Done()
			for b := range p.work {
				p.format(wr, b)
			}
		}(wrs[i])
	}
	written := make(chan error, 1)
	go func() { written <- p.write() }()
	ferr := p.frame(ctx)
	close(p.work)
	close(p.queue)
	werr := <-written
	wg.Wait()
	errs := p.errs
	rr.stats.Errors += p.errs
	for _, wr := range wrs {
		rr.stats.add(&wr.stats)
		errs += wr.stats.Errors
	}
	if werr != nil {
		return errs, werr
	}
	return errs, ferr
}

// writeBgpdumpSerial is WriteBgpdump on one goroutine.
func writeBgpdumpSerial(ctx context.Context, w *bufio.Writer, rr *RouteReader, onErr func(error)) (int64, error) {
	d := NewBgpdumpDumper(rr)
	var line []byte
	var errs int64
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			return errs, ctx.Err()
		}
		var err error
		line, err = d.Next(line[:0])
		if err == io.EOF {
			return errs, nil
		}
		if err != nil {
			errs++
			if err := w.Flush(); err != nil {
				return errs, err
			}
			onErr(err)
			continue
		}
		if _, err := w.Write(line); err != nil {
			return errs, err
		}
	}
}

// batchSize is the size of the batches of records handed to the workers
// (a variable for the tests).
var batchSize = 256 << 10

// batch is a run of records, framed, and what a worker made of it.
type batch struct {
	data []byte // the records, one after the other, headers giving their length
	off  int64  // the input offset of the first
	pit  []byte // the body of the PEER_INDEX_TABLE in force before the first
	err  error  // a framing error after the last record, or nil

	out  []byte     // the lines
	errs []batchErr // the errors among them
	done chan struct{}
}

// batchErr is an error to report after the first pos bytes of a batch's lines.
type batchErr struct {
	pos int
	err error
}

type pipeline struct {
	rr                *RouteReader
	w                 *bufio.Writer
	onErr             func(error)
	work, queue, free chan *batch
	stop              chan struct{} // closed by the writer when writing failed
	errs              int64         // framing errors
	pit               []byte        // the last PEER_INDEX_TABLE body that decoded
	lines             bytes.Reader  // the writer's reader of a batch's lines
}

func (p *pipeline) newBatch(off int64) *batch {
	var b *batch
	select {
	case b = <-p.free:
		b.data, b.out, b.errs, b.err = b.data[:0], b.out[:0], b.errs[:0], nil
	default:
		b = &batch{}
	}
	b.off, b.pit = off, p.pit
	b.done = make(chan struct{})
	return b
}

// send hands b to the workers and to the writer; false when writing failed.
func (p *pipeline) send(b *batch) bool {
	select {
	case p.queue <- b:
	case <-p.stop:
		return false
	}
	select {
	case p.work <- b:
	case <-p.stop:
		close(b.done) // the writer waits for it
		return false
	}
	return true
}

// frame reads the records of the input in batches.
func (p *pipeline) frame(ctx context.Context) error {
	rd := p.rr.rd
	var rec Record
	b := p.newBatch(rd.Offset())
	var pi PeerIndex
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := rd.Offset()
		err := rd.Next(&rec)
		if err == io.EOF {
			p.send(b)
			return nil
		}
		if err != nil {
			p.errs++
			b.err = err
			if !p.send(b) {
				return nil
			}
			b = p.newBatch(rd.Offset())
			continue
		}
		if len(b.data) == 0 {
			b.off = start
		}
		b.data = appendFramed(b.data, &rec)
		if rec.Type == TypeTableDumpV2 && rec.Subtype == PeerIndexTable && DecodePeerIndex(rec.Body, &pi) == nil {
			p.pit = append([]byte(nil), rec.Body...)
		}
		if len(b.data) >= batchSize {
			if !p.send(b) {
				return nil
			}
			b = p.newBatch(rd.Offset())
		}
	}
}

// appendFramed appends record rec, its header giving its length.
func appendFramed(b []byte, rec *Record) []byte {
	n := len(rec.Body)
	if rec.Type.extendedTime() {
		n += 4
	}
	b = binary.BigEndian.AppendUint32(b, rec.Timestamp)
	b = binary.BigEndian.AppendUint16(b, uint16(rec.Type))
	b = binary.BigEndian.AppendUint16(b, rec.Subtype)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	if rec.Type.extendedTime() {
		b = binary.BigEndian.AppendUint32(b, rec.Microsecond)
	}
	return append(b, rec.Body...)
}

// newWorker returns a route reader like p.rr's, for framed records.
func (p *pipeline) newWorker() *RouteReader {
	wr := NewRouteReader(nil, p.rr.rd.name, p.rr.collector)
	wr.IncludeMulticast = p.rr.IncludeMulticast
	wr.lazyRIB, wr.tails = true, newTailCache()
	return wr
}

// format makes the lines of batch b with worker reader wr.
func (p *pipeline) format(wr *RouteReader, b *batch) {
	defer close(b.done)
	if len(b.pit) > 0 && (len(wr.lastPIT) == 0 || &wr.lastPIT[0] != &b.pit[0]) {
		wr.loadPeerIndex(b.pit) // it decoded before
		wr.lastPIT = b.pit
	}
	rd := wr.rd
	rd.framed, rd.off, rd.done = b.data, b.off, false
	wr.eof, wr.pending, wr.deferred = false, 0, nil
	if len(b.data) > 0 {
		for {
			ev, err := wr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.errs = append(b.errs, batchErr{len(b.out), err})
				continue
			}
			b.out = AppendBgpdumpLine(b.out, wr, ev)
		}
	}
	rd.framed = nil
	if b.err != nil {
		b.errs = append(b.errs, batchErr{len(b.out), b.err})
	}
}

// write writes the lines of the batches in order and reports their errors.
func (p *pipeline) write() error {
	var werr error
	for b := range p.queue {
		<-b.done
		if werr == nil {
			werr = p.writeBatch(b)
			if werr != nil {
				close(p.stop)
			}
		}
		select {
		case p.free <- b:
		default:
		}
	}
	return werr
}

func (p *pipeline) writeBatch(b *batch) error {
	pos := 0
	for _, e := range b.errs {
		if _, err := p.w.Write(b.out[pos:e.pos]); err != nil {
			return err
		}
		if err := p.w.Flush(); err != nil {
			return err
		}
		p.onErr(e.err)
		pos = e.pos
	}
	rest := b.out[pos:]
	if len(rest) < 64<<10 {
		_, err := p.w.Write(rest)
		return err
	}
	// Hand a large run of lines to the output directly, not through w's
	// buffer: bufio.Writer.ReadFrom does when its buffer is empty and the
	// output has a ReadFrom (a file: one write, no copy).
	if err := p.w.Flush(); err != nil {
		return err
	}
	p.lines.Reset(rest)
	_, err := p.w.ReadFrom(&p.lines)
	return err
}
