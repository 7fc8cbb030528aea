// Package storage holds the durable state of a likes node: one Raft log per
// shard (raft-boltdb) and one Pebble database per node for the snapshots of
// all its shards.
//
// # Raft logs
//
// Every shard's Raft log and stable store (current term, vote) live in one
// bbolt file opened with [OpenLogStore]. Each StoreLogs call is one bbolt
// transaction committed with fsync. hashicorp/raft hands the log store every
// entry that piled up while the previous write was in flight as one
// StoreLogs call, so that one fsync is the group commit: write throughput
// scales with batch size, not with the ~1,600 fsyncs/s a disk allows.
//
// # Snapshots
//
// [OpenSnapshotDB] opens one Pebble database per node. [SnapshotDB.Store]
// returns the [raft.SnapshotStore] of one shard; all shards share the
// database and are kept apart by a key prefix. Raft's snapshot scheduling,
// log compaction and InstallSnapshot to followers go through it.
//
// Key layout (all integers big-endian):
//
//	format key:  'v'                                  -> u32 format version (1)
//	meta key:    'm' | shard u32 | snapshot id (24 B) -> meta record
//	chunk key:   'd' | shard u32 | snapshot id (24 B) | chunk u32 -> chunk record
//
//	snapshot id: term u64 | index u64 | created u64 (Unix nanoseconds, strictly
//	             increasing per SnapshotDB)
//
// Snapshot ids sort by (term, index, creation time) both as bytes and as the
// string raft sees, "%016x-%016x-%016x" of the three fields, which is the
// order raft's FileSnapshotStore uses. List walks the meta keys of a shard
// backwards, so it returns the newest snapshot first, as raft expects.
//
// Chunk record (the value of a chunk key):
//
//	+----------------------------+------------------------------------+
//	| data (1..ChunkSize bytes)  | u32 CRC32C(chunk key || data)      |
//	+----------------------------+------------------------------------+
//
// Every chunk but the last holds exactly ChunkSize bytes. The checksum covers
// the key so that a record found under the wrong key is caught too.
//
// Meta record (the value of a meta key), format version 1:
//
//	offset  size  field
//	0       1     meta format version (1)
//	1       1     raft.SnapshotVersion
//	2       8     index (last log index covered by the snapshot)
//	10      8     term of that index
//	18      8     configuration index
//	26      8     size: total data bytes
//	34      4     chunk count
//	38      4     chunk size used when writing
//	42      4     CRC32C of all data bytes, in order
//	46      4     n: length of the configuration
//	50      n     raft.EncodeConfiguration(configuration)
//	50+n    4     CRC32C of bytes [0, 50+n)
//
// # Atomicity and crash safety
//
// A snapshot's chunks are written without fsync as the FSM streams them. Its
// meta record is written last, in a batch committed with pebble.Sync; since
// Pebble has one write-ahead log, that sync also makes every earlier chunk
// durable. A snapshot exists exactly when its meta record does: after a crash
// mid-snapshot the chunks are orphans that nobody lists, and they are deleted
// (DeleteRange) when the database is opened and whenever a new snapshot of the
// shard is created. Reaping older snapshots (beyond Retain) and cancelling
// delete a meta record together with its chunks in one batch.
//
// Reading verifies every chunk's checksum before handing out any of its
// bytes, the chunk numbering, and at the end the total size and the CRC32C of
// all data; any mismatch fails with [ErrCorruptSnapshot] no later than the
// read that would have returned io.EOF. Wrong bytes are never delivered as a
// complete snapshot.
//
// # Startup
//
// hashicorp/raft (api.go, restoreSnapshot) tries the listed snapshots newest
// first and silently skips any that fails to open or to restore, without
// checking that the Raft log still holds the entries after the older one.
// Call [PrepareRecovery] (or the read-only [CheckRecoverable]) before
// raft.NewRaft: it verifies snapshots newest first, refuses to start with
// [ErrUnrecoverable] when falling back would lose committed entries, and
// removes corrupt snapshots so that raft only sees the one it should restore.
//
// # Concurrency
//
// A SnapshotDB and the ShardSnapshotStores it hands out are safe for
// concurrent use. A sink and a reader belong to one goroutine each (raft
// uses them that way). SnapshotDB.Close fails with [ErrInUse] while sinks or
// readers are open; close them first (raft.Shutdown does). Lock order: a
// sink or reader never holds SnapshotDB.mu while doing I/O.
package storage
