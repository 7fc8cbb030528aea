package raftfsm

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/likes/likes/storage"
)

var (
	mem50m      = flag.Bool("mem50m", false, "run TestMemory50M at full size (50M likes over 1M games; minutes, ~3 GiB)")
	memLikes    = flag.Int("mem.likes", 50_000_000, "likes to apply in TestMemory50M with -mem50m")
	memGames    = flag.Int("mem.games", 1_000_000, "games in TestMemory50M with -mem50m")
	memZipfS    = flag.Float64("mem.zipf", 1.1, "Zipf exponent s (> 1) of game popularity")
	memUserBits = flag.Uint("mem.userbits", 33, "user ids are uniform in [0, 2^userbits)")
)

// memGoalBytesPerLike is the heap budget per like on the 50M workload
// (issue: at most 8 B of Go heap per like, ids in [0, 2^33)).
const memGoalBytesPerLike = 8.0

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rssBytes returns the process's resident set size from /proc (0 if unknown).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// zipfLoad applies likes Zipf-skewed over games (ranks shuffled into
// random game ids) with users uniform in [0, 2^userBits), in entries of
// 4096 ops, and returns the number of ops that changed membership and the
// (game, user) of every 1024th like for later spot checks.
func zipfLoad(t testing.TB, f *FSM, seed uint64, likes, games int, s float64, userBits uint) (changed uint64, sample [][2]uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, s, 1, uint64(games-1))
	gameID := make([]uint64, games)
	for i := range gameID {
		gameID[i] = r.Uint64() // game ids are opaque 64-bit values
	}
	const perEntry = 4096
	ops := make([]Op, 0, perEntry)
	var buf []byte
	index := f.AppliedIndex()
	for done := 0; done < likes; {
		ops = ops[:0]
		for len(ops) < perEntry && done < likes {
			op := Op{Kind: OpLike, Game: gameID[z.Uint64()], User: r.Uint64N(1 << userBits)}
			if done%1024 == 0 {
				sample = append(sample, [2]uint64{op.Game, op.User})
			}
			ops = append(ops, op)
			done++
		}
		buf = AppendBatch(buf[:0], ops)
		index++
		res, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: buf}).([]Result)
		if !ok || len(res) != len(ops) {
			t.Fatalf("Apply at %d: %d results for %d ops", index, len(res), len(ops))
		}
		for _, x := range res {
			if x.Changed {
				changed++
			}
		}
	}
	return changed, sample
}

// TestMemory50M loads Zipf-skewed likes into one FSM and measures the Go
// heap and RSS per like, then the restart path: Persist into the node's
// Pebble snapshot store on disk, read it back and Restore into a fresh FSM,
// timed, checking that the restored state is the same.
//
// By default it runs a scaled-down load (1M likes over 20k games) and
// asserts the budget; with -mem50m it runs the workload (50M likes
// over 1M games, users uniform in [0, 2^33)) — `make mem50m`. Seeded
// (-seed=N replays).
func TestMemory50M(t *testing.T) {
	// Scaled down, the load keeps the full run's 50 likes per game.
	likes, games := 1_000_000, 20_000
	if *mem50m {
		likes, games = *memLikes, *memGames
	} else if testing.Short() {
		likes, games = 300_000, 6_000
	}
	seed := testSeed(t)
	base := liveHeap()
	f := mustNew(t, DefaultOptions())
	start := time.Now()
	changed, sample := zipfLoad(t, f, seed, likes, games, *memZipfS, *memUserBits)
	loadTime := time.Since(start)

	st := f.Stats()
	if st.Likes != changed {
		t.Fatalf("Stats.Likes %d, but %d likes changed membership", st.Likes, changed)
	}
	heap := liveHeap() - base
	rss := rssBytes()
	perLike := float64(heap) / float64(st.Likes)
	t.Logf("workload: %d likes applied (%d distinct) over %d games (%d with likes), zipf s=%.2f, users in [0, 2^%d)",
		likes, st.Likes, games, st.Games, *memZipfS, *memUserBits)
	t.Logf("games by representation: small %d, chunked %d, roaring %d", st.SmallGames, st.ChunkedGames, st.RoaringGames)
	t.Logf("load: %v (%.0f likes/s applied)", loadTime.Round(time.Millisecond), float64(likes)/loadTime.Seconds())
	t.Logf("heap: %d B live = %.2f B/like (sets estimate %.2f B/like, map estimate %.2f B/like); process RSS %d MiB = %.2f B/like",
		heap, perLike, float64(st.SetBytes)/float64(st.Likes), float64(st.MapBytes)/float64(st.Likes), rss>>20, float64(rss)/float64(st.Likes))
	if perLike > memGoalBytesPerLike {
		t.Errorf("heap %.2f B/like, budget %.1f", perLike, memGoalBytesPerLike)
	}

	// The restart path: snapshot to Pebble on disk, then restore.
	dir := t.TempDir()
	db, err := storage.OpenSnapshotDB(filepath.Join(dir, "snapshots"), storage.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.Store(0)
	conf := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: "n1"}}}
	start = time.Now()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	captureTime := time.Since(start)
	sink, err := store.Create(1, f.AppliedIndex(), 1, conf, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	persistTime := time.Since(start)
	metas, err := store.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("List: %v %v", metas, err)
	}
	t.Logf("snapshot: capture %v, persist %v, %d B = %.2f B/like",
		captureTime.Round(time.Microsecond), persistTime.Round(time.Millisecond), metas[0].Size, float64(metas[0].Size)/float64(st.Likes))

	applied := f.AppliedIndex()
	f = nil
	base = liveHeap()
	g := mustNew(t, DefaultOptions())
	start = time.Now()
	_, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Restore(rc); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	restoreTime := time.Since(start)
	st2 := g.Stats()
	if st2.Likes != st.Likes || st2.Games != st.Games || g.AppliedIndex() != applied {
		t.Fatalf("restored likes %d games %d index %d, want %d %d %d", st2.Likes, st2.Games, g.AppliedIndex(), st.Likes, st.Games, applied)
	}
	for _, p := range sample {
		if !g.Has(p[0], p[1]) {
			t.Fatalf("restored state lost like (game %d, user %d)", p[0], p[1])
		}
	}
	heap2 := liveHeap() - base
	t.Logf("restart: read + verify + restore %v (%.0f likes/s); heap after restore %.2f B/like",
		restoreTime.Round(time.Millisecond), float64(st.Likes)/restoreTime.Seconds(), float64(heap2)/float64(st.Likes))
	if p := float64(heap2) / float64(st.Likes); p > memGoalBytesPerLike {
		t.Errorf("heap after restore %.2f B/like, budget %.1f", p, memGoalBytesPerLike)
	}
	runtime.KeepAlive(g)
}

