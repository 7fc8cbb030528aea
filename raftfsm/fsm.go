package raftfsm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// stripe is one lock stripe: the games whose id hashes to it. pre holds the
// pre-images of games changed since the in-progress snapshot (nil when none
// is in progress); see snapshot.go.
type stripe struct {
	mu  sync.RWMutex
	m   map[uint64]game
	pre map[uint64]game
	_   [64 - 24 - 16]byte // one cache line per stripe
}

type stripes [stripeCount]stripe

func newStripes() *stripes {
	s := new(stripes)
	for i := range s {
		s[i].m = make(map[uint64]game)
	}
	return s
}

// stripeIndex spreads game ids over the stripes (a multiplicative hash; not
// part of any persistent format).
func stripeIndex(game uint64) int {
	return int((game * 0x9E3779B97F4A7C15) >> 56)
}

// FSM is the state machine of one shard: per game a set of user ids, plus
// the dedup table for exactly-once retries. It implements raft.FSM and
// raft.BatchingFSM.
//
// Concurrency: Apply, ApplyBatch, Snapshot and Restore are called by raft's
// FSM goroutine, never concurrently with each other. FSMSnapshot.Persist and
// Release run on raft's snapshot goroutine, concurrently with Apply. Has,
// Count, AppliedIndex and Stats may be called from any goroutine at any time.
// Each op takes one stripe's write lock; readers take one stripe's read lock.
// Lock order: a goroutine holds at most one stripe lock, except f.snapMu
// (Snapshot/Release) which may be held while taking stripe locks.
// Readers see each op atomically (set and count together) but may see a
// batch half applied.
type FSM struct {
	opts    Options
	st      atomic.Pointer[stripes]
	applied atomic.Uint64

	// FSM goroutine only.
	gen    uint32
	dedup  *dedupTable
	opsBuf []Op

	snapMu     sync.Mutex // guards snap; held by Snapshot and Release
	snap       *fsmSnapshot
	snapActive atomic.Bool // a snapshot is captured and not released (dedup COW)

	dedupClients atomic.Int64 // len(dedup.clients), for Stats
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an empty FSM, or an error wrapping ErrInvalidOptions.
func New(opts Options) (*FSM, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f := &FSM{opts: opts, dedup: newDedupTable(opts)}
	f.st.Store(newStripes())
	return f, nil
}

// Apply applies one log entry. For a LogCommand entry it returns []Result,
// one per op in order, or an error wrapping ErrBadEntry/ErrUnknownVersion
// if the payload does not decode (then nothing is applied). Other log types
// return nil. AppliedIndex advances for every entry.
func (f *FSM) Apply(l *raft.Log) interface{} {
	defer f.applied.Store(l.Index)
	if l.Type != raft.LogCommand {
		return nil
	}
	ops, err := DecodeBatch(l.Data, f.opsBuf)
	f.opsBuf = ops[:0]
	if err != nil {
		return fmt.Errorf("log index %d: %w", l.Index, err)
	}
	res := make([]Result, len(ops))
	for i := range ops {
		res[i] = f.applyOp(&ops[i], l.Index)
	}
	return res
}

// ApplyBatch applies entries in order; the i-th response is Apply(logs[i]).
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	for i, l := range logs {
		out[i] = f.Apply(l)
	}
	return out
}

func (f *FSM) cow() cowCtx { return cowCtx{active: f.snapActive.Load(), gen: f.gen} }

