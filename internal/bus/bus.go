// Package bus is blackout's message bus: an embedded NATS JetStream server
// (github.com/nats-io/nats-server/v2), run by `blackout bus`, three of
// which form a replicated cluster, and the client helpers the cluster
// roles use to reach it (an existing NATS deployment works the same). The
// bus carries the route events from the ingest role to the detect role in
// one replicated stream, and the detector's lease in a key-value bucket.
package bus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure one bus node.
type Options struct {
	Name          string   // server name, unique in the cluster (default "bus-" + the client port)
	Listen        string   // HOST:PORT for clients (port 0 picks one)
	ClusterListen string   // HOST:PORT for the other nodes ("" for a node alone)
	Routes        []string // nats://HOST:PORT of the other nodes' cluster ports
	Dir           string   // JetStream's storage directory
	ClusterName   string   // default "blackout"
	// Logf, if set, receives the server's notices, warnings and errors.
	Logf func(format string, args ...any)
}

// Node is a running bus node.
type Node struct {
	s    *server.Server
	opts Options
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q", p)
	}
	if n == 0 {
		n = -1 // nats-server: -1 picks a free port
	}
	return h, n, nil
}

// ParseRoutes parses a comma-separated list of nats://HOST:PORT URLs.
func ParseRoutes(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "nats-route") || u.Port() == "" {
			return nil, fmt.Errorf("route %q: want nats://HOST:PORT", r)
		}
		out = append(out, r)
	}
	return out, nil
}

// RegisterFlags registers the flags of `blackout bus` on fs and returns
// the function that, after fs.Parse, returns the options they set.
func RegisterFlags(fs *flag.FlagSet) func() (Options, error) {
	var o Options
	var routes string
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "`HOST:PORT` for clients (the roles' --bus)")
	fs.StringVar(&o.ClusterListen, "cluster-listen", "", "`HOST:PORT` for the other bus nodes (none: a node alone)")
	fs.StringVar(&routes, "routes", "", "the other nodes' cluster addresses, `nats://HOST:PORT,...`")
	fs.StringVar(&o.Dir, "dir", "./blackout-bus", "storage `DIR` of the streams")
	fs.StringVar(&o.Name, "name", "", "node `NAME`, unique in the cluster (default from --listen)")
	return func() (Options, error) {
		var err error
		if o.Routes, err = ParseRoutes(routes); err != nil {
			return o, fmt.Errorf("--routes: %w", err)
		}
		return o, nil
	}
}

// logger passes the server's log lines to Logf.
type logger struct{ f func(string, ...any) }

func (l logger) Noticef(format string, v ...any) { l.f(format, v...) }
func (l logger) Warnf(format string, v ...any)   { l.f("warning: "+format, v...) }
func (l logger) Fatalf(format string, v ...any)  { l.f("fatal: "+format, v...) }
func (l logger) Errorf(format string, v ...any)  { l.f("error: "+format, v...) }
func (l logger) Debugf(string, ...any)           {}
func (l logger) Tracef(string, ...any)           {}

// Start starts a node and waits until it accepts clients (not until the
// cluster has formed: the first stream creation waits for that, see
// EnsureStream).
func Start(o Options) (*Node, error) {
	if o.Dir == "" {
		return nil, errors.New("bus: no storage directory")
	}
	if o.ClusterName == "" {
		o.ClusterName = "blackout"
	}
	host, port, err := hostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("bus: listen %q: %w", o.Listen, err)
	}
	so := &server.Options{ServerName: o.Name, Host: host, Port: port, JetStream: true, StoreDir: o.Dir,
		NoSigs: true, NoLog: o.Logf == nil, MaxPayload: 1 << 20}
	if so.ServerName == "" {
		so.ServerName = "bus-" + strings.ReplaceAll(o.Listen, ":", "-")
	}
	if o.ClusterListen != "" {
		ch, cp, err := hostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("bus: cluster listen %q: %w", o.ClusterListen, err)
		}
		so.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: ch, Port: cp}
		so.Routes = server.RoutesFromStr(strings.Join(o.Routes, ","))
	} else if len(o.Routes) > 0 {
		return nil, errors.New("bus: routes without a cluster listen address")
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", so.ServerName, err)
	}
	if o.Logf != nil {
		s.SetLogger(logger{o.Logf}, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("bus %s: not ready after 30s (is %s free?)", so.ServerName, o.Listen)
	}
	return &Node{s: s, opts: o}, nil
}

