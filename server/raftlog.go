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

// firstElection is how Raft reports the election every node holds after it
// starts, before it has known any leader: expected, so logged at info. The
// same warning with a last leader named (a leader lost) stays a warning.
var firstElection = []byte("heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=")

func (w *slogWriter) Write(p []byte) (int, error) {
	trimmed := bytes.TrimSpace(p)
	line := string(trimmed)
	level := slog.LevelWarn
	switch {
	case bytes.Contains(p, []byte("[ERROR]")):
		level = slog.LevelError
	case bytes.HasSuffix(trimmed, firstElection):
		level = slog.LevelInfo
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}
