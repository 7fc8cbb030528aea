package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SnapshotDB is the one Pebble database of a node that holds the snapshots
// of all its shards. It is safe for concurrent use.
type SnapshotDB struct {
	db   *pebble.DB
	opts SnapshotOptions

	mu struct {
		sync.Mutex
		closed bool
		// active holds the chunk prefixes of sinks still being written, so
		// that garbage collection leaves them alone.
		active map[string]struct{}
		// readers counts open snapshot readers.
		readers int
		// lastCreated is the creation time of the newest id handed out, so
		// that ids are strictly increasing even within one clock tick.
		lastCreated int64
	}
}

// OpenSnapshotDB opens (or creates) the snapshot database in dir and deletes
// the chunks of snapshots that never got their meta record (a crash while
// writing them).
func OpenSnapshotDB(dir string, opts SnapshotOptions) (*SnapshotDB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	pdb, err := pebble.Open(dir, &pebble.Options{
		FS: opts.FS,
		// Pinned so that a Pebble upgrade never ratchets the on-disk format
		// by itself; raise it deliberately.
		FormatMajorVersion: pebble.FormatValueSeparation,
		MemTableSize:       opts.MemTableSize,
		Logger:             pebbleLogger{opts.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open snapshot database %s: %w", dir, err)
	}
	db := &SnapshotDB{db: pdb, opts: opts}
	db.mu.active = make(map[string]struct{})
	if err := db.checkFormat(); err != nil {
		return nil, errors.Join(err, pdb.Close())
	}
	if err := db.collectGarbage([]byte{chunkKeyPrefix}); err != nil {
		return nil, errors.Join(err, pdb.Close())
	}
	return db, nil
}

// checkFormat writes the format key into a new database and checks it in an
// existing one.
func (db *SnapshotDB) checkFormat() error {
	key := []byte{formatKeyPrefix}
	v, closer, err := db.db.Get(key)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		val := binary.BigEndian.AppendUint32(nil, dbFormatVersion)
		if err := db.db.Set(key, val, pebble.Sync); err != nil {
			return fmt.Errorf("storage: write snapshot database format: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("storage: read snapshot database format: %w", err)
	}
	defer closer.Close()
	if len(v) != 4 || binary.BigEndian.Uint32(v) != dbFormatVersion {
		return fmt.Errorf("%w: snapshot database format %x, this build reads %d", ErrUnsupportedVersion, v, dbFormatVersion)
	}
	return nil
}

// Store returns the snapshot store of one shard. It can be called any
// number of times; all stores of a shard share state.
func (db *SnapshotDB) Store(shard uint32) *ShardSnapshotStore {
	return &ShardSnapshotStore{db: db, shard: shard}
}

// Close closes the database. It fails with ErrInUse, leaving the database
// open, while sinks or readers are open. Closing twice returns ErrClosed.
func (db *SnapshotDB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return ErrClosed
	}
	if n := len(db.mu.active) + db.mu.readers; n > 0 {
		return fmt.Errorf("%w: %d sinks, %d readers", ErrInUse, len(db.mu.active), db.mu.readers)
	}
	db.mu.closed = true
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("storage: close snapshot database: %w", err)
	}
	return nil
}

// checkOpen returns ErrClosed after Close.
func (db *SnapshotDB) checkOpen() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return ErrClosed
	}
	return nil
}

// beginSink registers a new sink of shard and returns its id.
func (db *SnapshotDB) beginSink(shard uint32, term, index uint64) (snapshotID, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return snapshotID{}, ErrClosed
	}
	created := max(time.Now().UnixNano(), db.mu.lastCreated+1)
	db.mu.lastCreated = created
	id := makeSnapshotID(term, index, created)
	db.mu.active[string(appendChunkPrefix(nil, shard, id))] = struct{}{}
	return id, nil
}

// endSink unregisters a sink.
func (db *SnapshotDB) endSink(shard uint32, id snapshotID) {
	db.mu.Lock()
	defer db.mu.Unlock()
	delete(db.mu.active, string(appendChunkPrefix(nil, shard, id)))
}

// beginReader registers a reader; it fails after Close.
func (db *SnapshotDB) beginReader() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return ErrClosed
	}
	db.mu.readers++
	return nil
}

func (db *SnapshotDB) endReader() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mu.readers--
}

func (db *SnapshotDB) isActive(chunkPrefix []byte) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, ok := db.mu.active[string(chunkPrefix)]
	return ok
}

// collectGarbage deletes the chunks under prefix (a prefix of chunk keys)
// whose snapshot has no meta record and no sink writing it. The deletion is
// not synced: if it is lost in a crash, the next run repeats it.
func (db *SnapshotDB) collectGarbage(prefix []byte) error {
	it, err := db.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("storage: collect snapshot garbage: %w", err)
	}
	b := db.db.NewBatch()
	defer b.Close()
	for valid := it.First(); valid; {
		key := it.Key()
		if len(key) != chunkKeyLen {
			return errors.Join(fmt.Errorf("%w: chunk key %x has length %d, want %d", ErrCorruptSnapshot, key, len(key), chunkKeyLen), it.Close())
		}
		start := bytes.Clone(key[:idKeyLen])
		end := prefixEnd(start)
		// Check for a running sink before the meta record: a sink commits
		// its meta record before it unregisters, so one of the two checks
		// sees it.
		if db.isActive(start) {
			valid = it.SeekGE(end)
			continue
		}
		metaKey := append([]byte{metaKeyPrefix}, start[1:]...)
		_, closer, err := db.db.Get(metaKey)
		switch {
		case err == nil:
			closer.Close()
		case errors.Is(err, pebble.ErrNotFound):
			if err := b.DeleteRange(start, end, nil); err != nil {
				return errors.Join(err, it.Close())
			}
		default:
			return errors.Join(fmt.Errorf("storage: collect snapshot garbage: %w", err), it.Close())
		}
		valid = it.SeekGE(end)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("storage: collect snapshot garbage: %w", err)
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("storage: collect snapshot garbage: %w", err)
	}
	return nil
}

// pebbleLogger routes Pebble's log lines to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf logs and panics: Pebble calls it on broken invariants and does not
// expect it to return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	panic("storage: pebble: " + msg)
}
