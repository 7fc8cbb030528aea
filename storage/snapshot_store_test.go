package storage

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestSnapshotRoundTrip(t *testing.T) {
	rng, _ := testRNG(t)
	const chunk = 256
	db := openMem(t, SnapshotOptions{ChunkSize: chunk, Retain: 100})
	s := db.Store(3)
	sizes := []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 7 * chunk, 7*chunk + 3}
	for range 8 {
		sizes = append(sizes, rng.IntN(20*chunk))
	}
	for i, size := range sizes {
		data := randomBytes(rng, size)
		term, index := uint64(1+i/3), uint64(10+i)
		id := writeSnapshot(t, s, rng, term, index, data)
		meta, got, err := readSnapshot(s, id)
		if err != nil {
			t.Fatalf("size %d: read: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes that differ from the %d written", size, len(got), len(data))
		}
		if meta.ID != id || meta.Index != index || meta.Term != term || meta.Size != int64(size) ||
			meta.Version != 1 || meta.ConfigurationIndex != index || !reflect.DeepEqual(meta.Configuration, testConfiguration()) {
			t.Fatalf("size %d: meta %+v", size, meta)
		}
		if want := (size + chunk - 1) / chunk; countKeys(t, db, appendChunkPrefix(nil, 3, mustParseID(t, id))) != want {
			t.Fatalf("size %d: want %d chunk keys", size, want)
		}
	}
	if ids := listIDs(t, s); len(ids) != len(sizes) {
		t.Fatalf("List has %d snapshots, want %d", len(ids), len(sizes))
	}
}

func TestSnapshotReapKeepsRetainNewest(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64, Retain: 2})
	s := db.Store(1)
	var ids []string
	for i := range 5 {
		ids = append(ids, writeSnapshot(t, s, rng, 1, uint64(100*(i+1)), randomBytes(rng, 300)))
	}
	if got, want := listIDs(t, s), []string{ids[4], ids[3]}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, id := range ids[:3] {
		if n := countKeys(t, db, appendChunkPrefix(nil, 1, mustParseID(t, id))); n != 0 {
			t.Errorf("reaped snapshot %s still has %d chunks", id, n)
		}
		if _, _, err := s.Open(id); !errors.Is(err, ErrSnapshotNotFound) {
			t.Errorf("Open(reaped %s) = %v, want ErrSnapshotNotFound", id, err)
		}
	}
}

func TestSnapshotCancelLeavesNothing(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64})
	s := db.Store(1)
	sink, err := s.Create(1, 5, 1, testConfiguration(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(randomBytes(rng, 1000)); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, db, []byte{chunkKeyPrefix}); n == 0 {
		t.Fatal("no chunks written before Cancel; the test proves nothing")
	}
	if err := sink.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if n := countKeys(t, db, []byte{chunkKeyPrefix}); n != 0 {
		t.Fatalf("%d chunk keys left after Cancel", n)
	}
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Fatalf("List after Cancel = %v", ids)
	}
	if _, err := sink.Write([]byte("x")); !errors.Is(err, ErrSinkClosed) {
		t.Fatalf("Write after Cancel = %v, want ErrSinkClosed", err)
	}
	if err := sink.Close(); !errors.Is(err, ErrSinkClosed) {
		t.Fatalf("Close after Cancel = %v, want ErrSinkClosed", err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatalf("second Cancel = %v", err)
	}
	if _, _, err := s.Open(sink.ID()); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("Open(cancelled) = %v, want ErrSnapshotNotFound", err)
	}
}

func TestSnapshotShardsIsolated(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64, Retain: 1})
	shards := []uint32{0, 1, 2, 0xffffffff}
	data := map[uint32][]byte{}
	ids := map[uint32]string{}
	for _, sh := range shards {
		data[sh] = randomBytes(rng, 500)
		ids[sh] = writeSnapshot(t, db.Store(sh), rng, 1, 10, data[sh])
	}
	// A new snapshot (and its reaping) in shard 1 touches no other shard.
	data[1] = randomBytes(rng, 200)
	ids[1] = writeSnapshot(t, db.Store(1), rng, 1, 20, data[1])
	for _, sh := range shards {
		s := db.Store(sh)
		if got := listIDs(t, s); !slices.Equal(got, []string{ids[sh]}) {
			t.Fatalf("shard %d: List = %v, want [%s]", sh, got, ids[sh])
		}
		if _, got, err := readSnapshot(s, ids[sh]); err != nil || !bytes.Equal(got, data[sh]) {
			t.Fatalf("shard %d: read: %v (equal %v)", sh, err, bytes.Equal(got, data[sh]))
		}
		other := db.Store(sh + 7)
		if _, _, err := other.Open(ids[sh]); !errors.Is(err, ErrSnapshotNotFound) {
			t.Fatalf("shard %d's snapshot opened in shard %d: %v", sh, sh+7, err)
		}
	}
}

