package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Checkpoints of view partitions: a view worker writes its partition's
// partview.Worker (partview.Worker.AppendCheckpoint) to the JetStream
// object store CheckpointBucket (which cuts it into chunks under NATS's
// payload limit) every CheckpointEvery route stream sequences, as
// "view.<partition>.<sequence>"; a worker taking the partition over, and
// a detector rebuilding one peer's table, start from the newest usable one
// and read only the stream after it.
const (
	CheckpointBucket = "blackout_checkpoints"
	// DefaultCheckpointEvery is the route stream sequences between two
	// checkpoints of a partition.
	DefaultCheckpointEvery = 500_000
	// DefaultCheckpointKeep is the checkpoints kept per partition.
	DefaultCheckpointKeep = 4
)

func checkpointName(p int, seq uint64) string { return fmt.Sprintf("view.%d.%020d", p, seq) }

func parseCheckpointName(name string) (p int, seq uint64, ok bool) {
	rest, ok := strings.CutPrefix(name, "view.")
	if !ok {
		return 0, 0, false
	}
	ps, ss, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps)
	seq, err2 := strconv.ParseUint(ss, 10, 64)
	return p, seq, err1 == nil && err2 == nil
}

// openCheckpoints returns the checkpoint bucket, created if needed.
func openCheckpoints(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.ObjectStore, error) {
	var obs jetstream.ObjectStore
	err := bus.Retry(ctx, "bucket "+CheckpointBucket, func(ctx context.Context) error {
		var err error
		obs, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: CheckpointBucket, Replicas: max(replicas, 1),
			Storage: jetstream.FileStorage, Description: "blackout view partitions' checkpoints"})
		return err
	})
	return obs, err
}

// listCheckpoints returns the sequences of partition p's checkpoints up
// to upTo (0: all), newest first.
func listCheckpoints(ctx context.Context, obs jetstream.ObjectStore, p int, upTo uint64) ([]uint64, error) {
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	var out []uint64
	for _, in := range infos {
		if q, seq, ok := parseCheckpointName(in.Name); ok && q == p && (upTo == 0 || seq <= upTo) {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// The checkpoint index: a key-value bucket with one key per partition,
// "view.<partition>", holding the route sequences of the partition's
// checkpoints (decimal, ascending, space separated), so that finding a
// partition's newest checkpoint is one read, not a listing of the
// object store. A listing reads the metadata of every object the
// bucket ever held: a deleted object leaves its delete marker there,
// one per checkpoint ever written (about 55,000 a day on 16 partitions
// at 20,000 route events a second with the default --checkpoint-every),
// and a detector lists once per peer table it rebuilds. The key
// IndexedKey says that every checkpoint of the object store is in the
// index (written by the first worker that indexed a bucket of an
// earlier version, after listing it once); without it, readers list.
// A view worker starting lists the bucket once more, to delete what a
// worker killed mid-way left out of the index (sweepCheckpoints).
const (
	CheckpointIndexBucket = "blackout_checkpoint_index"
	indexedKey            = "indexed"
)

func indexKey(p int) string { return "view." + strconv.Itoa(p) }

// openCheckpointIndex returns the checkpoint index, created if needed,
// with every checkpoint of obs in it.
func openCheckpointIndex(ctx context.Context, js jetstream.JetStream, obs jetstream.ObjectStore, replicas int) (jetstream.KeyValue, error) {
	idx, err := bus.EnsureKV(ctx, js, jetstream.KeyValueConfig{Bucket: CheckpointIndexBucket, Replicas: max(replicas, 1),
		Storage: jetstream.FileStorage, Description: "blackout view partitions' checkpoints, per partition"})
	if err != nil {
		return nil, err
	}
	if _, err := idx.Get(ctx, indexedKey); err == nil {
		sweepCheckpoints(ctx, obs, idx)
		return idx, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("checkpoint index: %w", err)
	}
	// A bucket of an earlier version, or a new one: index what it holds.
	infos, err := obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	byPart := map[int][]uint64{}
	for _, in := range infos {
		if p, seq, ok := parseCheckpointName(in.Name); ok {
			byPart[p] = append(byPart[p], seq)
		}
	}
	for p, seqs := range byPart {
		if err := updateIndex(ctx, idx, p, func(have []uint64) []uint64 { return append(have, seqs...) }); err != nil {
			return nil, err
		}
	}
	if _, err := idx.Put(ctx, indexedKey, []byte("1")); err != nil {
		return nil, fmt.Errorf("checkpoint index: %w", err)
	}
	return idx, nil
}

// sweepCheckpoints deletes the checkpoints a worker killed between the
// index's update and the deletes left behind: objects older than the
// oldest one their partition's index holds, and not in it. It lists the
// bucket once (when a view worker starts); a failure leaves them for the
// next start.
func sweepCheckpoints(ctx context.Context, obs jetstream.ObjectStore, idx jetstream.KeyValue) {
	infos, err := obs.List(ctx)
	if err != nil {
		return
	}
	held := map[int][]uint64{}
	for _, in := range infos {
		p, seq, ok := parseCheckpointName(in.Name)
		if !ok {
			continue
		}
		seqs, known := held[p]
		if !known {
			if e, err := idx.Get(ctx, indexKey(p)); err == nil {
				seqs, _ = parseIndex(e.Value())
			}
			held[p] = seqs
		}
		if len(seqs) > 0 && seq < seqs[0] {
			_ = obs.Delete(ctx, in.Name) // dropped from the index: not read again
		}
	}
}

// formatIndex and parseIndex are an index key's value.
func formatIndex(seqs []uint64) []byte {
	var b []byte
	for i, s := range seqs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, s, 10)
	}
	return b
}

func parseIndex(b []byte) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Fields(string(b)) {
		s, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checkpoint index: %q", b)
		}
		out = append(out, s)
	}
	return out, nil
}

