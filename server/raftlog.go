package server

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger returns an hclog.Logger for hashicorp/raft that drops
// everything below warn (raft is chatty at info: every election, every
// snapshot) and forwards the rest, one line per record, to l.
func newRaftLogger(l *slog.Logger, shard int) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      &slogWriter{l: l.With("shard", shard)},
		DisableTime: true,
	})
}

// slogWriter turns hclog's formatted lines into slog records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelWarn
	if bytes.Contains(p, []byte("[ERROR]")) {
		level = slog.LevelError
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}
