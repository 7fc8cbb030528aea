// Command likesd runs one likes node: it serves the binary protocol to
// clients, keeps every shard's likes in memory, and makes writes durable
// through each shard's Raft log before acknowledging them.
//
//	likesd [flags]
//
// With no flags it serves on 127.0.0.1:7070 (admin HTTP on 127.0.0.1:7071)
// with its data in ./likes-data. SIGINT or SIGTERM shuts it down gracefully:
// in-flight requests are answered, every shard is snapshotted, stores close.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/likes/likes/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "likesd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	d := server.DefaultConfig()
	fs := flag.NewFlagSet("likesd", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: likesd [flags]\n\nRuns a likes node. Flags:\n")
		fs.PrintDefaults()
	}
	cfg := d
	fs.StringVar(&cfg.DataDir, "data", d.DataDir, "data directory (slot table, Raft logs, snapshots); created if missing")
	fs.StringVar(&cfg.ListenAddr, "listen", d.ListenAddr, "client address (binary protocol)")
	fs.StringVar(&cfg.AdminAddr, "admin", d.AdminAddr, `admin HTTP address for /metrics, /healthz, /stats, /debug/pprof ("off" disables)`)
	fs.StringVar(&cfg.NodeID, "node-id", d.NodeID, "node id in Raft configurations")
	fs.IntVar(&cfg.Shards, "shards", d.Shards, "shards (Raft groups) to create on first start; later starts use the slot table on disk")
	fs.IntVar(&cfg.MaxConns, "max-conns", d.MaxConns, "client connections at most; more get OVERLOADED")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight", d.MaxInFlight, "requests in flight per connection before the server stops reading it")
	fs.IntVar(&cfg.MaxBatch, "max-batch", d.MaxBatch, "games per HAS_MANY/COUNT_MANY request at most")
	fs.IntVar(&cfg.MaxOpsPerEntry, "max-ops-per-entry", d.MaxOpsPerEntry, "writes per Raft log entry at most (group commit cap)")
	fs.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", d.SnapshotThreshold, "log entries between snapshots")
	fs.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", d.SnapshotInterval, "how often Raft checks whether to snapshot")
	fs.DurationVar(&cfg.ElectionTimeout, "election-timeout", d.ElectionTimeout, "Raft heartbeat/election timeout")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "time allowed to drain in-flight requests on shutdown")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", d.HandshakeTimeout, "time a new connection has to send HELLO before it is closed")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	jsonLogs := fs.Bool("log-json", false, "log as JSON instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if *jsonLogs {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	cfg.Logger = slog.New(h)
	slog.SetDefault(cfg.Logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := server.Start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop() // a second signal kills the process the default way
	cfg.Logger.Info("signal received, shutting down")
	return n.Shutdown(context.Background())
}
