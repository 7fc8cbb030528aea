package raftfsm

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// issued is an op a client has sent, kept so it can be retried verbatim.
type issued struct{ op Op }

// TestModel drives the FSM and the reference model with the same random
// batches (new ops, pipelined out-of-order seqs, verbatim retries in the
// same or later entries, seq 0 ops) and compares every Result, then state;
// at random points it snapshots, applies more, persists, restores into a
// fresh FSM and checks the restored state equals the model at snapshot time.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	for _, o := range []Options{{MaxDedupClients: 4, DedupWindow: 8}, {MaxDedupClients: 64, DedupWindow: 64}} {
		runModel(t, rand.New(rand.NewPCG(seed, uint64(o.DedupWindow))), o, 3000)
	}
}

func runModel(t *testing.T, r *rand.Rand, o Options, steps int) {
	f := mustNew(t, o)
	m := newModel(o)
	const nGames, nClients = 6, 7
	pools := make([][]uint64, nGames)
	for g := range pools {
		n := 1 + r.IntN(150)
		for range n {
			pools[g] = append(pools[g], randID(r))
		}
	}
	gameID := func(g int) uint64 { return interestingIDs[g%len(interestingIDs)] + uint64(g/len(interestingIDs)) }
	nextSeq := make([]uint64, nClients)
	var history []issued
	index := uint64(1)
	snaps, expired := 0, 0
	for step := range steps {
		ops := make([]Op, 1+r.IntN(8))
		for i := range ops {
			if len(history) > 0 && r.IntN(4) == 0 {
				ops[i] = history[r.IntN(len(history))].op // verbatim retry
				continue
			}
			g := r.IntN(nGames)
			op := Op{Kind: OpLike, Game: gameID(g), User: pools[g][r.IntN(len(pools[g]))]}
			if r.IntN(3) == 0 {
				op.Kind = OpUnlike
			}
			if c := r.IntN(nClients + 1); c < nClients {
				op.ClientID = uint64(c) * 0x9E3779B97F4A7C15
				nextSeq[c] += 1 + uint64(r.IntN(3)) // gaps: pipelined ops arriving out of order
				op.Seq = nextSeq[c]
				if r.IntN(5) == 0 && op.Seq > 3 {
					op.Seq -= uint64(r.IntN(3)) // late arrival of an earlier seq
				}
				history = append(history, issued{op})
				if len(history) > 200 {
					history = history[1:]
				}
			}
			ops[i] = op
		}
		res := applyBatch(t, f, index, ops)
		for i, op := range ops {
			want := m.apply(op, index)
			if want.Err != nil {
				expired++
			}
			if got := res[i]; got.Changed != want.Changed || got.Count != want.Count || got.Index != want.Index || !errors.Is(got.Err, want.Err) || (got.Err == nil) != (want.Err == nil) {
				t.Fatalf("step %d index %d op %d %+v: got %+v want %+v", step, index, i, op, got, want)
			}
		}
		for _, op := range ops {
			if f.Has(op.Game, op.User) != m.sets[op.Game][op.User] {
				t.Fatalf("step %d: Has(%d,%d) mismatch", step, op.Game, op.User)
			}
		}
		if f.AppliedIndex() != index {
			t.Fatalf("AppliedIndex %d want %d", f.AppliedIndex(), index)
		}
		index += 1 + uint64(r.IntN(2))
		if step%50 == 0 {
			checkEqual(t, f, m)
		}
		if r.IntN(100) == 0 {
			snaps++
			atSnap := m.clone()
			snapIndex := f.AppliedIndex()
			snap, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Snapshot(); !errors.Is(err, ErrSnapshotInProgress) {
				t.Fatalf("second Snapshot: %v", err)
			}
			// Apply more before Persist: copy-on-write must keep the snapshot intact.
			for range r.IntN(20) {
				more := []Op{{Kind: OpKind(1 + r.IntN(2)), Game: gameID(r.IntN(nGames)), User: randID(r)}}
				g := r.IntN(nGames)
				more = append(more, Op{Kind: OpKind(1 + r.IntN(2)), Game: gameID(g), User: pools[g][r.IntN(len(pools[g]))]})
				applyBatch(t, f, index, more)
				for _, op := range more {
					m.apply(op, index)
				}
				index++
			}
			b := persist(t, snap)
			snap.Release()
			snap.Release() // idempotent
			g := mustNew(t, o)
			if err := restore(g, b); err != nil {
				t.Fatalf("restore: %v", err)
			}
			checkEqual(t, g, atSnap)
			if g.AppliedIndex() != snapIndex {
				t.Fatalf("restored AppliedIndex %d want %d", g.AppliedIndex(), snapIndex)
			}
			checkEqual(t, f, m)
			if r.IntN(2) == 0 { // continue on the restored replica: dedup state must have survived
				f, m = g, atSnap
			}
		}
	}
	checkEqual(t, f, m)
	if snaps == 0 || (o.DedupWindow <= 8 && expired == 0) {
		t.Errorf("weak run: %d snapshots, %d expired retries", snaps, expired)
	}
	t.Logf("window %d: %d steps, %d snapshots, %d expired retries, %d games", o.DedupWindow, steps, snaps, expired, len(m.sets))
}