func TestSnapshotIDOrder(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64, Retain: 100})
	s := db.Store(9)
	type ti struct{ term, index uint64 }
	order := []ti{{1, 5}, {1, 300}, {2, 7}, {2, 7}, {2, 1 << 40}, {10, 1}, {10, 2}}
	perm := rng.Perm(len(order))
	created := map[string]ti{}
	var seq []string // creation order
	for _, p := range perm {
		id := writeSnapshot(t, s, rng, order[p].term, order[p].index, []byte{byte(p)})
		created[id] = order[p]
		seq = append(seq, id)
	}
	got := listIDs(t, s)
	// Newest first by (term, index, creation): the string ids sort that way.
	want := slices.Clone(got)
	slices.SortFunc(want, func(a, b string) int {
		ta, tb := created[a], created[b]
		switch {
		case ta.term != tb.term:
			return -cmpU64(ta.term, tb.term)
		case ta.index != tb.index:
			return -cmpU64(ta.index, tb.index)
		}
		return -(slices.Index(seq, a) - slices.Index(seq, b))
	})
	if !slices.Equal(got, want) {
		t.Fatalf("List order %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(got, func(a, b string) int { return -strings.Compare(a, b) }) {
		t.Fatalf("ids do not sort as strings: %v", got)
	}
	if len(got) != len(order) {
		t.Fatalf("ids not unique: %d listed, %d created", len(got), len(order))
	}
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestSnapshotOrphansCollectedOnCreate(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64})
	s := db.Store(4)
	abandoned, err := s.Create(1, 5, 1, testConfiguration(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := abandoned.Write(randomBytes(rng, 640)); err != nil {
		t.Fatal(err)
	}
	// A concurrent sink keeps its chunks while another Create collects.
	running, err := s.Create(1, 6, 1, testConfiguration(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	runningData := randomBytes(rng, 640)
	if _, err := running.Write(runningData[:320]); err != nil {
		t.Fatal(err)
	}
	// Forget the first sink as a crashed process would.
	db.endSink(4, abandoned.(*snapshotSink).id)
	id := writeSnapshot(t, s, rng, 1, 7, randomBytes(rng, 100))
	if n := countKeys(t, db, appendChunkPrefix(nil, 4, abandoned.(*snapshotSink).id)); n != 0 {
		t.Fatalf("abandoned sink has %d chunks after Create", n)
	}
	if _, err := running.Write(runningData[320:]); err != nil {
		t.Fatal(err)
	}
	if err := running.Close(); err != nil {
		t.Fatal(err)
	}
	if _, got, err := readSnapshot(s, running.ID()); err != nil || !bytes.Equal(got, runningData) {
		t.Fatalf("concurrent sink damaged by garbage collection: %v", err)
	}
	if got := listIDs(t, s); !slices.Equal(got, []string{id, running.ID()}) {
		t.Fatalf("List = %v", got)
	}
}

func TestSnapshotOptionsValidate(t *testing.T) {
	if err := (SnapshotOptions{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	err := SnapshotOptions{Retain: -1, ChunkSize: 1, MemTableSize: 1}.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, field := range []string{"Retain", "ChunkSize", "MemTableSize"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate error does not mention %s: %v", field, err)
		}
	}
	if _, err := OpenSnapshotDB("x", SnapshotOptions{FS: vfs.NewMem(), ChunkSize: 1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("OpenSnapshotDB with bad options = %v", err)
	}
}

func TestSnapshotDBRejectsUnknownFormat(t *testing.T) {
	fs := vfs.NewMem()
	db := openMem(t, SnapshotOptions{FS: fs})
	if err := db.db.Set([]byte{formatKeyPrefix}, []byte{0, 0, 0, 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSnapshotDB("snap", SnapshotOptions{FS: fs}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("OpenSnapshotDB = %v, want ErrUnsupportedVersion", err)
	}
}

func TestSnapshotDBCloseInUse(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64})
	s := db.Store(1)
	id := writeSnapshot(t, s, rng, 1, 1, randomBytes(rng, 100))
	_, rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := s.Create(1, 2, 1, testConfiguration(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); !errors.Is(err, ErrInUse) {
		t.Fatalf("Close with open reader and sink = %v, want ErrInUse", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); !errors.Is(err, ErrInUse) {
		t.Fatalf("Close with open sink = %v, want ErrInUse", err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close = %v", err)
	}
	if _, _, err := s.Open(id); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close = %v", err)
	}
	if _, err := s.Create(1, 3, 1, testConfiguration(), 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create after Close = %v", err)
	}
}

func TestSnapshotCreateRejectsVersion(t *testing.T) {
	db := openMem(t, SnapshotOptions{})
	if _, err := db.Store(1).Create(0, 1, 1, testConfiguration(), 1, nil); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("Create(version 0) = %v", err)
	}
}

func TestSnapshotIDParse(t *testing.T) {
	id := makeSnapshotID(3, 1<<50, 1234567)
	back, ok := parseSnapshotID(id.String())
	if !ok || back != id {
		t.Fatalf("parse(%s) = %v, %v", id, back, ok)
	}
	for _, bad := range []string{"", "1-2-3", id.String() + "0", strings.Replace(id.String(), "0", "g", 1)} {
		if _, ok := parseSnapshotID(bad); ok {
			t.Errorf("parsed bad id %q", bad)
		}
	}
}
