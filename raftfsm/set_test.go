package raftfsm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func kind(g *game) string {
	switch {
	case g.big == nil:
		return "small"
	case g.big.rb != nil:
		return "roaring"
	}
	return "chunked"
}

// checkGame asserts g holds exactly the model set, in order, with count ==
// cardinality, and that chunk invariants hold.
func checkGame(t *testing.T, g *game, want map[uint64]bool) {
	t.Helper()
	ids := g.appendIDs(nil)
	if uint64(len(ids)) != g.count() || len(ids) != len(want) {
		t.Fatalf("%s: %d ids, count %d, model %d", kind(g), len(ids), g.count(), len(want))
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("%s: ids not sorted", kind(g))
	}
	for _, id := range ids {
		if !want[id] || !g.contains(id) {
			t.Fatalf("%s: id %d: model %v contains %v", kind(g), id, want[id], g.contains(id))
		}
	}
	if g.big != nil && g.big.rb == nil {
		for i, ch := range g.big.chunks {
			if len(ch.lo) == 0 || len(ch.lo) > chunkMax || ch.first != ch.first&^0xffffffff|uint64(ch.lo[0]) {
				t.Fatalf("chunk %d: len %d first %x lo0 %x", i, len(ch.lo), ch.first, ch.lo[0])
			}
		}
	}
}

// TestRepresentationTransitions grows a game small → chunked → roaring (dense
// ids) with ids spanning the whole uint64 range, then shrinks it back to
// chunked and small, checking against a map throughout, also with a
// copy-on-write generation active.
func TestRepresentationTransitions(t *testing.T) {
	seed := testSeed(t)
	for _, cowActive := range []bool{false, true} {
		r := rand.New(rand.NewPCG(seed, 7))
		want := map[uint64]bool{}
		var g game
		c := cowCtx{active: cowActive, gen: 1}
		seen := map[string]bool{}
		var order []string
		note := func() {
			if k := kind(&g); len(order) == 0 || order[len(order)-1] != k {
				order = append(order, k)
			}
			seen[kind(&g)] = true
		}
		add := func(x uint64) {
			if want[x] {
				if !g.contains(x) {
					t.Fatalf("missing %d", x)
				}
				return
			}
			want[x] = true
			if len(want) == 1 {
				g = game{small: []uint64{x}, gen: c.gen}
				return
			}
			if c.mustCopy(g.gen) {
				g = g.cloneShallow(c.gen)
			}
			g.insert(x, c)
			note()
		}
		del := func(x uint64) {
			if !want[x] {
				return
			}
			delete(want, x)
			if len(want) == 0 {
				g = game{}
				return
			}
			g.remove(x, c)
			note()
		}
		for _, x := range interestingIDs {
			add(x)
		}
		// Sparse over two high words: chunk splits.
		for range 20000 {
			add(r.Uint64N(1 << 33))
		}
		checkGame(t, &g, want)
		// Dense in one high word: roaring becomes smaller.
		for range 200000 {
			add(5<<32 | r.Uint64N(1<<18))
		}
		checkGame(t, &g, want)
		ids := slices.Sorted(func(yield func(uint64) bool) {
			for x := range want {
				if !yield(x) {
					return
				}
			}
		})
		r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for i, x := range ids {
			if x == 0 || x == math.MaxUint64 {
				continue
			}
			del(x)
			if i%20000 == 0 {
				checkGame(t, &g, want)
			}
		}
		checkGame(t, &g, want)
		if !seen["chunked"] || !seen["roaring"] || kind(&g) != "small" {
			t.Fatalf("cow=%v: kinds seen %v, final %s", cowActive, order, kind(&g))
		}
		t.Logf("cow=%v: representation sequence %v", cowActive, order)
	}
}

// TestBuildGame checks the bulk builder used by Restore picks a
// representation and keeps every id.
func TestBuildGame(t *testing.T) {
	for _, ids := range [][]uint64{
		{0}, {0, math.MaxUint64}, interestingIDs,
		func() (s []uint64) {
			for i := range uint64(100000) {
				s = append(s, i*3)
			}
			return s
		}(),
	} {
		s := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(ids)))))
		g := buildGame(s, 0)
		want := map[uint64]bool{}
		for _, x := range s {
			want[x] = true
		}
		checkGame(t, &g, want)
	}
}
