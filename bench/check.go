package bench

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
)

// The correctness check. The bench knows what the targets should hold for
// a sample of games, from the preload (a pure function of the seed) and the
// writes it sent: a lane owns the users it writes (see lane.ownedUser), so
// the last write a lane sent for a pair is that pair's final state however
// the lanes interleaved. A write that failed leaves its pair, and its game's
// count, unknown: those are skipped, and reported as skipped.

type pair struct{ game, user uint64 }

// Pair states in a lane log.
const (
	stateUnliked uint8 = iota
	stateLiked
	stateUnknown
)

// Check limits.
const (
	checkPreloadPairs = 256 // preloaded pairs read back per sampled game, at most
	checkAbsentPairs  = 64  // random pairs per sampled game, mostly absent
	checkChunk        = 256 // requests per Exec during the check
	maxMismatches     = 20  // mismatches quoted in the result
)

// expectation holds the sampled games and what the bench wrote to them.
// games and sampled are read-only after newExpectation; failed and the
// merged state are guarded by mu.
type expectation struct {
	w       *Workload
	games   []uint64 // sampled game ids, hottest first
	sampled map[uint64]bool

	mu     sync.Mutex
	failed map[pair]bool // preload writes that failed (outcome unknown)
	final  map[pair]uint8
}

// newExpectation samples o.SampleGames games: the hottest half (where
// concurrent writes collide most) and the rest spread evenly over the
// popularity ranks.
func newExpectation(w *Workload) *expectation {
	o := w.o
	n := min(o.SampleGames, o.Games)
	ex := &expectation{w: w, sampled: make(map[uint64]bool, n), failed: map[pair]bool{}, final: map[pair]uint8{}}
	hot := (n + 1) / 2
	add := func(rank int) {
		g := w.GameID(rank)
		if !ex.sampled[g] {
			ex.sampled[g] = true
			ex.games = append(ex.games, g)
		}
	}
	for r := range hot {
		add(r)
	}
	if rest := n - hot; rest > 0 {
		for i := range rest {
			add(hot + int(uint64(i)*uint64(o.Games-hot)/uint64(rest)))
		}
	}
	return ex
}

func (ex *expectation) preloadFailed(game, user uint64) {
	if !ex.sampled[game] {
		return
	}
	ex.mu.Lock()
	ex.failed[pair{game, user}] = true
	ex.mu.Unlock()
}

// laneLog records the last state a lane wrote to each pair of a sampled
// game. It is used by one goroutine at a time (its lane's).
type laneLog struct {
	sampled map[uint64]bool
	last    map[pair]uint8
}

func (ex *expectation) newLaneLog() *laneLog {
	return &laneLog{sampled: ex.sampled, last: map[pair]uint8{}}
}

func (l *laneLog) observe(op *Op, r *OpResult) {
	if !op.Kind.IsWrite() || !l.sampled[op.Game] {
		return
	}
	s := stateUnliked
	switch {
	case r.Err != nil:
		s = stateUnknown
	case op.Kind == OpLike:
		s = stateLiked
	}
	p := pair{op.Game, op.User}
	if prev, seen := l.last[p]; seen && prev == stateUnknown {
		return // a failed write may still land after later ones: stays unknown
	}
	l.last[p] = s
}

// addLanes merges the lanes' logs. Lanes own disjoint users, so their
// pairs never overlap.
func (ex *expectation) addLanes(logs []*laneLog) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, l := range logs {
		for p, s := range l.last {
			ex.final[p] = s
		}
	}
}

// expected builds, for each sampled game, its expected member set and
// whether its count is known.
func (ex *expectation) expected() (sets map[uint64]map[uint64]bool, unknownCount map[uint64]bool, unknownPair map[pair]bool) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	sets = make(map[uint64]map[uint64]bool, len(ex.games))
	for _, g := range ex.games {
		sets[g] = map[uint64]bool{}
	}
	unknownCount, unknownPair = map[uint64]bool{}, map[pair]bool{}
	for i := range uint64(ex.w.o.preload()) {
		g, u := ex.w.PreloadLike(i)
		if s, ok := sets[g]; ok {
			s[u] = true
		}
	}
	for p := range ex.failed {
		unknownCount[p.game], unknownPair[p] = true, true
	}
	for p, st := range ex.final {
		switch st {
		case stateLiked:
			sets[p.game][p.user] = true
		case stateUnliked:
			delete(sets[p.game], p.user)
		default:
			unknownCount[p.game], unknownPair[p] = true, true
		}
	}
	return sets, unknownCount, unknownPair
}

// check reads back the sampled games from t and compares them with the
// expected state.
func check(ctx context.Context, o Options, t Target, ex *expectation) CheckResult {
	sets, unknownCount, unknownPair := ex.expected()
	var ops []Op
	var want []OpResult
	rng := rand.New(rand.NewPCG(o.Seed, 0x434845434b))
	for _, g := range ex.games {
		if !unknownCount[g] {
			ops = append(ops, Op{Kind: OpCount, Game: g})
			want = append(want, OpResult{Count: uint64(len(sets[g]))})
		}
	}
	var cr CheckResult
	cr.Games = len(ex.games)
	cr.SkippedCounts = len(unknownCount)
	queued := map[pair]bool{}
	addPair := func(p pair) {
		if queued[p] {
			return // each pair is read once
		}
		queued[p] = true
		if unknownPair[p] {
			cr.SkippedPairs++
			return
		}
		ops = append(ops, Op{Kind: OpHas, Game: p.game, User: p.user})
		want = append(want, OpResult{Liked: sets[p.game][p.user]})
	}
	// Every pair written to a sampled game, in a fixed order.
	written := make([]pair, 0, len(ex.final))
	ex.mu.Lock()
	for p := range ex.final {
		written = append(written, p)
	}
	ex.mu.Unlock()
	slices.SortFunc(written, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.game, b.game), cmp.Compare(a.user, b.user))
	})
	for _, p := range written {
		addPair(p)
	}
	// Preloaded members (some since unliked) and random pairs.
	for _, g := range ex.games {
		users := slices.Sorted(maps.Keys(sets[g]))
		rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
		for _, u := range users[:min(len(users), checkPreloadPairs)] {
			addPair(pair{g, u})
		}
		for range checkAbsentPairs {
			addPair(pair{g, rng.Uint64N(o.UserSpace)})
		}
	}

	got := make([]OpResult, len(ops))
	for lo := 0; lo < len(ops); lo += checkChunk {
		hi := min(lo+checkChunk, len(ops))
		chunkCtx, cancel := context.WithTimeout(ctx, o.OpTimeout)
		bulk(t)(chunkCtx, ops[lo:hi], got[lo:hi])
		cancel()
	}
	for i, op := range ops {
		g, w := got[i], want[i] // got, want
		var msg string
		switch {
		case g.Err != nil:
			msg = fmt.Sprintf("%v game %d user %d: %v", op.Kind, op.Game, op.User, g.Err)
			cr.ReadErrors++
		case op.Kind == OpCount:
			cr.Counts++
			if g.Count != w.Count {
				msg = fmt.Sprintf("COUNT game %d: got %d, want %d", op.Game, g.Count, w.Count)
			}
		default:
			cr.Pairs++
			if g.Liked != w.Liked {
				msg = fmt.Sprintf("HAS game %d user %d: got %v, want %v", op.Game, op.User, g.Liked, w.Liked)
			}
		}
		if msg != "" {
			cr.Mismatches++
			if len(cr.Examples) < maxMismatches {
				cr.Examples = append(cr.Examples, msg)
			}
		}
	}
	cr.OK = cr.Mismatches == 0 && cr.Counts > 0
	return cr
}
