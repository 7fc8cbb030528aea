package bench

import (
	"math"
	"testing"
)

func testWorkload(t *testing.T, o Options, lanes int) *Workload {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("options: %v", err)
	}
	return NewWorkload(o, lanes)
}

func TestWorkloadDeterministicBySeed(t *testing.T) {
	o := Options{Seed: 7, Games: 1000, Preload: 5000, Mix: Mix{Has: 40, HasMany: 20, Count: 10, Like: 20, Unlike: 10}, BatchSize: 4}
	gen := func(seed uint64) []Op {
		o.Seed = seed
		w := testWorkload(t, o, 8)
		var ops []Op
		for id := range 8 {
			l := w.lane(id)
			for range 200 {
				op := l.next()
				op.Games = append([]uint64(nil), op.Games...)
				ops = append(ops, op)
			}
		}
		for i := range uint64(100) {
			g, u := w.PreloadLike(i)
			ops = append(ops, Op{Game: g, User: u})
		}
		return ops
	}
	a, b, c := gen(7), gen(7), gen(8)
	same := func(x, y []Op) bool {
		for i := range x {
			if x[i].Kind != y[i].Kind || x[i].Game != y[i].Game || x[i].User != y[i].User || len(x[i].Games) != len(y[i].Games) {
				return false
			}
			for j := range x[i].Games {
				if x[i].Games[j] != y[i].Games[j] {
					return false
				}
			}
		}
		return len(x) == len(y)
	}
	if !same(a, b) {
		t.Fatal("same seed gave different requests")
	}
	if same(a, c) {
		t.Fatal("seeds 7 and 8 gave the same requests")
	}
	kinds := map[OpKind]int{}
	for _, op := range a[:1600] {
		kinds[op.Kind]++
		gs := append([]uint64{op.Game}, op.Games...)
		if op.Kind == OpHasMany {
			gs = op.Games
		}
		for _, g := range gs {
			if g < 1 || g > 1000 {
				t.Fatalf("%v: game %d outside [1, 1000]", op.Kind, g)
			}
		}
		if op.Kind == OpHasMany && len(op.Games) != 4 {
			t.Fatalf("HAS_MANY with %d games, want 4", len(op.Games))
		}
	}
	for k := range numOpKinds {
		if kinds[k] == 0 {
			t.Errorf("no %v in 1600 requests of a mix that has it", k)
		}
	}
}

func TestWorkloadZipfSkew(t *testing.T) {
	const games, draws = 10_000, 200_000
	for _, s := range []float64{0.8, 1.0, 1.3} {
		w := testWorkload(t, Options{Games: games, ZipfExponent: s}, 1)
		l := w.lane(0)
		hits := make([]int, games+1)
		for range draws {
			hits[l.game()]++
		}
		// The hottest game's share matches 1/H(n, s) within 5%.
		var h float64
		for k := 1; k <= games; k++ {
			h += math.Pow(float64(k), -s)
		}
		want := draws / h
		if got := float64(hits[1]); math.Abs(got-want) > 0.05*want {
			t.Errorf("s=%v: game 1 drawn %v times, want %.0f ±5%%", s, got, want)
		}
		// Rank 1 over rank 10 is 10^s, within 10%.
		if r := float64(hits[1]) / float64(hits[10]); math.Abs(r-math.Pow(10, s)) > 0.1*math.Pow(10, s) {
			t.Errorf("s=%v: hits(1)/hits(10) = %.2f, want %.2f", s, r, math.Pow(10, s))
		}
		// The top 1% of games take far more than 1% of draws.
		top := 0
		for g := 1; g <= games/100; g++ {
			top += hits[g]
		}
		if top < draws/5 {
			t.Errorf("s=%v: top 1%% of games took %d of %d draws: not skewed", s, top, draws)
		}
	}
}

func TestWorkloadLanesOwnTheirWrites(t *testing.T) {
	const lanes = 12
	w := testWorkload(t, Options{Games: 100, Mix: Mix{Like: 70, Unlike: 30}}, lanes)
	for id := range lanes {
		l := w.lane(id)
		likes, realUnlikes := 0, 0
		liked := map[pair]bool{}
		for range 2000 {
			op := l.next()
			if op.User%lanes != uint64(id) {
				t.Fatalf("lane %d wrote user %d, owned by lane %d", id, op.User, op.User%lanes)
			}
			if op.User >= 1<<33 {
				t.Fatalf("user %d outside the user space", op.User)
			}
			p := pair{op.Game, op.User}
			if op.Kind == OpLike {
				likes++
				liked[p] = true
			} else if liked[p] {
				realUnlikes++
				delete(liked, p)
			}
		}
		// Unlikes remove earlier likes (the ring), not random absent pairs.
		if unlikes := 2000 - likes; realUnlikes < unlikes*9/10 {
			t.Errorf("lane %d: %d of %d unlikes removed a like", id, realUnlikes, unlikes)
		}
	}
}
