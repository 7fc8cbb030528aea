package storage

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/raft"
)

// Recovery is what CheckRecoverable found for one shard.
type Recovery struct {
	// Snapshot is the snapshot raft will restore on start: the newest one
	// that verified. Nil means raft starts from an empty state machine and
	// replays the log (a new shard, or a log that was never compacted).
	Snapshot *raft.SnapshotMeta

	// Corrupt lists the snapshots newer than Snapshot that failed
	// verification, newest first. Raft would try them first; PrepareRecovery
	// removes them. Snapshots older than Snapshot are not verified.
	Corrupt []CorruptSnapshot

	// FirstIndex and LastIndex are the range of the Raft log (0, 0 if empty).
	FirstIndex, LastIndex uint64

	// Removed is true when PrepareRecovery removed the Corrupt snapshots.
	Removed bool
}

// CorruptSnapshot is one snapshot that failed verification.
type CorruptSnapshot struct {
	ID          string
	Term, Index uint64
	Err         error
}

// candidate is a listed snapshot; err is set if its meta already failed.
type candidate struct {
	id          string
	term, index uint64
	err         error
}

// CheckRecoverable verifies, newest first, the snapshots of one shard until
// one reads back intact, and checks that this snapshot plus the Raft log
// rebuild every committed entry that any listed snapshot covered. It changes
// nothing; PrepareRecovery also removes the corrupt snapshots.
//
// Why: on start, raft (api.go, restoreSnapshot) tries snapshots newest first
// and skips any that fails to open or restore, without checking that the log
// still holds the entries after the older snapshot it falls back to. A
// fallback is only correct when the log covers (older.Index, newest.Index]
// and has no gap after the snapshot it uses.
//
// It returns an error wrapping ErrUnrecoverable, naming the corrupt
// snapshots, the log range and the missing entries, when no such path
// exists. snaps may be any raft.SnapshotStore; a *ShardSnapshotStore also
// reports snapshots whose meta record is corrupt.
func CheckRecoverable(snaps raft.SnapshotStore, logs raft.LogStore) (Recovery, error) {
	var rec Recovery
	cands, err := listCandidates(snaps)
	if err != nil {
		return rec, err
	}
	if rec.FirstIndex, err = logs.FirstIndex(); err != nil {
		return rec, fmt.Errorf("storage: read first log index: %w", err)
	}
	if rec.LastIndex, err = logs.LastIndex(); err != nil {
		return rec, fmt.Errorf("storage: read last log index: %w", err)
	}

	var newest uint64 // highest index any listed snapshot covers
	for _, c := range cands {
		newest = max(newest, c.index)
	}
	for _, c := range cands {
		if c.err == nil {
			var meta *raft.SnapshotMeta
			if meta, c.err = verifySnapshot(snaps, c.id); c.err == nil {
				rec.Snapshot = meta
				break
			}
		}
		rec.Corrupt = append(rec.Corrupt, CorruptSnapshot{ID: c.id, Term: c.term, Index: c.index, Err: c.err})
	}

	var base uint64
	if rec.Snapshot != nil {
		base = rec.Snapshot.Index
	}
	empty := rec.LastIndex == 0
	// Entries after base must come from the log: those the lost snapshots
	// held, and those the log holds beyond base (replayed after restore).
	need := newest
	if !empty {
		need = max(need, rec.LastIndex)
	}
	if need <= base || (!empty && rec.FirstIndex <= base+1 && rec.LastIndex >= newest) {
		return rec, nil
	}
	return rec, unrecoverable(rec, base, newest)
}

// unrecoverable builds the operator-facing error.
func unrecoverable(rec Recovery, base, newest uint64) error {
	var b strings.Builder
	if rec.Snapshot != nil {
		fmt.Fprintf(&b, "newest intact snapshot %s covers the log up to index %d", rec.Snapshot.ID, base)
	} else {
		b.WriteString("no intact snapshot")
	}
	if rec.LastIndex == 0 {
		b.WriteString("; the Raft log is empty")
	} else {
		fmt.Fprintf(&b, "; the Raft log holds indexes %d..%d", rec.FirstIndex, rec.LastIndex)
	}
	from, to := base+1, newest
	switch {
	case rec.LastIndex != 0 && rec.FirstIndex > base+1:
		to = rec.FirstIndex - 1
	case rec.LastIndex != 0:
		from = rec.LastIndex + 1
	}
	fmt.Fprintf(&b, "; indexes %d..%d are in neither", from, to)
	for _, c := range rec.Corrupt {
		fmt.Fprintf(&b, "; corrupt snapshot %s (term %d, index %d): %v", c.ID, c.Term, c.Index, c.Err)
	}
	b.WriteString(". Do not start this replica: it would serve a state without committed writes. " +
		"If the shard has healthy replicas on other nodes, remove this replica's Raft log and snapshots " +
		"of the shard and add it back so that the leader sends it a snapshot; otherwise restore the shard " +
		"from a backup. Nothing was deleted; keep the corrupt snapshots for inspection.")
	return fmt.Errorf("%w: %s", ErrUnrecoverable, b.String())
}

// PrepareRecovery runs CheckRecoverable and, if the shard is recoverable,
// removes the corrupt snapshots it found so that raft.NewRaft restores
// Recovery.Snapshot and nothing else. Call it before raft.NewRaft, with the
// same stores. If the shard is not recoverable nothing is removed.
func PrepareRecovery(snaps *ShardSnapshotStore, logs raft.LogStore) (Recovery, error) {
	rec, err := CheckRecoverable(snaps, logs)
	if err != nil {
		return rec, err
	}
	for _, c := range rec.Corrupt {
		if err := snaps.Remove(c.ID); err != nil {
			return rec, fmt.Errorf("storage: remove corrupt snapshot %s: %w", c.ID, err)
		}
	}
	rec.Removed = len(rec.Corrupt) > 0
	return rec, nil
}

// listCandidates lists the snapshots newest first.
func listCandidates(snaps raft.SnapshotStore) ([]candidate, error) {
	if s, ok := snaps.(*ShardSnapshotStore); ok {
		es, err := s.entries()
		if err != nil {
			return nil, err
		}
		out := make([]candidate, 0, len(es))
		for _, e := range es {
			out = append(out, candidate{id: e.id.String(), term: e.id.term(), index: e.id.index(), err: e.err})
		}
		return out, nil
	}
	metas, err := snaps.List()
	if err != nil {
		return nil, fmt.Errorf("storage: list snapshots: %w", err)
	}
	out := make([]candidate, 0, len(metas))
	for _, m := range metas {
		out = append(out, candidate{id: m.ID, term: m.Term, index: m.Index})
	}
	return out, nil
}

// verifySnapshot reads snapshot id to the end; stores of this package verify
// checksums while reading, for others only the size is checked.
func verifySnapshot(snaps raft.SnapshotStore, id string) (*raft.SnapshotMeta, error) {
	meta, rc, err := snaps.Open(id)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(io.Discard, rc)
	err = errors.Join(err, rc.Close())
	if err == nil && n != meta.Size {
		err = fmt.Errorf("%w: read %d bytes, meta says %d", ErrCorruptSnapshot, n, meta.Size)
	}
	if err != nil {
		return nil, err
	}
	return meta, nil
}
