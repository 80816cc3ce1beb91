package cluster

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/view"
)

// countingObs counts the listings of an object store.
type countingObs struct {
	jetstream.ObjectStore
	lists atomic.Int64
}

func (c *countingObs) List(ctx context.Context, opts ...jetstream.ListObjectsOpt) ([]*jetstream.ObjectInfo, error) {
	c.lists.Add(1)
	return c.ObjectStore.List(ctx, opts...)
}

// TestCheckpointIndex: checkpoints written before the index existed are
// indexed when a worker opens the index; then writing keeps the newest
// N per partition (--checkpoint-keep) in the index and in the object
// store, and finding a partition's newest checkpoint at or before a
// sequence lists nothing. Printed: a listing against an index read,
// with the delete markers of 1,000 checkpoints deleted in the bucket.
func TestCheckpointIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	js := jsOf(t, startBus(t, 1))
	raw, err := openCheckpoints(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	obs := &countingObs{ObjectStore: raw}
	data := func(p int, seq uint64) []byte {
		return partview.NewWorker(view.DefaultConfig()).AppendCheckpoint(nil, partview.CheckpointHeader{Partition: p, Seq: seq})
	}
	// An earlier version's checkpoints: partition 2 at 100, 200, 300.
	for _, seq := range []uint64{100, 200, 300} {
		if err := putCheckpoint(ctx, obs, nil, 2, seq, data(2, seq), 4); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := openCheckpointIndex(ctx, js, obs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := partitionCheckpoints(ctx, obs, idx, 2, 0); fmt.Sprint(got) != "[300 200 100]" {
		t.Fatalf("indexed %v", got)
	}
	const keep = 3
	for seq := uint64(400); seq <= 1000; seq += 100 {
		if err := putCheckpoint(ctx, obs, idx, 2, seq, data(2, seq), keep); err != nil {
			t.Fatal(err)
		}
	}
	if err := putCheckpoint(ctx, obs, idx, 5, 450, data(5, 450), keep); err != nil {
		t.Fatal(err)
	}
	listed, err := listCheckpoints(ctx, obs, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	indexed, _ := partitionCheckpoints(ctx, obs, idx, 2, 0)
	if fmt.Sprint(listed) != "[1000 900 800]" || fmt.Sprint(indexed) != fmt.Sprint(listed) {
		t.Fatalf("partition 2 holds %v, its index says %v; want the newest %d", listed, indexed, keep)
	}
	// A worker killed between the index's update and the deletes left
	// partition 2's checkpoint at 150 behind: the next worker's start
	// deletes it; one newer than the index holds (being written) stays.
	for _, seq := range []uint64{150, 1500} {
		if _, err := raw.PutBytes(ctx, checkpointName(2, seq), data(2, seq)); err != nil {
			t.Fatal(err)
		}
	}
	if idx, err = openCheckpointIndex(ctx, js, obs, 1); err != nil {
		t.Fatal(err)
	}
	if listed, _ = listCheckpoints(ctx, obs, 2, 0); fmt.Sprint(listed) != "[1500 1000 900 800]" {
		t.Fatalf("after a sweep, partition 2 holds %v", listed)
	}
	if err := raw.Delete(ctx, checkpointName(2, 1500)); err != nil {
		t.Fatal(err)
	}
	obs.lists.Store(0)
	for _, c := range []struct {
		p    int
		upTo uint64
		want uint64 // 0: none
	}{{2, 0, 1000}, {2, 950, 900}, {2, 800, 800}, {2, 799, 0}, {5, 1000, 450}, {7, 1000, 0}} {
		ck, err := loadCheckpoint(ctx, obs, idx, c.p, c.upTo, view.DefaultConfig(), nil, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		if got := uint64(0); ck != nil && ck.Seq != c.want || ck == nil && c.want != 0 {
			if ck != nil {
				got = ck.Seq
			}
			t.Errorf("partition %d up to %d: checkpoint %d, want %d", c.p, c.upTo, got, c.want)
		}
	}
	if n := obs.lists.Load(); n != 0 {
		t.Errorf("finding checkpoints through the index listed the bucket %d times", n)
	}

	// What a listing costs once the bucket has held many checkpoints.
	for seq := uint64(2000); seq < 3000; seq++ {
		if err := putCheckpoint(ctx, obs, idx, 9, seq, data(9, seq), 1); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	listed, err = listCheckpoints(ctx, obs, 9, 0)
	tl := time.Since(t0)
	t0 = time.Now()
	indexed, err2 := partitionCheckpoints(ctx, obs, idx, 9, 0)
	ti := time.Since(t0)
	if err != nil || err2 != nil || fmt.Sprint(listed) != "[2999]" || fmt.Sprint(indexed) != "[2999]" {
		t.Fatalf("partition 9: listed %v (%v), indexed %v (%v)", listed, err, indexed, err2)
	}
	t.Logf("1,000 checkpoints written and deleted: finding the newest by listing took %s, through the index %s", tl, ti)
}

// TestCheckpointKeepFlag: node --checkpoint-keep reaches the view role's
// configuration (4 without it).
func TestCheckpointKeepFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{[]string{"--role", "view"}, DefaultCheckpointKeep}, {[]string{"--role", "view", "--checkpoint-keep", "2"}, 2}} {
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		nf := RegisterNodeFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := nf.Config(nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CheckpointKeep != c.want {
			t.Errorf("%q: keep %d, want %d", c.args, cfg.CheckpointKeep, c.want)
		}
	}
}

// TestWarmStandbyFlag: node --warm-standby reaches the detect role's
// configuration (off without it).
func TestWarmStandbyFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{{[]string{"--role", "detect", "--store", "postgres://x@127.0.0.1:1/x"}, false},
		{[]string{"--role", "detect", "--store", "postgres://x@127.0.0.1:1/x", "--warm-standby"}, true}} {
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		nf := RegisterNodeFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := nf.Config(nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.WarmStandby != c.want {
			t.Errorf("%q: warm standby %v, want %v", c.args, cfg.WarmStandby, c.want)
		}
	}
}
