// Package raftfsm is the Raft state machine of one likes shard: per game a
// set of user ids (its cardinality is the like count), changed by batches of
// idempotent like/unlike ops carried in raft log entries, with exactly-once
// retries through a bounded per-client dedup window.
//
// # Log entry payload (AppendBatch, DecodeBatch)
//
//	+---------+--------------+-----------------------------------------------+
//	| ver u8  | count uvarint| op × count                                    |
//	|  = 1    |              | kind u8 | game | user | client | seq (uvarint)|
//	+---------+--------------+-----------------------------------------------+
//
// kind is 1 (like) or 2 (unlike). A payload with an unknown version, an
// unknown kind, or trailing bytes is rejected whole (ErrUnknownVersion,
// ErrBadEntry); Apply then returns that error and applies nothing.
//
// # Semantics
//
// Like is a checked add and unlike a checked remove: the count changes only
// when membership does. Every op gets a Result{Changed, Count, Index}.
//
// Exactly-once: an op with Seq != 0 is identified by (ClientID, Seq). The
// FSM keeps, per client, the results of the seqs in (maxSeq-DedupWindow,
// maxSeq]. A retry of a seq in that window returns its first Result
// (including the Index of the entry that applied it) and is not applied
// again, whatever came in between. A retry of a seq at or below
// maxSeq-DedupWindow gets Result.Err = ErrSeqExpired and is not applied. At
// most MaxDedupClients clients are remembered; the one whose latest op is
// earliest in the log is evicted. A retry from an evicted (or never seen)
// client is applied as new: exactly-once holds only within these bounds,
// past them it is at-least-once (harmless for like/unlike, which are
// idempotent on the set, but the Result then reports Changed=false).
// Seq == 0 means no dedup: the op is applied each time it appears.
//
// All of it is a pure function of the log and Options, so replicas agree.
//
// # Representation
//
// Each game's set is, by size: up to 64 ids a sorted []uint64; above that
// sorted []uint32 chunks (at most 4096 entries each) of ids sharing their
// high 32 bits; and a roaring64 bitmap when that is estimated at most 4/5 of
// the chunked size (dense games). See set.go and docs/fsm-memory.md.
//
// # Snapshots
//
// Snapshot is O(stripes + clients): it bumps a generation and installs empty
// pre-image maps. Until Release, Apply copies a game's set (lazily per chunk)
// before changing one older than the snapshot and keeps the old value as the
// pre-image, so Persist, running concurrently, serialises the state as of
// Snapshot. The stream format is drawn in snapshot.go.
package raftfsm
