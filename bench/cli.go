package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"
)

// UsageError is a mistake in the bench command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usage is the bench command's usage text.
const Usage = `Usage: likesctl bench [flags]
       likesctl bench --summarize results.json...

Runs the same workload against likes and/or Redis: preload, warm-up, a
measured run, then a read-back of sampled games checked against what was
written. Prints a Markdown table; with --out DIR also writes results.json,
results.md and results.png there. Exits non-zero if a check failed or any
request failed. The targets must not hold likes for the games used (start
them empty, or pass --game-offset).

--summarize prints one table comparing likes with Redis over earlier
results.json files: the median of the runs with the same label and Redis
variant, and the ratios likes/Redis of those medians; then every run.

Flags:
`

// Main runs the bench command line (args after "bench").
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("likesctl bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), Usage)
		fs.PrintDefaults()
	}
	d := DefaultOptions()
	var o Options
	target := fs.String("target", "both", "what to benchmark: likes, redis or both (likes first)")
	likesAddr := fs.String("likes-addr", "127.0.0.1:7070", "likes node address(es), comma-separated")
	likesAdmin := fs.String("likes-admin", "", "likes admin HTTP address; if set, the node collects garbage before each memory reading")
	redisAddr := fs.String("redis-addr", "127.0.0.1:6379", "Redis address")
	likesStyle := fs.String("likes-pipelining", "goroutines", "how likes keeps --depth requests outstanding per worker: goroutines (depth goroutines, one call each) or batches (one client.Batch of depth requests, as Redis's pipeline)")
	likesPID := fs.Int("likes-pid", 0, "likesd's process id, if on this machine: report the cores it used")
	redisPID := fs.Int("redis-pid", 0, "redis-server's process id, if on this machine: report the cores it used")
	redisVariant := fs.String("redis-variant", "", `label of the Redis configuration in reports, e.g. "appendfsync always"`)
	label := fs.String("label", "", "label of this run in reports, e.g. read-heavy")
	out := fs.String("out", "", "directory for results.json, results.md and results.png")
	noProgress := fs.Bool("no-progress", false, "no progress bar (it is off anyway when stderr is not a terminal)")
	summarize := fs.Bool("summarize", false, "print one comparison table from the results.json files given as arguments")
	verbose := fs.Bool("v", false, "log progress (slog, to stderr)")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file (to see what the bench costs)")
	mix := fs.String("mix", "read-heavy", "op mix preset: read-heavy (90 has, 5 count, 2.5 like, 2.5 unlike), read-heavy-many (the same with has_many for has), read-only (95 has, 5 count) or write-only (60 like, 40 unlike); the percent flags override it")

	fs.Uint64Var(&o.Seed, "seed", d.Seed, "workload seed (same seed, same requests)")
	fs.IntVar(&o.Games, "games", d.Games, "distinct games")
	fs.Float64Var(&o.ZipfExponent, "zipf", d.ZipfExponent, "Zipf exponent of game popularity (> 0)")
	fs.Uint64Var(&o.UserSpace, "users", d.UserSpace, "user ids are uniform in [0, users)")
	has := fs.Float64("has", 0, "percent of HAS (default from --mix)")
	hasMany := fs.Float64("has-many", 0, "percent of HAS_MANY (default from --mix)")
	count := fs.Float64("count", 0, "percent of COUNT (default from --mix)")
	like := fs.Float64("like", 0, "percent of LIKE (default from --mix)")
	unlike := fs.Float64("unlike", 0, "percent of UNLIKE (default from --mix)")
	fs.Float64Var(&o.HitRatio, "hit-ratio", d.HitRatio, "fraction of reads aimed at preloaded likes (negative: none)")
	fs.IntVar(&o.Concurrency, "concurrency", d.Concurrency, "workers (C)")
	fs.IntVar(&o.Depth, "depth", d.Depth, "requests outstanding per worker (D): likes D goroutines per worker, Redis a D-command pipeline")
	fs.IntVar(&o.Conns, "conns", 0, "connections to each target (default min(concurrency, 64))")
	fs.IntVar(&o.LikesConns, "likes-conns", 0, "connections to likes alone, e.g. 2 as client.DefaultOptions (default --conns)")
	fs.IntVar(&o.BatchSize, "batch", d.BatchSize, "games per HAS_MANY")
	fs.DurationVar(&o.Duration, "duration", d.Duration, "measured run")
	fs.DurationVar(&o.Warmup, "warmup", d.Warmup, "unmeasured warm-up before it (negative: none)")
	fs.IntVar(&o.Preload, "preload", d.Preload, "likes written before the run (negative: none)")
	fs.IntVar(&o.PreloadDepth, "preload-depth", d.PreloadDepth, "preload writes outstanding per worker")
	fs.IntVar(&o.SampleGames, "sample-games", d.SampleGames, "games read back by the correctness check")
	fs.Uint64Var(&o.GameOffset, "game-offset", 0, "added to every game id (to rerun against a non-empty target)")
	fs.DurationVar(&o.OpTimeout, "op-timeout", d.OpTimeout, "how long a request may still take after the run ends")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return &UsageError{err.Error()}
	}
	if *summarize {
		return summarizeFiles(stdout, fs.Args())
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	switch *mix {
	case "read-heavy":
		o.Mix = ReadHeavyMix
	case "read-heavy-many":
		o.Mix = ReadHeavyManyMix
	case "read-only":
		o.Mix = ReadOnlyMix
	case "write-only":
		o.Mix = WriteOnlyMix
	default:
		return &UsageError{fmt.Sprintf("--mix %q: want read-heavy, read-heavy-many, read-only or write-only", *mix)}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "has", "has-many", "count", "like", "unlike":
			o.Mix = Mix{Has: *has, HasMany: *hasMany, Count: *count, Like: *like, Unlike: *unlike}
		}
	})
	if err := o.Validate(); err != nil {
		return &UsageError{err.Error()}
	}
	var style Pipelining
	switch *likesStyle {
	case "goroutines":
		style = Goroutines
	case "batches":
		style = Batches
	default:
		return &UsageError{fmt.Sprintf("--likes-pipelining %q: want goroutines or batches", *likesStyle)}
	}
	var targets []string
	switch *target {
	case "likes", "redis":
		targets = []string{*target}
	case "both":
		targets = []string{"likes", "redis"}
	default:
		return &UsageError{fmt.Sprintf("--target %q: want likes, redis or both", *target)}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var progress Progress
	if f, ok := stderr.(*os.File); ok && !*noProgress && term.IsTerminal(int(f.Fd())) {
		progress = &BarProgress{W: stderr}
	}
	host, _ := os.Hostname()
	rep := &Report{Label: *label, Started: time.Now().UTC(), Options: o.withDefaults(),
		Host: Host{Hostname: host, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}}
	for _, name := range targets {
		var t Target
		var addr string
		pid := *likesPID
		if name == "redis" {
			pid = *redisPID
		}
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		switch name {
		case "likes":
			addr = *likesAddr
			var lt *LikesTarget
			lt, err = DialLikes(dialCtx, rep.Options.LikesConns, logger, strings.Split(addr, ",")...)
			if err == nil {
				lt.AdminAddr = *likesAdmin
				lt.Style = style
				t = lt
			}
		case "redis":
			addr = *redisAddr
			t, err = DialRedis(dialCtx, addr, rep.Options.Conns)
		}
		cancel()
		if err != nil {
			return err
		}
		res, err := Run(ctx, o, t, Env{Logger: logger, Progress: progress, ServerPID: pid})
		t.Close()
		if err != nil {
			return err
		}
		res.Addr = addr
		switch {
		case name == "redis":
			res.Variant = *redisVariant
		case style == Batches:
			res.Variant = "client.Batch"
		}
		rep.Targets = append(rep.Targets, res)
	}
	rep.Markdown(stdout)
	if *out != "" {
		if err := rep.WriteFiles(*out); err != nil {
			return err
		}
	}
	return rep.Failed()
}

func summarizeFiles(w io.Writer, paths []string) error {
	if len(paths) == 0 {
		return &UsageError{"--summarize needs results.json files"}
	}
	var reps []*Report
	for _, p := range paths {
		r, err := ReadReport(p)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	Summarize(w, reps, true)
	return nil
}
