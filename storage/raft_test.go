package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// setFSM is a tiny state machine: a set of uint64 values; a command adds
// values (8 bytes big-endian each). Restore replaces the whole state only once the
// snapshot read completely.
type setFSM struct {
	mu  sync.Mutex
	set map[uint64]struct{}
}

func newSetFSM() *setFSM { return &setFSM{set: map[uint64]struct{}{}} }

func (f *setFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i+8 <= len(l.Data); i += 8 {
		f.set[binary.BigEndian.Uint64(l.Data[i:])] = struct{}{}
	}
	return nil
}

func (f *setFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return setSnapshot(maps.Clone(f.set)), nil
}

func (f *setFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if len(data)%8 != 0 {
		return fmt.Errorf("snapshot of %d bytes", len(data))
	}
	set := make(map[uint64]struct{}, len(data)/8)
	for i := 0; i < len(data); i += 8 {
		set[binary.BigEndian.Uint64(data[i:])] = struct{}{}
	}
	f.mu.Lock()
	f.set = set
	f.mu.Unlock()
	return nil
}

func (f *setFSM) state() map[uint64]struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.set)
}

type setSnapshot map[uint64]struct{}

func (s setSnapshot) Persist(sink raft.SnapshotSink) error {
	var buf bytes.Buffer
	for v := range s {
		buf.Write(binary.BigEndian.AppendUint64(nil, v))
	}
	if _, err := sink.Write(buf.Bytes()); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (setSnapshot) Release() {}

// raftNode is one single-voter raft group over this package's stores.
type raftNode struct {
	r     *raft.Raft
	fsm   *setFSM
	logs  *LogStore
	snaps *SnapshotDB
	store *ShardSnapshotStore
}

const raftTestShard = 42

func startRaftNode(t *testing.T, dir string, bootstrap bool, trailingLogs uint64) *raftNode {
	t.Helper()
	logs, err := OpenLogStore(filepath.Join(dir, "raft", "shard-42.db"), LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := OpenSnapshotDB(filepath.Join(dir, "snapshots"), SnapshotOptions{ChunkSize: 256, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := &raftNode{fsm: newSetFSM(), logs: logs, snaps: snaps, store: snaps.Store(raftTestShard)}
	if _, err := PrepareRecovery(n.store, logs); err != nil {
		t.Fatalf("PrepareRecovery: %v", err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 30 // snapshots only when asked
	conf.SnapshotInterval = time.Hour
	conf.TrailingLogs = trailingLogs
	conf.LogOutput = io.Discard
	addr, trans := raft.NewInmemTransport("n1")
	if bootstrap {
		err := raft.BootstrapCluster(conf, logs, logs, n.store, trans, raft.Configuration{
			Servers: []raft.Server{{Suffrage: raft.Voter, ID: conf.LocalID, Address: addr}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n.r, err = raft.NewRaft(conf, n.fsm, logs, logs, n.store, trans)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.r.LeaderCh():
	case <-time.After(5 * time.Second):
		t.Fatal("no leader")
	}
	for n.r.State() != raft.Leader {
		select {
		case <-n.r.LeaderCh():
		case <-time.After(5 * time.Second):
			t.Fatal("no leader")
		}
	}
	return n
}

// apply adds the values from..to-1 in cmds log entries. Every entry costs
// an fsync, so tests keep entries few and values many.
func (n *raftNode) apply(t *testing.T, from, to uint64, cmds int) {
	t.Helper()
	var futures []raft.ApplyFuture
	per := (to - from + uint64(cmds) - 1) / uint64(cmds)
	for v := from; v < to; v += per {
		var cmd []byte
		for w := v; w < min(v+per, to); w++ {
			cmd = binary.BigEndian.AppendUint64(cmd, w)
		}
		futures = append(futures, n.r.Apply(cmd, 5*time.Second))
	}
	for _, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
	}
}

func (n *raftNode) stop(t *testing.T) {
	t.Helper()
	if err := n.r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(n.logs.Close(), n.snaps.Close()); err != nil {
		t.Fatal(err)
	}
}

func wantSet(from, to uint64) map[uint64]struct{} {
	m := map[uint64]struct{}{}
	for v := from; v < to; v++ {
		m[v] = struct{}{}
	}
	return m
}

func TestRaftSnapshotRestartRestores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startRaftNode(t, dir, true, 2)
	n.apply(t, 0, 1000, 4)
	if err := n.r.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot 1: %v", err)
	}
	n.apply(t, 1000, 1500, 3)
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatalf("snapshot 2: %v", err)
	}
	snapMeta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	n.apply(t, 1500, 1700, 2)

	// Raft compacted its log behind the snapshot, keeping TrailingLogs.
	first, err := n.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, _ := n.logs.LastIndex()
	if first <= 1 || first > snapMeta.Index+1 || last-first+1 < 2 {
		t.Fatalf("log %d..%d after snapshot at %d: not compacted as expected", first, last, snapMeta.Index)
	}
	if ids := listIDs(t, n.store); len(ids) != 2 || ids[0] != snapMeta.ID {
		t.Fatalf("List = %v, want newest %s", ids, snapMeta.ID)
	}
	want := n.fsm.state()
	if !maps.Equal(want, wantSet(0, 1700)) {
		t.Fatalf("state before restart has %d values", len(want))
	}
	n.stop(t)

	// Restart: raft restores the snapshot and replays the log after it.
	n = startRaftNode(t, dir, false, 2)
	defer n.stop(t)
	if err := n.r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := n.fsm.state(); !maps.Equal(got, want) {
		t.Fatalf("state after restart has %d values, want %d", len(got), len(want))
	}
	if got := n.r.Stats()["last_snapshot_index"]; got != fmt.Sprint(snapMeta.Index) {
		t.Fatalf("restored from snapshot at %s, want %d", got, snapMeta.Index)
	}
}

// With the newest snapshot corrupt and the log still covering the older one,
// PrepareRecovery removes the corrupt one and raft rebuilds the same state.
func TestRaftRestartFallsBackPastCorruptSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startRaftNode(t, dir, true, 2)
	n.apply(t, 0, 300, 3)
	if err := n.r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	// One entry: the next snapshot's compaction keeps TrailingLogs (2)
	// entries, so the log still starts right after the older snapshot.
	n.apply(t, 300, 350, 1)
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	newest, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	n.apply(t, 350, 400, 1)
	want := n.fsm.state()
	corruptChunk(t, n.store, newest.ID)
	n.stop(t)

	n = startRaftNode(t, dir, false, 2)
	defer n.stop(t)
	if err := n.r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := n.fsm.state(); !maps.Equal(got, want) {
		t.Fatalf("state after fallback has %d values, want %d", len(got), len(want))
	}
	for _, id := range listIDs(t, n.store) {
		if id == newest.ID {
			t.Fatal("corrupt snapshot still listed")
		}
	}
}
