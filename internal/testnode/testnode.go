// Package testnode starts real likes nodes for tests: on loopback ephemeral
// ports, in a test's temporary directory, shut down when the test ends.
package testnode

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/likes/likes/server"
)

// Config returns a node configuration for tests: ephemeral loopback ports,
// data in dir, quiet logs, a short election timeout so restarts are quick.
func Config(t testing.TB, dir string) server.Config {
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.Shards = 2
	cfg.ElectionTimeout = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg
}

// Start starts a node with cfg, waits until every shard is ready, and
// registers its shutdown with t.Cleanup (a no-op if the test shut it down).
func Start(t testing.TB, cfg server.Config) *server.Node {
	t.Helper()
	n, err := server.Start(cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("node never became ready: %v", err)
	}
	return n
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
