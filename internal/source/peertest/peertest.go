// Package peertest starts real BGP speakers from Debian's packages (exabgp,
// gobgpd, BIRD) on loopback addresses for tests and the live harness, each
// in a temporary directory and its own process group, stopped when the test
// ends. A missing program skips the test, naming the package to install.
package peertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need skips t unless program is on PATH.
func Need(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s not found: install Debian package %s", program, debianPackage)
	}
	return p
}

// FreePort returns a TCP port that is free on 127.0.0.1 and on the other
// loopback addresses used by the tests (it asks the kernel for one).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port > 1024 {
			return port
		}
	}
	t.Fatal("no free port above 1024")
	return 0
}

// Proc is a started daemon.
type Proc struct {
	Name string
	Dir  string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Output returns what the daemon printed so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the daemon has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop kills the daemon's whole process group and waits for it.
func (p *Proc) Stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill kills the daemon's process group at once (a crash, for session
// reset tests).
func (p *Proc) Kill() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Start starts a daemon in its own process group; it is stopped when t ends.
func Start(t testing.TB, name, dir string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second // a grandchild that escaped the group may hold the pipe
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, Dir: dir, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.Output(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Exabgp is one exabgp speaker whose process script reads commands that the
// test hands it with Send.
type Exabgp struct {
	*Proc
	inbox string
	seq   int
}

// ExabgpConfig configures an exabgp speaker.
type ExabgpConfig struct {
	Local    string // its address (127.0.0.2 ...)
	Peer     string // the collector's address (127.0.0.1)
	Port     int    // the port it connects to (and listens on, at Local)
	LocalAS  uint32
	PeerAS   uint32
	AddPath  bool   // negotiate ADD-PATH send
	Families string // default "ipv4 unicast; ipv6 unicast;"
}

// StartExabgp starts exabgp as PEERS.md says: root, settings in the
// environment, a process script that stays alive. Commands given to Send
// are printed by the script; before printing each batch it appends the wall
// clock in nanoseconds to DIR/sent.log.
func StartExabgp(t testing.TB, cfg ExabgpConfig) *Exabgp {
	t.Helper()
	Need(t, "exabgp", "exabgp")
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
# Prints the command files dropped into the inbox, oldest first; the time
# just before printing a batch goes to sent.log (nanoseconds).
# exabgp starts it in a process group of its own: it leaves when exabgp
# does, and keeps no descriptor of the test's.
exec 2>>%q/script.err
cd %q
parent=$PPID
while kill -0 $parent 2>/dev/null; do
  for f in inbox/*.cmd; do
    [ -e "$f" ] || continue
    date +%%s%%N >> sent.log
    cat "$f"
    rm -f "$f"
  done
  sleep 0.02
done
`, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "announce.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	fams := cfg.Families
	if fams == "" {
		fams = "ipv4 unicast; ipv6 unicast;"
	}
	capab := ""
	if cfg.AddPath {
		capab = "capability { add-path send; }"
	}
	conf := fmt.Sprintf(`process announce { run /bin/sh %s; encoder text; }
neighbor %s {
    router-id %s; local-address %s;
    local-as %d; peer-as %d;
    hold-time 30;
    family { %s }
    %s
    api { processes [ announce ]; }
}
`, filepath.Join(dir, "announce.sh"), cfg.Peer, cfg.Local, cfg.Local, cfg.LocalAS, cfg.PeerAS, fams, capab)
	if err := os.WriteFile(filepath.Join(dir, "exabgp.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"exabgp.tcp.bind=" + cfg.Local, "exabgp.tcp.port=" + strconv.Itoa(cfg.Port),
		"exabgp.daemon.user=root", "exabgp.api.cli=false", "exabgp.api.ack=false",
		"exabgp.log.level=WARNING", "exabgp.daemon.drop=false",
	}
	p := Start(t, "exabgp "+cfg.Local, dir, env, "exabgp", filepath.Join(dir, "exabgp.conf"))
	return &Exabgp{Proc: p, inbox: inbox}
}

// Send hands the script a batch of commands (one per line).
func (e *Exabgp) Send(t testing.TB, lines []string) {
	t.Helper()
	e.seq++
	tmp := filepath.Join(e.Dir, fmt.Sprintf("batch-%08d.tmp", e.seq))
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.inbox, fmt.Sprintf("%08d.cmd", e.seq))); err != nil {
		t.Fatal(err)
	}
}

// SentTimes returns the wall-clock times the script logged before printing
// each batch, in order.
func (e *Exabgp) SentTimes() []time.Time {
	b, _ := os.ReadFile(filepath.Join(e.Dir, "sent.log"))
	var out []time.Time
	for _, l := range strings.Fields(string(b)) {
		ns, err := strconv.ParseInt(l, 10, 64)
		if err == nil {
			out = append(out, time.Unix(0, ns))
		}
	}
	return out
}

// Gobgpd is a running gobgpd with its API port.
type Gobgpd struct {
	*Proc
	API int
}

// StartGobgpd starts gobgpd with the TOML configuration toml, its API on
// 127.0.0.1:apiPort, pprof disabled.
func StartGobgpd(t testing.TB, toml string) *Gobgpd {
	t.Helper()
	Need(t, "gobgpd", "gobgpd")
	Need(t, "gobgp", "gobgpd")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gobgpd.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	api := FreePort(t)
	p := Start(t, "gobgpd", dir, nil, "gobgpd", "-f", filepath.Join(dir, "gobgpd.toml"),
		"--api-hosts", "127.0.0.1:"+strconv.Itoa(api), "--pprof-disable", "-l", "warn")
	g := &Gobgpd{Proc: p, API: api}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := g.CLI(context.Background(), "global"); err == nil {
			break
		}
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("gobgpd did not start:\n%s", p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return g
}

// CLI runs `gobgp -p API ARGS...` and returns its output.
func (g *Gobgpd) CLI(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	full := append([]string{"-u", "127.0.0.1", "-p", strconv.Itoa(g.API)}, args...)
	out, err := exec.CommandContext(ctx, "gobgp", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("gobgp %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// StartBird starts BIRD 2 in the foreground with configuration conf.
func StartBird(t testing.TB, conf string) *Proc {
	t.Helper()
	Need(t, "bird", "bird2")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return Start(t, "bird", dir, nil, "bird", "-c", filepath.Join(dir, "bird.conf"),
		"-s", filepath.Join(dir, "bird.ctl"), "-f")
}

// syncBuffer is a byte buffer safe for concurrent writes and reads,
// bounded to about its last 1 MiB.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	if len(s.b) > 1<<20 {
		s.b = append(s.b[:0], s.b[len(s.b)-1<<19:]...)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
