package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/cockroachdb/pebble/v2"
)

// snapshotSink writes one snapshot. It buffers one chunk, writes every full
// chunk as one Pebble key without sync, and on Close writes the meta record
// with sync. It is used by one goroutine.
type snapshotSink struct {
	store  *ShardSnapshotStore
	id     snapshotID
	meta   snapshotMeta // size, chunks and dataCRC grow as data is written
	buf    []byte       // data of the current chunk; capacity ChunkSize+crcLen
	key    []byte       // scratch for chunk keys
	closed bool         // by Close or Cancel
	done   bool         // Close succeeded
	err    error        // first write error; the sink is unusable after it
}

// ID returns the snapshot id, "%016x-%016x-%016x" of term, index and
// creation time.
func (s *snapshotSink) ID() string { return s.id.String() }

// Write buffers p and writes every chunk that fills up.
func (s *snapshotSink) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrSinkClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	chunkSize := int(s.meta.chunkSize)
	n := 0
	for len(p) > 0 {
		k := min(chunkSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(s.buf) == chunkSize {
			if err := s.flush(); err != nil {
				return n - k, err
			}
		}
	}
	return n, nil
}

// flush writes the buffered data as the next chunk.
func (s *snapshotSink) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	if s.meta.chunks == MaxChunks {
		s.err = fmt.Errorf("%w: shard %d: snapshot %s: more than %d chunks", ErrSnapshotTooLarge, s.store.shard, s.id, uint64(MaxChunks))
		return s.err
	}
	s.key = appendChunkKey(s.key[:0], s.store.shard, s.id, s.meta.chunks)
	data := s.buf
	val := binary.BigEndian.AppendUint32(data, chunkCRC(s.key, data))
	if err := s.store.db.db.Set(s.key, val, pebble.NoSync); err != nil {
		s.err = fmt.Errorf("storage: shard %d: snapshot %s: write chunk %d: %w", s.store.shard, s.id, s.meta.chunks, err)
		return s.err
	}
	s.meta.dataCRC = crc32.Update(s.meta.dataCRC, castagnoli, data)
	s.meta.size += uint64(len(data))
	s.meta.chunks++
	s.buf = s.buf[:0]
	return nil
}

// Close writes the last chunk and the meta record (synced), which makes the
// snapshot visible, then deletes the snapshots of the shard beyond Retain.
// If reaping fails the snapshot is complete but Close reports the error, as
// raft's FileSnapshotStore does; raft then skips log compaction this time.
//
// Raft calls Close again after FSMSnapshot.Persist, which usually closes the
// sink itself: Close after a successful Close returns nil, Close after
// Cancel or a failed Close returns ErrSinkClosed.
func (s *snapshotSink) Close() error {
	if s.done {
		return nil
	}
	if s.closed {
		return ErrSinkClosed
	}
	s.closed = true
	defer s.store.db.endSink(s.store.shard, s.id)
	if s.err == nil {
		s.err = s.flush()
	}
	if s.err != nil {
		return errors.Join(s.err, s.deleteChunks())
	}
	val := appendMeta(nil, &s.meta)
	if err := s.store.db.db.Set(appendMetaKey(nil, s.store.shard, s.id), val, pebble.Sync); err != nil {
		return errors.Join(
			fmt.Errorf("storage: shard %d: snapshot %s: write meta: %w", s.store.shard, s.id, err),
			s.deleteChunks())
	}
	s.done = true
	if err := s.store.reap(); err != nil {
		return fmt.Errorf("storage: shard %d: snapshot %s complete, deleting old snapshots failed: %w", s.store.shard, s.id, err)
	}
	return nil
}

// Cancel deletes what was written. It is a no-op after Close or Cancel.
func (s *snapshotSink) Cancel() error {
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.store.db.endSink(s.store.shard, s.id)
	return s.deleteChunks()
}

// deleteChunks removes the chunks written so far (the meta record does not
// exist yet). Not synced: chunks without a meta record are invisible, and
// lost deletions are redone by garbage collection.
func (s *snapshotSink) deleteChunks() error {
	prefix := appendChunkPrefix(nil, s.store.shard, s.id)
	if err := s.store.db.db.DeleteRange(prefix, prefixEnd(prefix), pebble.NoSync); err != nil {
		return fmt.Errorf("storage: shard %d: snapshot %s: delete chunks: %w", s.store.shard, s.id, err)
	}
	return nil
}