// updateIndex sets partition p's checkpoints to what change makes of
// them (sorted, without repeats), with optimistic concurrency: a
// conflicting write makes it read them again.
func updateIndex(ctx context.Context, idx jetstream.KeyValue, p int, change func([]uint64) []uint64) error {
	key := indexKey(p)
	return bus.Retry(ctx, "checkpoint index "+key, func(ctx context.Context) error {
		var have []uint64
		var rev uint64
		e, err := idx.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			if have, err = parseIndex(e.Value()); err != nil {
				have = nil // rewritten whole
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		seqs := change(have)
		slices.Sort(seqs)
		seqs = slices.Compact(seqs)
		if rev == 0 {
			_, err = idx.Create(ctx, key, formatIndex(seqs))
		} else {
			_, err = idx.Update(ctx, key, formatIndex(seqs), rev)
		}
		return err
	})
}

// partitionCheckpoints returns the sequences of partition p's
// checkpoints up to upTo (0: all), newest first: from the index (nil:
// by listing the object store).
func partitionCheckpoints(ctx context.Context, obs jetstream.ObjectStore, idx jetstream.KeyValue, p int, upTo uint64) ([]uint64, error) {
	if idx == nil {
		return listCheckpoints(ctx, obs, p, upTo)
	}
	e, err := idx.Get(ctx, indexKey(p))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if _, err := idx.Get(ctx, indexedKey); errors.Is(err, jetstream.ErrKeyNotFound) {
			return listCheckpoints(ctx, obs, p, upTo) // not indexed yet
		} else if err != nil {
			return nil, fmt.Errorf("checkpoint index: %w", err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint index: %w", err)
	}
	all, err := parseIndex(e.Value())
	if err != nil {
		return listCheckpoints(ctx, obs, p, upTo)
	}
	var out []uint64
	for _, s := range slices.Backward(all) {
		if upTo == 0 || s <= upTo {
			out = append(out, s)
		}
	}
	return out, nil
}

// putCheckpoint writes partition p's checkpoint at seq and deletes its
// older ones beyond the newest keep. With an index (idx), the index
// takes the new checkpoint and drops the old ones first (a reader of a
// checkpoint not written yet, or deleted since, tries the next older
// one), then the object is written and the old ones deleted.
func putCheckpoint(ctx context.Context, obs jetstream.ObjectStore, idx jetstream.KeyValue, p int, seq uint64, data []byte, keep int) error {
	name := checkpointName(p, seq)
	keep = max(keep, 1)
	var drop []uint64
	if idx != nil {
		if err := updateIndex(ctx, idx, p, func(have []uint64) []uint64 {
			have = append(have, seq)
			slices.Sort(have)
			have = slices.Compact(have)
			drop = slices.Clone(have[:max(len(have)-keep, 0)])
			return have[len(drop):]
		}); err != nil {
			return err
		}
	}
	if err := bus.Retry(ctx, "checkpoint "+name, func(ctx context.Context) error {
		_, err := obs.PutBytes(ctx, name, data)
		return err
	}); err != nil {
		return err
	}
	if idx == nil {
		seqs, err := listCheckpoints(ctx, obs, p, 0)
		if err != nil {
			return err
		}
		drop = seqs[min(keep, len(seqs)):]
	}
	for _, old := range drop {
		if err := obs.Delete(ctx, checkpointName(p, old)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("checkpoint %s: %w", checkpointName(p, old), err)
		}
	}
	return nil
}

// loadCheckpoint returns partition p's newest checkpoint at or before
// upTo (0: any) that decodes (found through the index idx; nil: by
// listing the object store), keeping the peers keep says (nil: all), or
// nil when there is none. A checkpoint that does not decode, or holds
// another partition or sequence than its name, is given to refused (its
// error names the partition, the checkpoint and the byte offset), and the
// next older one is tried.
func loadCheckpoint(ctx context.Context, obs jetstream.ObjectStore, idx jetstream.KeyValue, p int, upTo uint64, cfg view.Config, keep func(bgp.Peer) bool, refused func(error)) (*partview.Checkpoint, error) {
	seqs, err := partitionCheckpoints(ctx, obs, idx, p, upTo)
	if err != nil {
		return nil, err
	}
	for _, seq := range seqs {
		name := checkpointName(p, seq)
		b, err := obs.GetBytes(ctx, name)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("view partition %d: checkpoint %s: %w", p, name, err)
		}
		ck, err := partview.DecodeCheckpoint(b, cfg, keep)
		if err == nil && (ck.Partition != p || ck.Seq != seq) {
			err = fmt.Errorf("holds partition %d at route event %d", ck.Partition, ck.Seq)
		}
		if err != nil {
			if refused != nil {
				refused(fmt.Errorf("view partition %d: checkpoint %s (%d bytes): %w", p, name, len(b), err))
			}
			continue
		}
		return ck, nil
	}
	return nil, nil
}
