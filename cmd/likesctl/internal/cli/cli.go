// Package cli implements likesctl's commands, separate from main so that
// tests run them in-process against a real node.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/likes/likes/bench"
	"github.com/likes/likes/client"
)

// ErrHelp is returned after --help printed the usage.
var ErrHelp = errors.New("help requested")

// UsageError is a mistake in the command line (exit status 2).
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

const usage = `Usage: likesctl [flags] COMMAND [ARGS]

Commands:
  like GAME USER      like GAME as USER (idempotent: liking twice counts once)
  unlike GAME USER    remove USER's like of GAME (idempotent)
  has GAME USER       has USER liked GAME?
  count GAME...       like counts of one or more games
  stats               node statistics
  ping                round-trip time to the node
  bench [FLAGS]       load test likes and/or Redis side by side ('likesctl bench --help')

GAME and USER are unsigned 64-bit integers.

Flags:
`

// Run runs one likesctl command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("likesctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	addrs := fs.String("addr", "127.0.0.1:7070", "node addresses, comma-separated")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	timeout := fs.Duration("timeout", 5*time.Second, "deadline for connecting and for the command")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		return &UsageError{err.Error()}
	}
	// Flags may also follow the command and its arguments ("likesctl ping
	// --json"): parse again after every positional argument.
	var pos []string
	for rest := fs.Args(); len(rest) > 0; rest = fs.Args() {
		// "-5" is a bad id (reported as such below), not a flag.
		for len(rest) > 0 && (isNumber(rest[0]) || !strings.HasPrefix(rest[0], "-") || rest[0] == "-") {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ErrHelp
			}
			return &UsageError{err.Error()}
		}
	}
	if len(pos) == 0 {
		return usagef("no command given")
	}
	if *timeout <= 0 {
		return usagef("--timeout %v: want a positive duration", *timeout)
	}
	cmd, rest := pos[0], pos[1:]
	run, ok := commands[cmd]
	if !ok {
		return usagef("unknown command %q", cmd)
	}
	// Check the arguments before dialling: bad input is not a node problem.
	ids, err := run.parse(rest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	opts := client.DefaultOptions()
	opts.Conns = 1
	// Connection events are for long-lived app servers; a one-shot command
	// reports its failure as its error and exit status.
	opts.Logger = slog.New(slog.DiscardHandler)
	c, err := client.DialOptions(ctx, opts, strings.Split(*addrs, ",")...)
	if err != nil {
		return fmt.Errorf("cannot reach likes node at %s: %w", *addrs, err)
	}
	defer c.Close()
	out, err := run.do(ctx, c, ids)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(out.json)
	}
	_, err = fmt.Fprintln(stdout, out.human)
	return err
}

type result struct {
	human string
	json  any
}

type command struct {
	parse func(args []string) ([]uint64, error)
	do    func(ctx context.Context, c *client.Client, ids []uint64) (result, error)
}

var commands = map[string]command{
	"like":   {parse: exactly("like", "GAME", "USER"), do: write(true)},
	"unlike": {parse: exactly("unlike", "GAME", "USER"), do: write(false)},
	"has": {parse: exactly("has", "GAME", "USER"), do: func(ctx context.Context, c *client.Client, ids []uint64) (result, error) {
		liked, err := c.HasLiked(ctx, ids[0], ids[1])
		if err != nil {
			return result{}, err
		}
		h := fmt.Sprintf("user %d has not liked game %d", ids[1], ids[0])
		if liked {
			h = fmt.Sprintf("user %d has liked game %d", ids[1], ids[0])
		}
		return result{h, map[string]any{"game": ids[0], "user": ids[1], "liked": liked}}, nil
	}},
	"count": {parse: atLeastOne("count", "GAME"), do: func(ctx context.Context, c *client.Client, ids []uint64) (result, error) {
		counts, err := c.CountMany(ctx, ids)
		if err != nil {
			return result{}, err
		}
		var b strings.Builder
		type row struct {
			Game  uint64 `json:"game"`
			Count uint64 `json:"count"`
		}
		rows := make([]row, len(ids))
		for i, g := range ids {
			rows[i] = row{g, counts[i]}
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "game %d: %d likes", g, counts[i])
		}
		return result{b.String(), rows}, nil
	}},
	"stats": {parse: exactly("stats"), do: func(ctx context.Context, c *client.Client, _ []uint64) (result, error) {
		raw, err := c.Stats(ctx)
		if err != nil {
			return result{}, err
		}
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			return result{}, fmt.Errorf("node sent unreadable stats: %w", err)
		}
		pretty, _ := json.MarshalIndent(v, "", "  ")
		return result{string(pretty), json.RawMessage(raw)}, nil
	}},
	"ping": {parse: exactly("ping"), do: func(ctx context.Context, c *client.Client, _ []uint64) (result, error) {
		start := time.Now()
		if err := c.Ping(ctx); err != nil {
			return result{}, err
		}
		rtt := time.Since(start)
		return result{fmt.Sprintf("pong in %v", rtt.Round(time.Microsecond)), map[string]any{"ok": true, "rtt_seconds": rtt.Seconds()}}, nil
	}},
}

func write(like bool) func(ctx context.Context, c *client.Client, ids []uint64) (result, error) {
	return func(ctx context.Context, c *client.Client, ids []uint64) (result, error) {
		op, verb := c.Unlike, "unliked"
		if like {
			op, verb = c.Like, "liked"
		}
		r, err := op(ctx, ids[0], ids[1])
		if err != nil {
			return result{}, err
		}
		h := fmt.Sprintf("user %d %s game %d; it has %d likes", ids[1], verb, ids[0], r.Count)
		if !r.Changed {
			h += " (no change)"
		}
		return result{h, map[string]any{"game": ids[0], "user": ids[1], "changed": r.Changed, "count": r.Count, "index": r.Index}}, nil
	}
}

func exactly(cmd string, names ...string) func([]string) ([]uint64, error) {
	return func(args []string) ([]uint64, error) {
		if len(args) != len(names) {
			return nil, usagef("%s takes %d arguments (%s), got %d", cmd, len(names), strings.Join(names, " "), len(args))
		}
		return parseIDs(names, args)
	}
}

func atLeastOne(cmd, name string) func([]string) ([]uint64, error) {
	return func(args []string) ([]uint64, error) {
		if len(args) == 0 {
			return nil, usagef("%s takes at least one %s", cmd, name)
		}
		names := make([]string, len(args))
		for i := range names {
			names[i] = name
		}
		return parseIDs(names, args)
	}
}

// isNumber reports whether a looks like a (possibly negative) integer.
func isNumber(a string) bool {
	a = strings.TrimPrefix(a, "-")
	if a == "" {
		return false
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseIDs(names, args []string) ([]uint64, error) {
	ids := make([]uint64, len(args))
	for i, a := range args {
		v, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, usagef("%s %q is not an unsigned 64-bit integer", names[i], a)
		}
		ids[i] = v
	}
	return ids, nil
}

// runBench runs the bench subcommand (its own flags, package bench),
// mapping its usage errors to ours.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := bench.Main(ctx, args, stdout, stderr)
	var u *bench.UsageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ErrHelp
	case errors.As(err, &u):
		return &UsageError{"bench: " + u.Error()}
	}
	return err
}
