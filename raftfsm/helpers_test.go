package raftfsm

import (
	"bytes"
	"flag"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: time-based; env LIKES_SEED also works)")

// testSeed returns the seed to use and logs it so a failure can be replayed
// with -seed=N.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		if v, err := strconv.ParseUint(os.Getenv("LIKES_SEED"), 10, 64); err == nil {
			s = v
		}
	}
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

func mustNew(t testing.TB, o Options) *FSM {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// applyBatch encodes ops into one LogCommand entry at index and applies it.
func applyBatch(t testing.TB, f *FSM, index uint64, ops []Op) []Result {
	t.Helper()
	resp := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: AppendBatch(nil, ops)})
	res, ok := resp.([]Result)
	if !ok {
		t.Fatalf("Apply at %d returned %T %v", index, resp, resp)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply returned %d results for %d ops", len(res), len(ops))
	}
	return res
}

// memSink is a raft.SnapshotSink writing to memory.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

func persist(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.canceled {
		t.Fatalf("sink closed=%v canceled=%v", sink.closed, sink.canceled)
	}
	return sink.Bytes()
}

func restore(f *FSM, b []byte) error {
	return f.Restore(io.NopCloser(bytes.NewReader(b)))
}

// model is the reference: plain maps, and the documented dedup rules
// implemented naively.
type model struct {
	sets    map[uint64]map[uint64]bool
	window  uint64
	max     int
	clients map[uint64]*mclient
	lru     []uint64 // least recent first
}

type mclient struct {
	maxSeq uint64
	res    map[uint64]Result
}

func newModel(o Options) *model {
	return &model{sets: map[uint64]map[uint64]bool{}, window: uint64(o.DedupWindow),
		max: o.MaxDedupClients, clients: map[uint64]*mclient{}}
}

func (m *model) clone() *model {
	c := &model{sets: map[uint64]map[uint64]bool{}, window: m.window, max: m.max,
		clients: map[uint64]*mclient{}, lru: append([]uint64(nil), m.lru...)}
	for g, s := range m.sets {
		c.sets[g] = maps.Clone(s)
	}
	for id, mc := range m.clients {
		c.clients[id] = &mclient{maxSeq: mc.maxSeq, res: maps.Clone(mc.res)}
	}
	return c
}

func (m *model) mutate(op Op) (bool, uint64) {
	s := m.sets[op.Game]
	switch {
	case op.Kind == OpLike && !s[op.User]:
		if s == nil {
			s = map[uint64]bool{}
			m.sets[op.Game] = s
		}
		s[op.User] = true
		return true, uint64(len(s))
	case op.Kind == OpUnlike && s[op.User]:
		delete(s, op.User)
		if len(s) == 0 {
			delete(m.sets, op.Game)
		}
		return true, uint64(len(s))
	}
	return false, uint64(len(s))
}

func (m *model) apply(op Op, index uint64) Result {
	if op.Seq == 0 {
		ch, n := m.mutate(op)
		return Result{Changed: ch, Count: n, Index: index}
	}
	c := m.clients[op.ClientID]
	for i, id := range m.lru {
		if id == op.ClientID {
			m.lru = append(m.lru[:i], m.lru[i+1:]...)
			break
		}
	}
	if c == nil {
		if len(m.lru) >= m.max {
			delete(m.clients, m.lru[0])
			m.lru = m.lru[1:]
		}
		c = &mclient{res: map[uint64]Result{}}
		m.clients[op.ClientID] = c
	}
	m.lru = append(m.lru, op.ClientID)
	if op.Seq <= c.maxSeq {
		if c.maxSeq-op.Seq >= m.window {
			return Result{Count: uint64(len(m.sets[op.Game])), Index: index, Err: ErrSeqExpired}
		}
		if r, ok := c.res[op.Seq]; ok {
			return r
		}
	}
	ch, n := m.mutate(op)
	r := Result{Changed: ch, Count: n, Index: index}
	c.res[op.Seq] = r
	c.maxSeq = max(c.maxSeq, op.Seq)
	return r
}

// checkEqual asserts f holds exactly m's sets.
func checkEqual(t testing.TB, f *FSM, m *model) {
	t.Helper()
	var likes uint64
	for g, s := range m.sets {
		likes += uint64(len(s))
		if got := f.Count(g); got != uint64(len(s)) {
			t.Fatalf("Count(%d) = %d, model %d", g, got, len(s))
		}
		for u := range s {
			if !f.Has(g, u) {
				t.Fatalf("Has(%d, %d) = false, model true", g, u)
			}
		}
	}
	st := f.Stats()
	if st.Games != uint64(len(m.sets)) || st.Likes != likes {
		t.Fatalf("Stats games %d likes %d, model %d %d", st.Games, st.Likes, len(m.sets), likes)
	}
}

// interestingIDs are edge ids mixed into random id pools.
var interestingIDs = []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 32, 1<<32 - 1, 1 << 63, math.MaxUint32}

func randID(r *rand.Rand) uint64 {
	switch r.IntN(4) {
	case 0:
		return interestingIDs[r.IntN(len(interestingIDs))]
	case 1:
		return r.Uint64()
	case 2:
		return r.Uint64N(1 << 33)
	}
	return uint64(r.IntN(8))<<32 | r.Uint64N(200)
}

func logEntry(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}
