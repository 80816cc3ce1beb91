package cluster

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bus"
)

// DefaultDeltaWindow is the deltas a view worker has in flight per
// partition (published, not yet acknowledged).
const DefaultDeltaWindow = 256

// deltaPublisher publishes one partition's deltas with up to window of
// them in flight. A delta whose publish fails is sent again (the message
// id makes that harmless) before the window moves on, so a delta can be
// missing from the stream, or stored after later ones, only among the
// last window deltas before the last one stored: the reader
// (deltaFollower.delta) puts such deltas back in order, and a worker
// taking the partition over sends its last window deltas again. A delta
// in parts is sent with nothing else in flight.
type deltaPublisher struct {
	ctx     context.Context
	js      jetstream.JetStream
	subj    string
	maxPart int
	window  int
	win     []sentDelta
	lastAck uint64 // the delta stream sequence of the last delta acknowledged
	resent  int
}

type sentDelta struct {
	mid string
	msg *nats.Msg
	fut jetstream.PubAckFuture
}

// publish publishes the delta b of route event seq.
func (q *deltaPublisher) publish(seq uint64, b []byte) error {
	if q.window <= 1 || len(b) > q.maxPart {
		if err := q.settle(0); err != nil {
			return err
		}
		last, err := publishDelta(q.ctx, q.js, q.subj, seq, b, q.maxPart)
		q.lastAck = max(q.lastAck, last)
		return err
	}
	if err := q.settle(q.window - 1); err != nil {
		return err
	}
	s := sentDelta{mid: q.subj + "-" + uitoa(seq), msg: partMsg(q.subj, seq, b, 0, 1)}
	fut, err := q.js.PublishMsgAsync(s.msg, jetstream.WithMsgID(s.mid))
	if err != nil {
		return q.resend(s) // not sent at all (the connection is down)
	}
	s.fut = fut
	q.win = append(q.win, s)
	return nil
}

// settle takes the acknowledgements of the oldest deltas in flight,
// waiting while more than max are, and then those already there. A
// failed one is sent again, synchronously.
func (q *deltaPublisher) settle(max int) error {
	for len(q.win) > 0 {
		s := q.win[0]
		var err error
		if len(q.win) > max {
			select {
			case a := <-s.fut.Ok():
				q.lastAck = a.Sequence
			case err = <-s.fut.Err():
			case <-q.ctx.Done():
				return q.ctx.Err()
			}
		} else {
			select {
			case a := <-s.fut.Ok():
				q.lastAck = a.Sequence
			case err = <-s.fut.Err():
			default:
				return nil
			}
		}
		if err != nil {
			if err := q.resend(s); err != nil {
				return err
			}
		}
		q.win = q.win[1:]
	}
	return nil
}

// resend publishes s synchronously until the bus takes it.
func (q *deltaPublisher) resend(s sentDelta) error {
	q.resent++
	return bus.Retry(q.ctx, "publish a delta", func(ctx context.Context) error {
		ack, err := q.js.PublishMsg(ctx, s.msg, jetstream.WithMsgID(s.mid))
		if err == nil {
			q.lastAck = max(q.lastAck, ack.Sequence)
		}
		return err
	})
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }
