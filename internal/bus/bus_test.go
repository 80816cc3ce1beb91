package bus

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterFailover: three nodes in this process form a cluster; an R3
// stream keeps every message, in order, when its leader node goes down in
// the middle of the writes.
func TestClusterFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes, err := StartLocal(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Shutdown()
		}
	}()
	nc, js, err := Connect(URLs(nodes), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	st, err := EnsureStream(ctx, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			err := Retry(ctx, "publish", func(ctx context.Context) error {
				_, err := js.Publish(ctx, fmt.Sprintf("t.%d", i%4), []byte(strconv.Itoa(i)), jetstream.WithMsgID(strconv.Itoa(i)))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 300)
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream info %+v (%v)", info, err)
	}
	var rest []*Node
	for _, n := range nodes {
		if n.Name() == info.Cluster.Leader {
			start := time.Now()
			n.Shutdown()
			publish(300, 301)
			t.Logf("leader %s down; writes resumed after %s", n.Name(), time.Since(start).Round(time.Millisecond))
		} else {
			rest = append(rest, n)
		}
	}
	if len(rest) != 2 {
		t.Fatalf("leader %q not among the nodes", info.Cluster.Leader)
	}
	nodes = rest
	publish(301, 500)

	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		// Right after a failover a fetch can fail (no responders): the
		// reader retries, as the cluster's readers do.
		var m jetstream.Msg
		err := Retry(ctx, "next", func(context.Context) error {
			var err error
			m, err = c.Next(jetstream.FetchMaxWait(2 * time.Second))
			return err
		})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := string(m.Data()); got != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, got)
		}
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 500 {
		t.Errorf("stream holds %d messages (%v), want 500", info.State.Msgs, err)
	}
}

func TestParseRoutes(t *testing.T) {
	r, err := ParseRoutes("nats://127.0.0.1:6222, nats://127.0.0.1:6223,")
	if err != nil || len(r) != 2 {
		t.Errorf("%q %v", r, err)
	}
	for _, bad := range []string{"127.0.0.1:6222", "http://x:1", "nats://host"} {
		if _, err := ParseRoutes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Start(Options{Listen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}, Dir: t.TempDir()}); err == nil {
		t.Error("routes without a cluster address accepted")
	}
}