func (f *FSM) applyOp(op *Op, index uint64) Result {
	if op.Kind != OpLike && op.Kind != OpUnlike {
		return Result{Count: f.Count(op.Game), Index: index, Err: ErrBadOp}
	}
	if op.Seq == 0 {
		changed, count := f.mutate(op)
		return Result{Changed: changed, Count: count, Index: index}
	}
	c := f.dedup.touch(op.ClientID, index, f.gen)
	f.dedupClients.Store(int64(len(f.dedup.clients)))
	switch st, e := f.dedup.check(c, op.Seq); st {
	case dedupDup:
		return Result{Changed: e.changed, Count: e.count, Index: e.index}
	case dedupExpired:
		return Result{Count: f.Count(op.Game), Index: index, Err: ErrSeqExpired}
	}
	changed, count := f.mutate(op)
	f.dedup.record(c, dedupEntry{seq: op.Seq, index: index, count: count, changed: changed}, f.cow())
	return Result{Changed: changed, Count: count, Index: index}
}

// mutate applies a like/unlike and returns (changed, count after).
func (f *FSM) mutate(op *Op) (bool, uint64) {
	s := &f.st.Load()[stripeIndex(op.Game)]
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.m[op.Game]
	if !ok {
		if op.Kind == OpUnlike {
			return false, 0
		}
		s.m[op.Game] = game{small: []uint64{op.User}, gen: f.gen}
		return true, 1
	}
	if g.contains(op.User) == (op.Kind == OpLike) {
		return false, g.count()
	}
	c := cowCtx{active: s.pre != nil, gen: f.gen}
	if c.mustCopy(g.gen) {
		if _, had := s.pre[op.Game]; !had {
			s.pre[op.Game] = g
		}
		g = g.cloneShallow(f.gen)
	}
	if op.Kind == OpLike {
		g.insert(op.User, c)
	} else {
		g.remove(op.User, c)
		if g.count() == 0 {
			delete(s.m, op.Game)
			return true, 0
		}
	}
	s.m[op.Game] = g
	return true, g.count()
}

// Has reports whether user has liked game. Safe from any goroutine.
func (f *FSM) Has(game, user uint64) bool {
	s := &f.st.Load()[stripeIndex(game)]
	s.mu.RLock()
	g, ok := s.m[game]
	r := ok && g.contains(user)
	s.mu.RUnlock()
	return r
}

// Count returns game's like count. Safe from any goroutine.
func (f *FSM) Count(game uint64) uint64 {
	s := &f.st.Load()[stripeIndex(game)]
	s.mu.RLock()
	g := s.m[game]
	n := g.count()
	s.mu.RUnlock()
	return n
}

// AppliedIndex returns the index of the last log entry applied (or restored).
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Stats describe an FSM's contents. Computing them visits every game
// (one stripe read lock at a time), so call them for metrics, not per request.
type Stats struct {
	Games        uint64 // games with at least one like
	Likes        uint64 // sum of counts
	SetBytes     uint64 // estimated heap bytes of the user sets (excluding the stripe maps)
	MapBytes     uint64 // rough estimate of the stripe maps' heap bytes
	SmallGames   uint64 // games stored as one sorted []uint64
	ChunkedGames uint64 // games stored as sorted uint32 chunks
	RoaringGames uint64 // games stored as roaring64 bitmaps
	DedupClients uint64 // clients in the dedup table
	AppliedIndex uint64
}

// mapSlotBytes approximates a swiss-map slot (8 B key + 40 B game) at the
// average load factor (see docs/fsm-memory.md).
const mapSlotBytes = 72

// Stats returns current statistics. Safe from any goroutine.
func (f *FSM) Stats() Stats {
	var st Stats
	ss := f.st.Load()
	for i := range ss {
		s := &ss[i]
		s.mu.RLock()
		for _, g := range s.m {
			st.Games++
			st.Likes += g.count()
			st.SetBytes += g.heapBytes()
			switch {
			case g.big == nil:
				st.SmallGames++
			case g.big.rb != nil:
				st.RoaringGames++
			default:
				st.ChunkedGames++
			}
		}
		s.mu.RUnlock()
	}
	st.MapBytes = st.Games * mapSlotBytes
	st.DedupClients = uint64(f.dedupClients.Load())
	st.AppliedIndex = f.applied.Load()
	return st
}
