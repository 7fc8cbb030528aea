package storage

import "errors"

// Sentinel errors of the storage package. Errors returned by this package wrap
// one of these (check with errors.Is) and add the details: shard, snapshot id,
// what was expected and what was found.
var (
	// ErrInvalidOptions is wrapped by every problem Validate reports.
	ErrInvalidOptions = errors.New("storage: invalid options")

	// ErrClosed is returned by any use of a SnapshotDB (or the stores it
	// handed out) after Close.
	ErrClosed = errors.New("storage: snapshot database closed")

	// ErrInUse is returned by SnapshotDB.Close while snapshot sinks or readers
	// are still open; the database stays open.
	ErrInUse = errors.New("storage: snapshot database has open sinks or readers")

	// ErrSnapshotNotFound is returned by Open and Remove for an id that is
	// malformed or names no complete snapshot of the shard.
	ErrSnapshotNotFound = errors.New("storage: snapshot not found")

	// ErrCorruptSnapshot means stored snapshot bytes fail verification: a chunk
	// or meta checksum, a missing or extra chunk, the total size or the
	// checksum of all data.
	ErrCorruptSnapshot = errors.New("storage: corrupt snapshot")

	// ErrUnsupportedVersion is returned for a raft snapshot version other than
	// 1, or a database or meta record written by an unknown format version.
	ErrUnsupportedVersion = errors.New("storage: unsupported version")

	// ErrSinkClosed is returned by Write or Close on a snapshot sink that was
	// already closed or cancelled.
	ErrSinkClosed = errors.New("storage: snapshot sink already closed")

	// ErrSnapshotTooLarge is returned by Write when a snapshot would need more
	// than MaxChunks chunks.
	ErrSnapshotTooLarge = errors.New("storage: snapshot too large")

	// ErrUnrecoverable is returned by CheckRecoverable and PrepareRecovery when
	// no snapshot plus the Raft log can rebuild the shard's committed state.
	// The node must not start this shard; the message says what is missing and
	// what the operator can do.
	ErrUnrecoverable = errors.New("storage: shard state is not recoverable")
)