// ClientURL returns the nats:// URL clients connect to.
func (n *Node) ClientURL() string { return n.s.ClientURL() }

// ClusterURL returns the nats:// URL of the node's cluster port ("" when
// it runs alone).
func (n *Node) ClusterURL() string {
	a := n.s.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Name returns the server name.
func (n *Node) Name() string { return n.s.Name() }

// Shutdown stops the node (its clients see it go, the others carry on).
func (n *Node) Shutdown() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

// Run runs a node until ctx is done.
func Run(ctx context.Context, o Options) error {
	n, err := Start(o)
	if err != nil {
		return err
	}
	if o.Logf != nil {
		cl := n.ClusterURL()
		if cl == "" {
			cl = "none (a node alone)"
		}
		o.Logf("bus node %s: clients on %s, cluster on %s, storage in %s", n.Name(), n.ClientURL(), cl, o.Dir)
	}
	<-ctx.Done()
	n.Shutdown()
	return nil
}

// Connect connects to the bus at one of urls (comma-separated lists are
// split too) and reconnects for ever when a node goes.
func Connect(urls []string, name string) (*nats.Conn, jetstream.JetStream, error) {
	var all []string
	for _, u := range urls {
		for _, p := range strings.Split(u, ",") {
			if p = strings.TrimSpace(p); p != "" {
				all = append(all, p)
			}
		}
	}
	if len(all) == 0 {
		return nil, nil, errors.New("bus: no URL")
	}
	nc, err := nats.Connect(strings.Join(all, ","), nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("bus %s: %w", strings.Join(all, ","), err)
	}
	// An asynchronous publish whose acknowledgement never comes (a node
	// gone) fails after 10 s instead of waiting for ever.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bus %s: %w", strings.Join(all, ","), err)
	}
	return nc, js, nil
}

// Retry calls fn with a short per-attempt timeout until it succeeds or
// ctx is done: the first JetStream requests of a new cluster block until a
// meta leader is elected, and requests during a failover fail for a few
// seconds.
func Retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	var last error
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: %s: %w (last error: %v)", what, ctx.Err(), last)
		case <-time.After(wait):
		}
	}
}

// EnsureStream creates the stream or updates its configuration.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	var st jetstream.Stream
	err := Retry(ctx, "stream "+cfg.Name, func(ctx context.Context) error {
		var err error
		st, err = js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	return st, err
}

// EnsureKV creates the key-value bucket or updates its configuration.
func EnsureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := Retry(ctx, "bucket "+cfg.Bucket, func(ctx context.Context) error {
		var err error
		kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	return kv, err
}

// FreeAddrs returns n free 127.0.0.1:PORT addresses (for tests and local
// clusters; a port can be taken between this call and its use).
func FreeAddrs(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// StartLocal starts an n-node cluster on 127.0.0.1 with storage under dir
// (one node alone for n = 1): for tests and demos on one machine.
func StartLocal(dir string, n int) ([]*Node, error) {
	addrs, err := FreeAddrs(2 * n)
	if err != nil {
		return nil, err
	}
	var nodes []*Node
	for i := range n {
		o := Options{Name: fmt.Sprintf("bus%d", i+1), Listen: addrs[i], Dir: fmt.Sprintf("%s/bus%d", dir, i+1)}
		if n > 1 {
			o.ClusterListen = addrs[n+i]
			for j := range n {
				if j != i {
					o.Routes = append(o.Routes, "nats://"+addrs[n+j])
				}
			}
		}
		nd, err := Start(o)
		if err != nil {
			for _, x := range nodes {
				x.Shutdown()
			}
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	return nodes, nil
}

// URLs returns the client URLs of nodes.
func URLs(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.ClientURL())
	}
	return out
}
