package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func TestRaftLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := newRaftLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), 3)
	l.Info("entering follower state") // below warn: dropped
	l.Warn("heartbeat timeout reached, starting election", "last-leader-addr", raft.ServerAddress(""), "last-leader-id", raft.ServerID(""))
	l.Warn("heartbeat timeout reached, starting election", "last-leader-addr", raft.ServerAddress("n2/shard-3"), "last-leader-id", raft.ServerID("n2"))
	l.Error("failed to commit logs", "error", "disk full")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"level=INFO msg=\"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=\" shard=3",
		"level=WARN msg=\"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr=n2/shard-3 last-leader-id=n2\" shard=3",
		"level=ERROR msg=\"[ERROR] raft: failed to commit logs: error=\\\"disk full\\\"\" shard=3",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		// drop slog's time=... prefix
		got := lines[i][strings.Index(lines[i], "level="):]
		if got != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, got, w)
		}
	}
}
