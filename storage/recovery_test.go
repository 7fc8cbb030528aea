package storage

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// memLog returns an in-memory raft log holding indexes first..last (empty if
// first is 0).
func memLog(t *testing.T, first, last uint64) *raft.InmemStore {
	t.Helper()
	s := raft.NewInmemStore()
	var logs []*raft.Log
	for i := first; first != 0 && i <= last; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	return s
}

// corruptChunk flips a byte in chunk 0 of snapshot id.
func corruptChunk(t *testing.T, s *ShardSnapshotStore, id string) {
	t.Helper()
	k := appendChunkKey(nil, s.shard, mustParseID(t, id), 0)
	v := rawGet(t, s.db, k)
	v[0] ^= 1
	rawSet(t, s.db, k, v)
}

func TestCheckRecoverable(t *testing.T) {
	// Two snapshots: older at index 100, newer at index 200 (chunk size 64,
	// 300 bytes each).
	type setup struct {
		corrupt     []int // 0 = newer, 1 = older
		corruptMeta bool  // corrupt the newer one's meta record instead
		first, last uint64
	}
	cases := []struct {
		name      string
		setup     setup
		wantIndex uint64 // index of the snapshot used; 0 = none
		wantErr   bool
		wantMsg   []string
	}{
		{name: "newest intact", setup: setup{first: 150, last: 250}, wantIndex: 200},
		{name: "newest intact, log empty", setup: setup{}, wantIndex: 200},
		{name: "newest corrupt, log covers", setup: setup{corrupt: []int{0}, first: 90, last: 250}, wantIndex: 100},
		{name: "newest corrupt, log starts right after older", setup: setup{corrupt: []int{0}, first: 101, last: 200}, wantIndex: 100},
		{name: "newest corrupt meta, log covers", setup: setup{corruptMeta: true, first: 1, last: 250}, wantIndex: 100},
		{name: "both corrupt, log complete", setup: setup{corrupt: []int{0, 1}, first: 1, last: 210}, wantIndex: 0},
		{name: "newest corrupt, log compacted past older", setup: setup{corrupt: []int{0}, first: 151, last: 250},
			wantErr: true, wantMsg: []string{"indexes 101..150", "corrupt snapshot", "index 200", "log holds indexes 151..250", "backup"}},
		{name: "newest corrupt, log empty", setup: setup{corrupt: []int{0}},
			wantErr: true, wantMsg: []string{"log is empty", "indexes 101..200"}},
		{name: "newest corrupt, log ends before newest", setup: setup{corrupt: []int{0}, first: 50, last: 180},
			wantErr: true, wantMsg: []string{"indexes 181..200"}},
		{name: "gap after intact newest", setup: setup{first: 260, last: 300},
			wantErr: true, wantMsg: []string{"indexes 201..259"}},
		{name: "both corrupt, log compacted", setup: setup{corrupt: []int{0, 1}, first: 50, last: 300},
			wantErr: true, wantMsg: []string{"no intact snapshot", "indexes 1..49"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng, _ := testRNG(t)
			db := openMem(t, SnapshotOptions{ChunkSize: 64})
			s := db.Store(5)
			older := writeSnapshot(t, s, rng, 1, 100, randomBytes(rng, 300))
			newer := writeSnapshot(t, s, rng, 1, 200, randomBytes(rng, 300))
			ids := []string{newer, older}
			for _, i := range tc.setup.corrupt {
				corruptChunk(t, s, ids[i])
			}
			if tc.setup.corruptMeta {
				k := appendMetaKey(nil, 5, mustParseID(t, newer))
				v := rawGet(t, db, k)
				v[3] ^= 1
				rawSet(t, db, k, v)
			}
			logs := memLog(t, tc.setup.first, tc.setup.last)

			rec, err := PrepareRecovery(s, logs)
			if tc.wantErr {
				if !errors.Is(err, ErrUnrecoverable) {
					t.Fatalf("err = %v, want ErrUnrecoverable", err)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error lacks %q: %v", m, err)
					}
				}
				// Nothing removed.
				if n := countKeys(t, db, appendShardPrefix(nil, metaKeyPrefix, 5)); n != 2 {
					t.Fatalf("%d meta records left, want 2", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("PrepareRecovery: %v", err)
			}
			got := uint64(0)
			if rec.Snapshot != nil {
				got = rec.Snapshot.Index
			}
			if got != tc.wantIndex {
				t.Fatalf("uses snapshot at index %d, want %d (%+v)", got, tc.wantIndex, rec)
			}
			wantCorrupt := len(tc.setup.corrupt)
			if tc.setup.corruptMeta {
				wantCorrupt = 1
			}
			if len(rec.Corrupt) != wantCorrupt || rec.Removed != (wantCorrupt > 0) {
				t.Fatalf("Corrupt = %+v, Removed = %v", rec.Corrupt, rec.Removed)
			}
			for _, c := range rec.Corrupt {
				if !errors.Is(c.Err, ErrCorruptSnapshot) {
					t.Errorf("corrupt snapshot %s error %v", c.ID, c.Err)
				}
			}
			// Raft now sees the chosen snapshot first (or none).
			listed := listIDs(t, s)
			if tc.wantIndex == 0 {
				if len(listed) != 0 {
					t.Fatalf("List after recovery = %v", listed)
				}
			} else if len(listed) == 0 || listed[0] != rec.Snapshot.ID {
				t.Fatalf("List after recovery = %v, want %s first", listed, rec.Snapshot.ID)
			}
			// Checking again is clean.
			rec2, err := CheckRecoverable(s, logs)
			if err != nil || len(rec2.Corrupt) != 0 {
				t.Fatalf("second check: %+v, %v", rec2, err)
			}
		})
	}
}

func TestCheckRecoverableFreshShard(t *testing.T) {
	db := openMem(t, SnapshotOptions{})
	rec, err := CheckRecoverable(db.Store(1), memLog(t, 0, 0))
	if err != nil || rec.Snapshot != nil || len(rec.Corrupt) != 0 {
		t.Fatalf("fresh shard: %+v, %v", rec, err)
	}
}

// CheckRecoverable works with raft's own snapshot store too.
func TestCheckRecoverableFileSnapshotStore(t *testing.T) {
	fss, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("")
	sink, err := fss.Create(1, 10, 1, testConfiguration(), 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := CheckRecoverable(fss, memLog(t, 5, 20))
	if err != nil || rec.Snapshot == nil || rec.Snapshot.Index != 10 {
		t.Fatalf("%+v, %v", rec, err)
	}
	if !slices.Equal([]uint64{rec.FirstIndex, rec.LastIndex}, []uint64{5, 20}) {
		t.Fatalf("log range %d..%d", rec.FirstIndex, rec.LastIndex)
	}
}
