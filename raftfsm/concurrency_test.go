package raftfsm

import (
	"sync"
	"sync/atomic"
	"testing"
)

// checkCountInvariant asserts, under the stripe's read lock, that game's
// count equals the cardinality of its set.
func checkCountInvariant(t *testing.T, f *FSM, id uint64) {
	s := &f.st.Load()[stripeIndex(id)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.m[id]
	if !ok {
		return
	}
	n := uint64(len(g.appendIDs(nil)))
	if g.big != nil && g.big.rb != nil && g.big.rb.GetCardinality() != g.big.n {
		t.Errorf("game %d: roaring cardinality %d, count %d", id, g.big.rb.GetCardinality(), g.big.n)
	}
	if n != g.count() {
		t.Errorf("game %d: %d ids, count %d", id, n, g.count())
	}
}

// TestConcurrentReadsApplySnapshot runs readers (Has, Count, Stats) against
// the FSM goroutine applying batches and taking snapshots, which a separate
// goroutine persists (while applies go on), restores and checks, as raft
// does. Every game grows as the prefix 0,1,2,... of users and then shrinks
// from the top, so while growing a reader that saw count c must find user
// c-1; count always equals set size. Run with -race.
func TestConcurrentReadsApplySnapshot(t *testing.T) {
	const games = 16
	f := mustNew(t, DefaultOptions())
	var grow atomic.Bool
	grow.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				g := i % games
				c := f.Count(g)
				// grow is cleared before the first unlike is applied, so if it
				// is still set after Has returned, nothing was removed.
				if c > 0 && !f.Has(g, c-1) && grow.Load() {
					t.Errorf("growing game %d: count %d but user %d missing", g, c, c-1)
				}
				if f.Has(g, c+5000) {
					t.Errorf("game %d has user beyond any prefix", g)
				}
				if i%8 == 0 {
					checkCountInvariant(t, f, g)
				}
				if i%1000 == 0 {
					f.Stats()
				}
			}
		}()
	}

	type snapJob struct {
		snap  interface{ Release() }
		bytes func() []byte
		want  [games]uint64
	}
	jobs := make(chan snapJob)
	done := make(chan struct{})
	go func() { // raft's snapshot goroutine
		defer close(done)
		for j := range jobs {
			b := j.bytes()
			j.snap.Release()
			g := mustNew(t, DefaultOptions())
			if err := restore(g, b); err != nil {
				t.Error(err)
				continue
			}
			for id := range uint64(games) {
				if c := g.Count(id); c != j.want[id] {
					t.Errorf("restored game %d count %d, want %d", id, c, j.want[id])
				}
				if c := j.want[id]; c > 0 && (!g.Has(id, 0) || !g.Has(id, c-1) || g.Has(id, c)) {
					t.Errorf("restored game %d is not the prefix 0..%d", id, c-1)
				}
			}
		}
	}()

	var counts [games]uint64
	index := uint64(1)
	var pending chan struct{}
	for round := range 240 {
		if round == 160 {
			grow.Store(false)
		}
		ops := make([]Op, 0, 64)
		for g := range uint64(games) {
			for range 4 {
				if round < 160 {
					ops = append(ops, Op{Kind: OpLike, Game: g, User: counts[g]})
					counts[g]++
				} else if counts[g] > 0 {
					counts[g]--
					ops = append(ops, Op{Kind: OpUnlike, Game: g, User: counts[g]})
				}
			}
		}
		applyBatch(t, f, index, ops)
		index++
		if round%40 == 0 {
			if pending != nil {
				<-pending
			}
			snap, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			p := make(chan struct{})
			pending = p
			jobs <- snapJob{snap: snap, want: counts, bytes: func() []byte {
				defer close(p)
				return persist(t, snap)
			}}
		}
	}
	close(jobs)
	<-done
	close(stop)
	wg.Wait()
	for g := range uint64(games) {
		if f.Count(g) != counts[g] {
			t.Fatalf("game %d: count %d want %d", g, f.Count(g), counts[g])
		}
	}
}
