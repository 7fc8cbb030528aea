package raftfsm

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// loadRandom fills f and m with random likes (small, chunked and roaring
// games) and some dedup clients.
func loadRandom(t *testing.T, r *rand.Rand, f *FSM, m *model, index uint64) uint64 {
	var ops []Op
	for g := range uint64(40) {
		n := 1 + r.IntN(100)
		if g%10 == 0 {
			n = 5000 + r.IntN(5000)
		}
		for range n {
			u := randID(r)
			if g == 20 {
				u = r.Uint64N(1 << 14) // dense: roaring
			}
			ops = append(ops, Op{Kind: OpLike, Game: g * 0x100000001, User: u, ClientID: uint64(r.IntN(5)) + 1, Seq: index<<10 + uint64(len(ops))})
			if len(ops) == 512 {
				applyBatch(t, f, index, ops)
				for _, op := range ops {
					m.apply(op, index)
				}
				ops, index = ops[:0], index+1
			}
		}
	}
	applyBatch(t, f, index, ops)
	for _, op := range ops {
		m.apply(op, index)
	}
	return index + 1
}

// TestSnapshotCorrupt: truncating a snapshot stream anywhere, flipping any
// byte, or appending bytes makes Restore fail with ErrCorruptSnapshot (or
// ErrUnknownVersion) and leaves the FSM's previous state untouched.
func TestSnapshotCorrupt(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	f := mustNew(t, DefaultOptions())
	m := newModel(DefaultOptions())
	loadRandom(t, r, f, m, 1)
	if f.Stats().RoaringGames == 0 || f.Stats().ChunkedGames == 0 {
		t.Fatalf("want all representations: %+v", f.Stats())
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	good := persist(t, snap)
	snap.Release()

	victim := mustNew(t, DefaultOptions())
	vm := newModel(DefaultOptions())
	applyBatch(t, victim, 3, []Op{{Kind: OpLike, Game: 5, User: 6}})
	vm.apply(Op{Kind: OpLike, Game: 5, User: 6}, 3)
	check := func(what string, b []byte) {
		err := restore(victim, b)
		if !errors.Is(err, ErrCorruptSnapshot) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("%s: Restore = %v", what, err)
		}
		if victim.AppliedIndex() != 3 {
			t.Fatalf("%s: state changed", what)
		}
	}
	cuts := []int{0, 1, snapHeaderLen - 1, snapHeaderLen, snapHeaderLen + 3, len(good) - 1}
	for range 200 {
		cuts = append(cuts, r.IntN(len(good)))
	}
	for _, n := range cuts {
		check("truncated", good[:n])
	}
	for range 300 {
		b := slices.Clone(good)
		i := r.IntN(len(b))
		b[i] ^= byte(1 + r.IntN(255))
		check("flipped", b)
	}
	check("appended", append(slices.Clone(good), 0))
	checkEqual(t, victim, vm)

	if err := restore(victim, good); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, victim, m)
}

// TestSnapshotCOW takes a snapshot, then changes every game (including
// deleting and re-creating some and converting representations) before
// Persist: the restored state must equal the state at Snapshot.
func TestSnapshotCOW(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	f := mustNew(t, DefaultOptions())
	m := newModel(DefaultOptions())
	index := loadRandom(t, r, f, m, 1)
	atSnap := m.clone()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Delete whole games, add to others, create new ones.
	for g, s := range m.clone().sets {
		var ops []Op
		for u := range s {
			if g%3 == 0 || r.IntN(2) == 0 {
				ops = append(ops, Op{Kind: OpUnlike, Game: g, User: u})
			}
		}
		for range 50 {
			ops = append(ops, Op{Kind: OpLike, Game: g + uint64(r.IntN(2)), User: randID(r)})
		}
		applyBatch(t, f, index, ops)
		for _, op := range ops {
			m.apply(op, index)
		}
		index++
	}
	extra := Op{Kind: OpLike, Game: 1, User: 1, ClientID: 99, Seq: 1}
	applyBatch(t, f, index, []Op{extra})
	m.apply(extra, index)
	checkEqual(t, f, m)
	b := persist(t, snap)
	snap.Release()
	g := mustNew(t, DefaultOptions())
	if err := restore(g, b); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, g, atSnap)
	if g.Stats().DedupClients != 5 {
		t.Fatalf("restored dedup clients %d, want 5", g.Stats().DedupClients)
	}
	// A second snapshot after Release works, and mutation in place resumes.
	snap2, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b2 := persist(t, snap2)
	snap2.Release()
	h := mustNew(t, DefaultOptions())
	if err := restore(h, b2); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, h, m)
}
