package storage

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults and limits of SnapshotOptions.
const (
	// DefaultRetain is SnapshotOptions.Retain when left zero.
	DefaultRetain = 2
	// DefaultChunkSize is SnapshotOptions.ChunkSize when left zero.
	DefaultChunkSize = 1 << 20
	// MinChunkSize is the smallest chunk size; tiny chunks only make sense
	// in tests that want many chunks.
	MinChunkSize = 64
	// MaxChunkSize is the largest chunk size. Pebble writes a batch larger
	// than half the memtable as its own flushable batch; much larger values
	// also make every read allocate large buffers.
	MaxChunkSize = 64 << 20
	// MaxChunks is the most chunks one snapshot can have (the chunk number is
	// a u32); Write fails with ErrSnapshotTooLarge beyond it.
	MaxChunks = 1<<32 - 1
	// DefaultMemTableSize is SnapshotOptions.MemTableSize when left zero.
	DefaultMemTableSize = 64 << 20
	// MinMemTableSize is the smallest memtable size accepted.
	MinMemTableSize = 1 << 20
	// MaxMemTableSize is the largest memtable size accepted (Pebble's limit
	// is 4 GiB).
	MaxMemTableSize = 1 << 30
)

// SnapshotOptions configures OpenSnapshotDB. The zero value is valid and
// means the defaults.
type SnapshotOptions struct {
	// FS is the file system Pebble uses; nil means the operating system's
	// (vfs.Default). Tests pass vfs.NewMem or vfs.NewCrashableMem.
	FS vfs.FS

	// Retain is how many complete snapshots each shard keeps; older ones
	// are deleted after every successful snapshot. Zero means DefaultRetain.
	// 1 saves disk, but leaves no older snapshot to fall back to if the
	// newest is found corrupt; more costs one snapshot of disk each.
	Retain int

	// ChunkSize is the number of snapshot data bytes per Pebble value. Zero
	// means DefaultChunkSize. Larger chunks mean fewer keys and less
	// per-key overhead; smaller chunks mean less buffering per open sink or
	// reader (one chunk each) and finer-grained corruption detection.
	// Existing snapshots keep the chunk size they were written with.
	ChunkSize int

	// MemTableSize is Pebble's memtable size. Zero means
	// DefaultMemTableSize. Snapshots are written in bulk; a larger memtable
	// means fewer, larger flushes (higher write throughput) at the cost of
	// up to twice this much memory per node.
	MemTableSize uint64

	// Logger receives Pebble's log lines (Infof at Info, Errorf at Error,
	// Fatalf at Error before panicking). Nil discards them.
	Logger *slog.Logger
}

func (o SnapshotOptions) withDefaults() SnapshotOptions {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Retain == 0 {
		o.Retain = DefaultRetain
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports every problem of o (after defaults) at once; each wraps
// ErrInvalidOptions.
func (o SnapshotOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Retain < 1 {
		errs = append(errs, fmt.Errorf("%w: Retain %d is less than 1", ErrInvalidOptions, o.Retain))
	}
	if o.ChunkSize < MinChunkSize || o.ChunkSize > MaxChunkSize {
		errs = append(errs, fmt.Errorf("%w: ChunkSize %d is outside [%d, %d]",
			ErrInvalidOptions, o.ChunkSize, MinChunkSize, MaxChunkSize))
	}
	if o.MemTableSize < MinMemTableSize || o.MemTableSize > MaxMemTableSize {
		errs = append(errs, fmt.Errorf("%w: MemTableSize %d is outside [%d, %d]",
			ErrInvalidOptions, o.MemTableSize, MinMemTableSize, MaxMemTableSize))
	}
	return errors.Join(errs...)
}
