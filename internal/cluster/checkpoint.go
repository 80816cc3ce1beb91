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

// putCheckpoint writes partition p's checkpoint at seq and deletes its
// older ones beyond the newest keep.
func putCheckpoint(ctx context.Context, obs jetstream.ObjectStore, p int, seq uint64, data []byte, keep int) error {
	name := checkpointName(p, seq)
	if err := bus.Retry(ctx, "checkpoint "+name, func(ctx context.Context) error {
		_, err := obs.PutBytes(ctx, name, data)
		return err
	}); err != nil {
		return err
	}
	seqs, err := listCheckpoints(ctx, obs, p, 0)
	if err != nil {
		return err
	}
	for _, old := range seqs[min(max(keep, 1), len(seqs)):] {
		if err := obs.Delete(ctx, checkpointName(p, old)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("checkpoint %s: %w", checkpointName(p, old), err)
		}
	}
	return nil
}

// loadCheckpoint returns partition p's newest checkpoint at or before
// upTo (0: any) that decodes, keeping the peers keep says (nil: all), or
// nil when there is none. A checkpoint that does not decode, or holds
// another partition or sequence than its name, is given to refused (its
// error names the partition, the checkpoint and the byte offset), and the
// next older one is tried.
func loadCheckpoint(ctx context.Context, obs jetstream.ObjectStore, p int, upTo uint64, cfg view.Config, keep func(bgp.Peer) bool, refused func(error)) (*partview.Checkpoint, error) {
	seqs, err := listCheckpoints(ctx, obs, p, upTo)
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
