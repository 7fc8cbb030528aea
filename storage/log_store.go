package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// DefaultLogOpenTimeout is LogStoreOptions.OpenTimeout when left zero.
const DefaultLogOpenTimeout = time.Second

// LogStoreOptions configures OpenLogStore. The zero value is valid and
// means the defaults.
//
// Not configurable on purpose:
//   - raft-boltdb's NoSync is always false: every StoreLogs call (one batch of
//     entries, see the package doc) and every stable-store write is fsynced
//     before it returns, as Raft requires for its votes and acknowledgements.
//   - raft-boltdb's MsgpackUseNewTimeFormat is always true: raft.Log.AppendedAt
//     is encoded with the standard msgpack timestamp extension. go-msgpack
//     v2.1+ decoders read both encodings; the old encoding only matters to
//     readers built with go-msgpack v1.1.5 or older, and this is a new
//     store with no such readers.
type LogStoreOptions struct {
	// OpenTimeout is how long OpenLogStore waits for the file lock held by
	// another process (bbolt uses flock). Zero means DefaultLogOpenTimeout.
	// Longer rides out a slow restart of a previous process; shorter reports
	// a second daemon on the same data directory sooner. Must not be negative.
	OpenTimeout time.Duration

	// FreelistType is bbolt's free page list: bbolt.FreelistMapType (the
	// default when empty) or bbolt.FreelistArrayType. A Raft log appends at
	// the tail and deletes at the head, which fragments free pages; the map
	// type stays fast under fragmentation, the array type finds the lowest
	// free page id and keeps the file slightly more compact.
	FreelistType bbolt.FreelistType

	// NoFreelistSync skips writing the free list at each commit. It makes
	// every commit write fewer pages, at the cost of rebuilding the free
	// list by scanning the whole file on open. Durability of log entries is
	// not affected. Default false.
	NoFreelistSync bool
}

func (o LogStoreOptions) withDefaults() LogStoreOptions {
	if o.OpenTimeout == 0 {
		o.OpenTimeout = DefaultLogOpenTimeout
	}
	if o.FreelistType == "" {
		o.FreelistType = bbolt.FreelistMapType
	}
	return o
}

// Validate reports every problem of o (after defaults) at once; each wraps
// ErrInvalidOptions.
func (o LogStoreOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.OpenTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: OpenTimeout %v is negative", ErrInvalidOptions, o.OpenTimeout))
	}
	if o.FreelistType != bbolt.FreelistMapType && o.FreelistType != bbolt.FreelistArrayType {
		errs = append(errs, fmt.Errorf("%w: FreelistType %q is neither %q nor %q",
			ErrInvalidOptions, o.FreelistType, bbolt.FreelistMapType, bbolt.FreelistArrayType))
	}
	return errors.Join(errs...)
}

// LogStore is the Raft log and stable store of one shard: a bbolt file
// through raft-boltdb. It implements raft.LogStore and raft.StableStore and
// is safe for concurrent use. Wrap it in raft.NewLogCache to serve recent
// entries to followers from memory.
type LogStore struct {
	*raftboltdb.BoltStore
}

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

// OpenLogStore opens (or creates) the log store file at path, creating its
// parent directory if needed. A newly created file's directory entry is
// fsynced so that the file survives a crash.
func OpenLogStore(path string, opts LogStoreOptions) (*LogStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: create log store directory: %w", err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)

	bs, err := raftboltdb.New(raftboltdb.Options{
		Path: path,
		BoltOptions: &bbolt.Options{
			Timeout:        opts.OpenTimeout,
			FreelistType:   opts.FreelistType,
			NoFreelistSync: opts.NoFreelistSync,
		},
		NoSync:                  false,
		MsgpackUseNewTimeFormat: true,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open log store %s: %w", path, err)
	}
	if created {
		if err := syncDir(dir); err != nil {
			bs.Close()
			return nil, fmt.Errorf("storage: open log store %s: %w", path, err)
		}
	}
	return &LogStore{BoltStore: bs}, nil
}

// syncDir fsyncs a directory so that entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}
