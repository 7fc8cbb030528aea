package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// snapshotReader streams the data of one snapshot from a Pebble snapshot
// (a consistent view), verifying as it goes. It is used by one goroutine.
type snapshotReader struct {
	store *ShardSnapshotStore
	id    snapshotID
	meta  *snapshotMeta
	view  *pebble.Snapshot
	it    *pebble.Iterator

	positioned  bool   // it is at a chunk (the current one while stepPending)
	stepPending bool   // cur points into the iterator's chunk: step past it only once cur is used up
	next        uint32 // number of the next chunk
	size        uint64 // data bytes verified so far
	crc         uint32 // CRC32C of the data verified so far
	cur         []byte // verified data not yet returned; points into the iterator
	key         []byte // scratch
	err         error  // sticky: io.EOF or a corruption or I/O error
	closed      bool
}

// Read returns verified snapshot data. After the last chunk it checks the
// chunk count, total size and data checksum, and returns an error wrapping
// ErrCorruptSnapshot instead of io.EOF if any differs.
func (r *snapshotReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("storage: read from closed snapshot reader")
	}
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.advance()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// advance verifies the chunk at the iterator and makes it current, or
// returns io.EOF after a verified end, or the error found.
func (r *snapshotReader) advance() error {
	// The iterator's value is only valid until it moves, so it moves past a
	// chunk only after Read has copied all of it out.
	if r.stepPending {
		r.stepPending = false
		r.positioned = r.it.Next()
	}
	if !r.positioned {
		if err := r.it.Error(); err != nil {
			return fmt.Errorf("storage: shard %d: snapshot %s: read chunk %d: %w", r.store.shard, r.id, r.next, err)
		}
		return r.verifyEnd()
	}
	r.key = appendChunkKey(r.key[:0], r.store.shard, r.id, r.next)
	if key := r.it.Key(); !bytes.Equal(key, r.key) {
		return r.corrupt("expected chunk %d, found key %x", r.next, key)
	}
	if r.next >= r.meta.chunks {
		return r.corrupt("chunk %d beyond the %d chunks of the meta record", r.next, r.meta.chunks)
	}
	val, err := r.it.ValueAndErr()
	if err != nil {
		return fmt.Errorf("storage: shard %d: snapshot %s: read chunk %d: %w", r.store.shard, r.id, r.next, err)
	}
	if len(val) <= crcLen {
		return r.corrupt("chunk %d is %d bytes", r.next, len(val))
	}
	data := val[:len(val)-crcLen]
	if got, want := chunkCRC(r.key, data), binary.BigEndian.Uint32(val[len(data):]); got != want {
		return r.corrupt("chunk %d checksum %08x, stored %08x", r.next, got, want)
	}
	last := r.next == r.meta.chunks-1
	if (!last && len(data) != int(r.meta.chunkSize)) || (last && r.size+uint64(len(data)) != r.meta.size) {
		return r.corrupt("chunk %d has %d bytes (chunk size %d, snapshot size %d, %d bytes before it)",
			r.next, len(data), r.meta.chunkSize, r.meta.size, r.size)
	}
	r.crc = crc32.Update(r.crc, castagnoli, data)
	r.size += uint64(len(data))
	r.next++
	r.cur = data
	r.stepPending = true
	return nil
}

// verifyEnd checks, after the last chunk, that nothing is missing.
func (r *snapshotReader) verifyEnd() error {
	switch {
	case r.next != r.meta.chunks:
		return r.corrupt("found %d chunks, meta record says %d", r.next, r.meta.chunks)
	case r.size != r.meta.size:
		return r.corrupt("found %d bytes, meta record says %d", r.size, r.meta.size)
	case r.crc != r.meta.dataCRC:
		return r.corrupt("data checksum %08x, meta record says %08x", r.crc, r.meta.dataCRC)
	}
	return io.EOF
}

func (r *snapshotReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: shard %d: snapshot %s: %s", ErrCorruptSnapshot, r.store.shard, r.id, fmt.Sprintf(format, args...))
}

// Close releases the iterator and the Pebble snapshot.
func (r *snapshotReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cur = nil
	err := errors.Join(r.it.Close(), r.view.Close())
	r.store.db.endReader()
	return err
}