// TestMemoryBySize prints, per set size, the heap bytes per like of each
// representation the FSM picks, for sparse ids (uniform in [0, 2^33)) and
// dense ids (a contiguous range): the table in docs/fsm-memory.md. It
// asserts that the chosen representation is never more than the hysteresis
// factor (5/4) above the cheapest one measured for that size.
func TestMemoryBySize(t *testing.T) {
	seed := testSeed(t)
	sizes := []int{1, 4, 16, 64, 65, 256, 1024, 4096, 16384, 65536}
	perMeasure := 1 << 18 // ids per measurement
	switch {
	case *mem50m:
		sizes, perMeasure = append(sizes, 262144, 1<<20), 1<<20
	case testing.Short():
		sizes = []int{1, 16, 64, 65, 1024, 16384}
	}
	type layout struct {
		name string
		ids  func(r *rand.Rand, n int) []uint64
	}
	layouts := []layout{
		{"sparse", func(r *rand.Rand, n int) []uint64 { return uniqueSorted(r, n, 1<<33) }},
		{"dense", func(r *rand.Rand, n int) []uint64 {
			lo := r.Uint64N(1 << 33)
			ids := make([]uint64, n)
			for i := range ids {
				ids[i] = lo + uint64(i)
			}
			return ids
		}},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n| ids | layout | small []uint64 | chunked []uint32 | roaring64 | chosen |\n|---|---|---|---|---|---|\n")
	for _, lay := range layouts {
		for _, n := range sizes {
			r := rand.New(rand.NewPCG(seed, uint64(n)))
			copies := max(1, perMeasure/n)
			idsets := make([][]uint64, copies)
			for i := range idsets {
				idsets[i] = lay.ids(r, n)
			}
			measure := func(build func(ids []uint64) game) (float64, string) {
				out := make([]game, copies)
				before := liveHeap()
				for i, ids := range idsets {
					out[i] = build(ids)
				}
				after := liveHeap()
				k := kind(&out[0])
				runtime.KeepAlive(out)
				return float64(after-before) / float64(copies*n), k
			}
			small, _ := measure(func(ids []uint64) game { return game{small: append([]uint64(nil), ids...)} })
			chunked, _ := measure(func(ids []uint64) game { return game{big: newBigSet(ids, 0)} })
			roar, _ := measure(func(ids []uint64) game { b := newBigSet(ids, 0); b.toRoaring(); return game{big: b} })
			chosen, k := measure(func(ids []uint64) game { return buildGame(ids, 0) })
			runtime.KeepAlive(idsets) // live through every measurement, or its freeing skews the last
			fmt.Fprintf(&report, "| %d | %s | %.2f | %.2f | %.2f | %s %.2f |\n", n, lay.name, small, chunked, roar, k, chosen)
			if n <= smallMax {
				// Up to smallMax ids a set is always one sorted []uint64.
				if k != "small" || chosen > small+0.5 || (!raceOn && small > 8.5) {
					t.Errorf("%s %d ids: chosen %s costs %.2f B/id (small %.2f), want small at 8", lay.name, n, k, chosen, small)
				}
				continue
			}
			best := min(chunked, roar)
			// Conversions need the other form to be hysteresisDen/hysteresisNum
			// times smaller, so the choice may be up to that factor off.
			if chosen > best*hysteresisDen/hysteresisNum+0.5 {
				t.Errorf("%s %d ids: chosen %s costs %.2f B/id, best measured %.2f", lay.name, n, k, chosen, best)
			}
		}
	}
	t.Log(report.String())
}

// uniqueSorted returns n distinct ascending ids uniform in [0, limit).
func uniqueSorted(r *rand.Rand, n int, limit uint64) []uint64 {
	seen := make(map[uint64]struct{}, n)
	for len(seen) < n {
		seen[r.Uint64N(limit)] = struct{}{}
	}
	ids := make([]uint64, 0, n)
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
