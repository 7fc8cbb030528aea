package storage

import (
	"bytes"
	"flag"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

var seedFlag = flag.Uint64("storage.seed", 0, "seed for randomized storage tests (0 picks one; the seed is logged)")

// testRNG returns a seeded RNG and logs the seed so a failure can be
// replayed with -storage.seed.
func testRNG(t testing.TB) (*rand.Rand, uint64) {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -storage.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// openMem opens a SnapshotDB on a fresh in-memory FS.
func openMem(t testing.TB, opts SnapshotOptions) *SnapshotDB {
	t.Helper()
	if opts.FS == nil {
		opts.FS = vfs.NewMem()
	}
	db, err := OpenSnapshotDB("snap", opts)
	if err != nil {
		t.Fatalf("OpenSnapshotDB: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil && err != ErrClosed {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func testConfiguration() raft.Configuration {
	return raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: "n1", Address: "n1:7000"},
		{Suffrage: raft.Nonvoter, ID: "n2", Address: "n2:7000"},
	}}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeSnapshot writes data as one snapshot in random-sized pieces and
// returns its id.
func writeSnapshot(t testing.TB, s *ShardSnapshotStore, rng *rand.Rand, term, index uint64, data []byte) string {
	t.Helper()
	sink, err := s.Create(1, index, term, testConfiguration(), index, nil)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(3*s.db.opts.ChunkSize))
		if w, err := sink.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("Write: %d, %v", w, err)
		}
		rest = rest[n:]
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("sink Close: %v", err)
	}
	return sink.ID()
}

// readSnapshot reads snapshot id fully; it returns what was read and the
// first error other than io.EOF.
func readSnapshot(s *ShardSnapshotStore, id string) (*raft.SnapshotMeta, []byte, error) {
	meta, rc, err := s.Open(id)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return meta, buf.Bytes(), err
}

// listIDs returns the ids List reports.
func listIDs(t testing.TB, s *ShardSnapshotStore) []string {
	t.Helper()
	metas, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ids := make([]string, len(metas))
	for i, m := range metas {
		ids[i] = m.ID
	}
	return ids
}

// countKeys counts the keys starting with prefix.
func countKeys(t testing.TB, db *SnapshotDB, prefix []byte) int {
	t.Helper()
	it, err := db.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// mustParseID parses a snapshot id string.
func mustParseID(t testing.TB, id string) snapshotID {
	t.Helper()
	sid, ok := parseSnapshotID(id)
	if !ok {
		t.Fatalf("bad id %q", id)
	}
	return sid
}

func appendConfig(t testing.TB) []byte {
	t.Helper()
	return raft.EncodeConfiguration(testConfiguration())
}
