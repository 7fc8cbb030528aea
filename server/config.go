package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/likes/likes/proto"
)

// Config configures a node. The zero value of a field means "use the
// default" (see DefaultConfig); Validate reports every problem at once.
type Config struct {
	// DataDir holds the node's state: the slot table, one Raft log per shard
	// and the snapshot database. It is created if missing.
	DataDir string

	// ListenAddr is the client (binary protocol) address. Default
	// 127.0.0.1:7070: loopback, so a node started with no flags is not
	// exposed before TLS and tokens exist.
	ListenAddr string

	// AdminAddr serves /metrics, /healthz and /debug/pprof over HTTP.
	// Default 127.0.0.1:7071; "off" disables it. pprof exposes internals,
	// so keep it on a private address.
	AdminAddr string

	// NodeID names this node in Raft configurations. Default "node-1".
	NodeID string

	// Shards is the number of shards (Raft groups) a fresh node creates.
	// Default 1. Each shard has its own Raft log file, and every log
	// commits (two fdatasyncs per bbolt commit) on its own: on one disk the
	// shards' commits contend for the same device flushes, and each carries
	// only its share of the writes. Measured here (docs/benchmarks.md),
	// 128 outstanding writes: 1 shard ~57k-67k writes/s, 2 shards ~55k,
	// 4 shards ~28k; 512 outstanding: 1 shard 104k-122k, 4 shards 83k-94k.
	// More shards give smaller snapshots each, and are the unit a cluster
	// spreads leadership over (one disk per node then serves only the
	// shards it leads or follows). Read only on first start: afterwards the
	// slot table on disk decides.
	Shards int

	// MaxConns bounds client connections. Each costs two goroutines and its
	// buffers (~64 KiB); past the bound new connections get OVERLOADED.
	MaxConns int

	// MaxInFlight bounds requests per connection whose responses are not yet
	// written. When it is reached the server stops reading that connection
	// (TCP back-pressure), so a client that never reads cannot grow the
	// server's memory. Higher values let one connection pipeline deeper.
	MaxInFlight int

	// MaxBatch bounds the games in one HAS_MANY or COUNT_MANY (at most
	// proto.MaxBatch). Bigger pages amortise more per frame but hold the
	// reader longer.
	MaxBatch int

	// MaxOpsPerEntry caps the writes gathered into one Raft log entry (group
	// commit). Larger entries amortise Raft's per-entry cost further but grow
	// the worst-case latency of the writes queued behind a full entry.
	MaxOpsPerEntry int

	// MaxQueuedWrites bounds writes waiting for the group committer of one
	// shard. When full, connections submitting to it block (back-pressure).
	MaxQueuedWrites int

	// MaxProposals bounds Raft entries proposed but not yet applied per
	// shard. While Raft is busy writing, new writes queue and later form
	// bigger entries; too low a bound starves the log's fsync batching.
	MaxProposals int

	// SnapshotThreshold is how many log entries trigger a snapshot, and
	// SnapshotInterval how often Raft checks. Frequent snapshots bound
	// restart replay time; each one serialises the whole shard.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot, so
	// a slightly lagging follower catches up from the log, not a snapshot.
	TrailingLogs uint64

	// ElectionTimeout is Raft's heartbeat and election timeout. On a single
	// node it is also how long a restart waits before the shard leads.
	ElectionTimeout time.Duration

	// ShutdownTimeout bounds the graceful drain of in-flight requests.
	ShutdownTimeout time.Duration

	// HandshakeTimeout is how long a new connection has to send HELLO
	// before it is closed. Short values free the slots of silent or stray
	// connections sooner (they count against MaxConns); too short a value
	// drops clients on slow, distant links.
	HandshakeTimeout time.Duration

	// Logger receives the node's logs; Raft's own logs go through it at
	// warn level. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults every zero field takes.
func DefaultConfig() Config {
	return Config{
		DataDir:           "./likes-data",
		ListenAddr:        "127.0.0.1:7070",
		AdminAddr:         "127.0.0.1:7071",
		NodeID:            "node-1",
		Shards:            1,
		MaxConns:          4096,
		MaxInFlight:       1024,
		MaxBatch:          proto.MaxBatch,
		MaxOpsPerEntry:    1024,
		MaxQueuedWrites:   8192,
		MaxProposals:      64,
		SnapshotThreshold: 8192,
		SnapshotInterval:  30 * time.Second,
		TrailingLogs:      10240,
		ElectionTimeout:   500 * time.Millisecond,
		ShutdownTimeout:   10 * time.Second,
		HandshakeTimeout:  10 * time.Second,
		Logger:            slog.Default(),
	}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.DataDir = cmp.Or(c.DataDir, d.DataDir)
	c.ListenAddr = cmp.Or(c.ListenAddr, d.ListenAddr)
	c.AdminAddr = cmp.Or(c.AdminAddr, d.AdminAddr)
	c.NodeID = cmp.Or(c.NodeID, d.NodeID)
	c.Shards = cmp.Or(c.Shards, d.Shards)
	c.MaxConns = cmp.Or(c.MaxConns, d.MaxConns)
	c.MaxInFlight = cmp.Or(c.MaxInFlight, d.MaxInFlight)
	c.MaxBatch = cmp.Or(c.MaxBatch, d.MaxBatch)
	c.MaxOpsPerEntry = cmp.Or(c.MaxOpsPerEntry, d.MaxOpsPerEntry)
	c.MaxQueuedWrites = cmp.Or(c.MaxQueuedWrites, d.MaxQueuedWrites)
	c.MaxProposals = cmp.Or(c.MaxProposals, d.MaxProposals)
	c.SnapshotThreshold = cmp.Or(c.SnapshotThreshold, d.SnapshotThreshold)
	c.SnapshotInterval = cmp.Or(c.SnapshotInterval, d.SnapshotInterval)
	c.TrailingLogs = cmp.Or(c.TrailingLogs, d.TrailingLogs)
	c.ElectionTimeout = cmp.Or(c.ElectionTimeout, d.ElectionTimeout)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, d.ShutdownTimeout)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, d.HandshakeTimeout)
	c.Logger = cmp.Or(c.Logger, d.Logger)
	return c
}

// Validate reports every problem of c (after defaults) at once, each wrapping
// ErrBadConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	if c.Shards < 1 || c.Shards > 1024 {
		bad("shards %d: want 1..1024", c.Shards)
	}
	if c.MaxConns < 1 {
		bad("max conns %d: want > 0", c.MaxConns)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 1<<20 {
		bad("max in-flight %d: want 1..%d", c.MaxInFlight, 1<<20)
	}
	if c.MaxBatch < 1 || c.MaxBatch > proto.MaxBatch {
		bad("max batch %d: want 1..%d", c.MaxBatch, proto.MaxBatch)
	}
	if c.MaxOpsPerEntry < 1 || c.MaxOpsPerEntry > 65536 {
		bad("max ops per entry %d: want 1..65536", c.MaxOpsPerEntry)
	}
	if c.MaxQueuedWrites < 1 {
		bad("max queued writes %d: want > 0", c.MaxQueuedWrites)
	}
	if c.MaxProposals < 1 {
		bad("max proposals %d: want > 0", c.MaxProposals)
	}
	if c.SnapshotInterval < 0 || c.ElectionTimeout < 0 || c.ShutdownTimeout < 0 || c.HandshakeTimeout < 0 {
		bad("durations must not be negative")
	}
	if c.ElectionTimeout > 0 && c.ElectionTimeout < 10*time.Millisecond {
		bad("election timeout %v: want at least 10ms", c.ElectionTimeout)
	}
	return errors.Join(errs...)
}
