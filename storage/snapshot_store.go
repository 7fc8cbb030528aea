package storage

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// ShardSnapshotStore is the raft.SnapshotStore of one shard, backed by the
// node's SnapshotDB. It is safe for concurrent use; raft creates snapshots
// from its snapshot goroutine and installs snapshots from its main
// goroutine, possibly at the same time.
type ShardSnapshotStore struct {
	db    *SnapshotDB
	shard uint32
}

var _ raft.SnapshotStore = (*ShardSnapshotStore)(nil)

// Shard returns the shard this store belongs to.
func (s *ShardSnapshotStore) Shard() uint32 { return s.shard }

// Create starts a new snapshot. Only raft snapshot version 1 is supported
// (as with raft's FileSnapshotStore). Chunks left over by snapshots of this
// shard that were never completed are deleted first.
func (s *ShardSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("%w: raft snapshot version %d, want 1", ErrUnsupportedVersion, version)
	}
	if err := s.db.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.db.collectGarbage(appendShardPrefix(nil, chunkKeyPrefix, s.shard)); err != nil {
		return nil, err
	}
	id, err := s.db.beginSink(s.shard, term, index)
	if err != nil {
		return nil, err
	}
	chunkSize := s.db.opts.ChunkSize
	return &snapshotSink{
		store: s,
		id:    id,
		meta: snapshotMeta{
			version:            version,
			index:              index,
			term:               term,
			configurationIndex: configurationIndex,
			chunkSize:          uint32(chunkSize),
			configuration:      raft.EncodeConfiguration(configuration),
		},
		buf: make([]byte, 0, chunkSize+crcLen),
	}, nil
}

// listEntry is one meta record of a shard; err is set if it fails to decode.
type listEntry struct {
	id   snapshotID
	meta *snapshotMeta
	err  error
}

// entries returns the meta records of the shard, newest first. Records that
// fail to decode are returned with err set.
func (s *ShardSnapshotStore) entries() ([]listEntry, error) {
	if err := s.db.checkOpen(); err != nil {
		return nil, err
	}
	prefix := appendShardPrefix(nil, metaKeyPrefix, s.shard)
	it, err := s.db.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("storage: shard %d: list snapshots: %w", s.shard, err)
	}
	var out []listEntry
	for valid := it.Last(); valid; valid = it.Prev() {
		key := it.Key()
		id, ok := idFromKey(key)
		if !ok || len(key) != idKeyLen {
			out = append(out, listEntry{id: id, err: fmt.Errorf("%w: shard %d: meta key %x has length %d, want %d",
				ErrCorruptSnapshot, s.shard, key, len(key), idKeyLen)})
			continue
		}
		e := listEntry{id: id}
		v, err := it.ValueAndErr()
		if err == nil {
			e.meta, err = decodeMeta(v)
		}
		if err == nil && (e.meta.term != id.term() || e.meta.index != id.index()) {
			err = fmt.Errorf("%w: meta record says term %d index %d", ErrCorruptSnapshot, e.meta.term, e.meta.index)
		}
		if err != nil {
			e.meta, e.err = nil, fmt.Errorf("storage: shard %d: snapshot %s: %w", s.shard, id, err)
		}
		out = append(out, e)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("storage: shard %d: list snapshots: %w", s.shard, err)
	}
	return out, nil
}

// List returns the complete snapshots of the shard, newest (highest term,
// then index, then creation time) first. A meta record that fails to
// decode makes List fail with ErrCorruptSnapshot rather than hide the
// snapshot from raft; PrepareRecovery removes such records.
func (s *ShardSnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, 0, len(es))
	for _, e := range es {
		if e.err != nil {
			return nil, e.err
		}
		out = append(out, e.meta.raftMeta(e.id))
	}
	return out, nil
}

// Open returns the metadata of snapshot id and a reader of its data. The
// reader verifies the data as it goes (see the package doc) and must be
// closed.
func (s *ShardSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	sid, ok := parseSnapshotID(id)
	if !ok {
		return nil, nil, fmt.Errorf("%w: shard %d: malformed id %q", ErrSnapshotNotFound, s.shard, id)
	}
	if err := s.db.beginReader(); err != nil {
		return nil, nil, err
	}
	// Read the meta record and the chunks from one consistent view, so that
	// a concurrent reap cannot pull the chunks away under the reader.
	view := s.db.db.NewSnapshot()
	m, err := s.readMeta(view, sid)
	if err != nil {
		s.db.endReader()
		return nil, nil, errors.Join(err, view.Close())
	}
	prefix := appendChunkPrefix(nil, s.shard, sid)
	it, err := view.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		s.db.endReader()
		return nil, nil, errors.Join(fmt.Errorf("storage: shard %d: open snapshot %s: %w", s.shard, sid, err), view.Close())
	}
	r := &snapshotReader{store: s, id: sid, meta: m, view: view, it: it}
	r.positioned = it.First()
	return m.raftMeta(sid), r, nil
}

// readMeta reads and decodes the meta record of snapshot id.
func (s *ShardSnapshotStore) readMeta(r pebble.Reader, id snapshotID) (*snapshotMeta, error) {
	v, closer, err := r.Get(appendMetaKey(nil, s.shard, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: shard %d: snapshot %s", ErrSnapshotNotFound, s.shard, id)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: shard %d: snapshot %s: read meta: %w", s.shard, id, err)
	}
	defer closer.Close()
	m, err := decodeMeta(v)
	if err == nil && (m.term != id.term() || m.index != id.index()) {
		err = fmt.Errorf("%w: meta record says term %d index %d", ErrCorruptSnapshot, m.term, m.index)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: shard %d: snapshot %s: %w", s.shard, id, err)
	}
	return m, nil
}

// Remove deletes snapshot id (its meta record and chunks) durably. Raft
// never calls it; PrepareRecovery uses it for corrupt snapshots.
func (s *ShardSnapshotStore) Remove(id string) error {
	sid, ok := parseSnapshotID(id)
	if !ok {
		return fmt.Errorf("%w: shard %d: malformed id %q", ErrSnapshotNotFound, s.shard, id)
	}
	if err := s.db.checkOpen(); err != nil {
		return err
	}
	return s.deleteSnapshots([]snapshotID{sid}, pebble.Sync)
}

// deleteSnapshots deletes the meta records and chunks of ids in one batch.
func (s *ShardSnapshotStore) deleteSnapshots(ids []snapshotID, wo *pebble.WriteOptions) error {
	b := s.db.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		prefix := appendChunkPrefix(nil, s.shard, id)
		if err := errors.Join(
			b.Delete(appendMetaKey(nil, s.shard, id), nil),
			b.DeleteRange(prefix, prefixEnd(prefix), nil),
		); err != nil {
			return fmt.Errorf("storage: shard %d: delete snapshot %s: %w", s.shard, id, err)
		}
	}
	if err := b.Commit(wo); err != nil {
		return fmt.Errorf("storage: shard %d: delete snapshots: %w", s.shard, err)
	}
	return nil
}

// reap deletes all but the Retain newest snapshots of the shard.
func (s *ShardSnapshotStore) reap() error {
	es, err := s.entries()
	if err != nil {
		return err
	}
	if len(es) <= s.db.opts.Retain {
		return nil
	}
	ids := make([]snapshotID, 0, len(es)-s.db.opts.Retain)
	for _, e := range es[s.db.opts.Retain:] {
		ids = append(ids, e.id)
	}
	return s.deleteSnapshots(ids, pebble.NoSync)
}
