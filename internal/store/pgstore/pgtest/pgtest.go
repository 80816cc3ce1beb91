// Package pgtest starts a real PostgreSQL server for tests: initdb and
// pg_ctl (Debian's postgresql package) in a temporary directory, listening
// on 127.0.0.1 on a free port, run as user postgres when the test runs as
// root (PostgreSQL refuses to run as root). One server serves every test
// of a package; each test gets its own database.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL server.
type Server struct {
	Dir  string // the temporary directory (data, log, socket)
	Port int
	bin  string // the directory of initdb and pg_ctl
	as   string // run the server binaries as this user ("" for the current one)
	n    atomic.Int32
}

var (
	once    sync.Once
	shared  *Server
	initErr error
)

// binDir finds the directory of initdb and pg_ctl.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(r), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package postgresql")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.as != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", s.as, "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// Start starts a server in a new temporary directory.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no user postgres to run PostgreSQL as (install the Debian package postgresql): %w", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, errors.New("running as root, and runuser (util-linux) is missing")
		}
		s.as = "postgres"
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	// User postgres must be able to enter the directory's parent.
	parent := os.TempDir()
	if fi, err := os.Stat(parent); s.as != "" && (err != nil || fi.Mode().Perm()&0o001 == 0) {
		parent = "/tmp"
	}
	if s.Dir, err = os.MkdirTemp(parent, "blackout-pg-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.command(ctx, "initdb", "-D", filepath.Join(s.Dir, "db"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(s.Dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	// A port can be taken between the probe and the start: try a few.
	for try := 0; ; try++ {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", s.Port, s.Dir)
		out, err := s.command(ctx, "pg_ctl", "-D", filepath.Join(s.Dir, "db"), "-l", filepath.Join(s.Dir, "log"), "-w", "-t", "30", "start", "-o", opts).CombinedOutput()
		if err == nil {
			break
		}
		if try == 3 {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
			os.RemoveAll(s.Dir)
			return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
		}
	}
	return s, nil
}

// DSN returns the URL of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDB creates a new empty database and returns its URL.
func (s *Server) NewDB(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d", s.n.Add(1))
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// Stop stops the server fast and removes its directory.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.command(ctx, "pg_ctl", "-D", filepath.Join(s.Dir, "db"), "-m", "immediate", "-w", "stop").CombinedOutput()
	os.RemoveAll(s.Dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// DB returns the URL of a new database on the package's shared server,
// starting it on first use, or skips the test naming what is missing.
// Call Main from TestMain to stop the server at the end.
func DB(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, initErr = Start(ctx)
	})
	if initErr != nil {
		if os.Getenv("BLACKOUT_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL: %v", initErr)
		}
		t.Skipf("PostgreSQL not available: %v", initErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := shared.NewDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Main runs the tests and stops the shared server if one was started:
// func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return code
}
