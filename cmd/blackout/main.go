// Command blackout detects and explains Internet outages of countries and
// networks from global BGP routing data.
//
// This file holds only the subcommand table and the shared flag helpers;
// each subcommand lives in its own file and keeps its logic in internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/blackout-bgp/blackout/internal/cliflag"
)

// command is one subcommand of the binary.
type command struct {
	name    string // e.g. "mrt dump"
	summary string // one line for `blackout help`
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what a subcommand may touch of the outside world.
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// errUsage marks an error caused by wrong arguments (exit status 2).
var errUsage = errors.New("usage")

// exitError carries a specific exit status with an already printed message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var commands []command

// register adds a subcommand; called from init functions of the per-command files.
func register(c command) { commands = append(commands, c) }

// defaultGOGC is the collector's setting unless GOGC is set: the routing
// view's tables and paths are off the Go heap (internal/offheap), and the
// rest mostly lives as long as its entities, so a collection at every
// tenth of growth costs no measurable CPU and keeps the peak RSS near the
// live state (287 vs 303 MiB at GOGC=25, 200 k prefixes x 100 peers:
// 15.5 vs 16.4 bytes per route).
const defaultGOGC = 10

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit status.
func run(ctx context.Context, env *cmdEnv, args []string) int {
	if len(args) == 0 {
		printHelp(env.stderr, nil)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(env.stdout, args)
		return 0
	}
	// Longest match first: "mrt dump" before "mrt".
	sort.SliceStable(commands, func(i, j int) bool {
		return len(strings.Fields(commands[i].name)) > len(strings.Fields(commands[j].name))
	})
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) < len(words) || !slices.Equal(args[:len(words)], words) {
			continue
		}
		err := c.run(ctx, env, args[len(words):])
		return exitCode(env, c.name, err)
	}
	if sub := group(args[0]); sub != nil {
		// "blackout mrt": the group's subcommands.
		w, code := env.stderr, 2
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
			w, code = env.stdout, 0
		} else if len(args) > 1 {
			fmt.Fprintf(w, "blackout: unknown command %q\n", strings.Join(args, " "))
		}
		fmt.Fprintf(w, "Usage: blackout %s COMMAND [flags] [args]\n", args[0])
		listCommands(w, sub)
		return code
	}
	fmt.Fprintf(env.stderr, "blackout: unknown command %q; run 'blackout help' for the list\n", strings.Join(args, " "))
	return 2
}

// group returns the subcommands of a group name ("mrt"), nil if none.
func group(name string) []command {
	var sub []command
	for _, c := range commands {
		if strings.HasPrefix(c.name, name+" ") {
			sub = append(sub, c)
		}
	}
	return sub
}

func exitCode(env *cmdEnv, name string, err error) int {
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(env.stderr, "blackout %s: %v\n", name, err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

func printHelp(w io.Writer, args []string) {
	if len(args) > 1 {
		// "blackout help mrt dump" -> the subcommand's own -h.
		for _, c := range commands {
			if c.name == strings.Join(args[1:], " ") {
				_ = c.run(context.Background(), &cmdEnv{stdout: w, stderr: w}, []string{"-h"})
				return
			}
		}
		if sub := group(args[1]); sub != nil && len(args) == 2 {
			fmt.Fprintf(w, "Usage: blackout %s COMMAND [flags] [args]\n", args[1])
			listCommands(w, sub)
			return
		}
	}
	fmt.Fprintln(w, "blackout detects and explains Internet outages of countries and networks from BGP data.")
	fmt.Fprintln(w, "\nUsage: blackout COMMAND [flags] [args]")
	listCommands(w, commands)
}

// listCommands prints the commands cs, sorted, with their summaries.
func listCommands(w io.Writer, cs []command) {
	fmt.Fprintln(w, "\nCommands:")
	names := slices.Clone(cs)
	sort.Slice(names, func(i, j int) bool { return names[i].name < names[j].name })
	for _, c := range names {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'blackout COMMAND -h' for a command's flags.")
}

// newFlags returns a FlagSet that prints its usage to env.stderr.
func newFlags(env *cmdEnv, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("blackout "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: blackout %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments ("blackout mrt dump FILE -m") and returns the
// positional arguments. A lone "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	// The flag package's own messages (the error, then the whole usage)
	// are silenced: an error is one line, the usage is for -h.
	out, usage := fs.Output(), fs.Usage
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v (run 'blackout %s -h' for the flags)", errUsage, err, strings.TrimPrefix(fs.Name(), "blackout "))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// multiFlag is a repeatable string flag.
type multiFlag = cliflag.Strings
