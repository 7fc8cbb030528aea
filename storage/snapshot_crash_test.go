package storage

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// crasher takes a crash image (CrashClone) of a crashable MemFS right before
// the n-th file system operation, as if the machine lost power there.
type crasher struct {
	mem   *vfs.MemFS
	rng   *rand.Rand // for CrashClone only
	at    int64
	ops   atomic.Int64
	once  sync.Once
	image *vfs.MemFS
	taken atomic.Bool
	armed atomic.Bool // operations count only once armed
}

func (c *crasher) MaybeError(errorfs.Op) error {
	if c.armed.Load() && c.ops.Add(1) == c.at {
		c.crash()
	}
	return nil
}

func (c *crasher) String() string { return "crasher" }

func (c *crasher) crash() {
	c.once.Do(func() {
		c.image = c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: c.rng.IntN(101), RNG: c.rng})
		c.taken.Store(true)
	})
}

// A run makes 8 to 16 file system operations after the database is created
// (Pebble batches WAL writes and syncs); crash points are drawn from the
// first 18, so most runs crash mid-way and some only at the end. The crasher is armed only once the database exists: a crash while
// Pebble creates a brand-new database leaves no snapshot to lose, and
// Pebble's creation is not crash-atomic on vfs.MemFS (a marker can survive
// without its manifest).
//
// TestSnapshotCrashSafety writes snapshots (some cancelled) and crashes at a
// random file system operation. After restart, only complete snapshots are
// listed, each reads back byte-identical, every snapshot whose Close
// returned before the crash is still there (unless reaped), and no orphan
// chunks remain.
func TestSnapshotCrashSafety(t *testing.T) {
	rng, _ := testRNG(t)
	const iterations = 100
	for iter := range iterations {
		crashRNG := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		runCrash(t, iter, rng, crashRNG)
	}
}

func runCrash(t *testing.T, iter int, rng, crashRNG *rand.Rand) {
	const chunk, retain = 128, 2
	mem := vfs.NewCrashableMem()
	c := &crasher{mem: mem, rng: crashRNG, at: 1 + rng.Int64N(18)}
	opts := SnapshotOptions{FS: errorfs.Wrap(mem, c), ChunkSize: chunk, Retain: retain, MemTableSize: 1 << 20}
	db, err := OpenSnapshotDB("snap", opts)
	if err != nil {
		t.Fatalf("iteration %d: open: %v", iter, err)
	}
	c.armed.Store(true)
	s := db.Store(1)
	written := map[string][]byte{} // every snapshot whose Close was called
	var durable []string           // Close returned before the crash, in order
	for i := range 8 {
		data := randomBytes(rng, rng.IntN(6*chunk))
		sink, err := s.Create(1, 1, uint64(i+1), testConfiguration(), 1, nil)
		if err != nil {
			t.Fatalf("iteration %d: Create: %v", iter, err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(2*chunk))
			if _, err := sink.Write(rest[:n]); err != nil {
				t.Fatalf("iteration %d: Write: %v", iter, err)
			}
			rest = rest[n:]
		}
		if rng.IntN(4) == 0 {
			if err := sink.Cancel(); err != nil {
				t.Fatalf("iteration %d: Cancel: %v", iter, err)
			}
			continue
		}
		written[sink.ID()] = data
		if err := sink.Close(); err != nil {
			t.Fatalf("iteration %d: Close: %v", iter, err)
		}
		if !c.taken.Load() {
			durable = append(durable, sink.ID())
		}
	}
	// Abandon a sink mid-write: its chunks are orphans in the crash image
	// if the crash comes later.
	abandoned, err := s.Create(1, 1, 100, testConfiguration(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := abandoned.Write(randomBytes(rng, 3*chunk)); err != nil {
		t.Fatal(err)
	}
	c.crash() // crash now if no earlier operation did
	if err := abandoned.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the crash image.
	db2, err := OpenSnapshotDB("snap", SnapshotOptions{FS: c.image, ChunkSize: chunk, Retain: retain})
	if err != nil {
		t.Fatalf("iteration %d (crash before op %d): reopen: %v", iter, c.at, err)
	}
	defer db2.Close()
	s2 := db2.Store(1)
	listed := listIDs(t, s2)
	for _, id := range listed {
		want, ok := written[id]
		if !ok {
			t.Fatalf("iteration %d (crash before op %d): listed %s was never closed", iter, c.at, id)
		}
		if _, got, err := readSnapshot(s2, id); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("iteration %d (crash before op %d): snapshot %s: err %v, identical %v", iter, c.at, id, err, bytes.Equal(got, want))
		}
	}
	// The newest durable snapshots survive; a later snapshot whose Close
	// was interrupted may have reaped one of them.
	if len(durable) > 0 {
		keep := durable[max(0, len(durable)-retain):]
		newerListed := len(listed) > 0 && listed[0] > durable[len(durable)-1]
		if newerListed {
			keep = keep[1:]
		}
		for _, id := range keep {
			if !slices.Contains(listed, id) {
				t.Fatalf("iteration %d (crash before op %d): durable snapshot %s lost; listed %v", iter, c.at, id, listed)
			}
		}
	}
	// Garbage collection on open left only chunks of listed snapshots.
	want := 0
	for _, id := range listed {
		want += (len(written[id]) + chunk - 1) / chunk
	}
	if n := countKeys(t, db2, []byte{chunkKeyPrefix}); n != want {
		t.Fatalf("iteration %d (crash before op %d): %d chunk keys, want %d", iter, c.at, n, want)
	}
}
