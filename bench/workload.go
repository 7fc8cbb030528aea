package bench

import (
	"math"
	"math/rand/v2"
	"sort"
)

// OpKind is one kind of request in the workload.
type OpKind uint8

// The op kinds, in the order reports list them.
const (
	OpHas OpKind = iota
	OpHasMany
	OpCount
	OpLike
	OpUnlike
	numOpKinds
)

var opNames = [numOpKinds]string{"HAS", "HAS_MANY", "COUNT", "LIKE", "UNLIKE"}

func (k OpKind) String() string {
	if k < numOpKinds {
		return opNames[k]
	}
	return "OP?"
}

// IsWrite reports whether k changes state.
func (k OpKind) IsWrite() bool { return k == OpLike || k == OpUnlike }

// Op is one request. Games is set for OpHasMany only (Game then is unused).
type Op struct {
	Kind  OpKind
	Game  uint64
	User  uint64
	Games []uint64
}

// OpResult is the answer to one Op. Err is set when the request failed; the
// outcome of a failed write is unknown.
type OpResult struct {
	Err       error
	Changed   bool   // LIKE, UNLIKE: membership changed
	Count     uint64 // LIKE, UNLIKE: count after; COUNT: the count
	Liked     bool   // HAS
	LikedMany []bool // HAS_MANY, one per game (a target may reuse the slice)
}

// zipf draws game ranks 0..n-1 with P(rank k) ∝ 1/(k+1)^s by inverting a
// precomputed CDF. Unlike math/rand.Zipf it accepts any s > 0 (real
// popularity skews are often near 1, where rand.Zipf needs s > 1). The table
// is read-only after construction, so one zipf serves every goroutine.
type zipf struct {
	cdf []float64
}

func newZipf(n int, s float64) *zipf {
	cdf := make([]float64, n)
	var sum float64
	for k := range n {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	cdf[n-1] = 1
	return &zipf{cdf: cdf}
}

// rank maps u in [0, 1) to a rank.
func (z *zipf) rank(u float64) int {
	return sort.SearchFloat64s(z.cdf, u)
}

// prob returns the probability of rank k.
func (z *zipf) prob(k int) float64 {
	if k == 0 {
		return z.cdf[0]
	}
	return z.cdf[k] - z.cdf[k-1]
}

// Workload generates the requests of a run from Options alone, so two runs
// with the same options (against likes and against Redis) send the same
// logical requests. It is immutable after NewWorkload and safe for
// concurrent use; the per-goroutine state lives in lane.
type Workload struct {
	o    Options
	z    *zipf
	cum  [numOpKinds]float64 // cumulative op mix, fractions of 1
	nLan uint64              // writer lanes (see lane.owner)
}

// NewWorkload returns the workload of o, which must be valid; lanes is the
// number of goroutine-like request streams that will write (the run's
// Concurrency × Depth): each lane writes only its own users, so the
// expected final state does not depend on how lanes interleave.
func NewWorkload(o Options, lanes int) *Workload {
	o = o.withDefaults()
	w := &Workload{o: o, z: newZipf(o.Games, o.ZipfExponent), nLan: uint64(max(lanes, 1))}
	m := o.Mix
	parts := [numOpKinds]float64{m.Has, m.HasMany, m.Count, m.Like, m.Unlike}
	var total, acc float64
	for _, p := range parts {
		total += p
	}
	for k, p := range parts {
		acc += p / total
		w.cum[k] = acc
	}
	w.cum[numOpKinds-1] = 1
	return w
}

// GameID maps a popularity rank to the game id sent to the targets.
func (w *Workload) GameID(rank int) uint64 { return w.o.GameOffset + uint64(rank) + 1 }

// splitmix64 is a strong 64-bit mixer (Steele et al.), used to derive the
// i-th preload like from (seed, i) without state.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// PreloadLike returns the i-th like of the preload, a pure function of
// (Seed, i): any goroutine can re-derive any preloaded pair (reads aimed at
// existing likes, the correctness check) without storing the preload.
func (w *Workload) PreloadLike(i uint64) (game, user uint64) {
	h := splitmix64(w.o.Seed ^ 0x5052454c4f4144 ^ splitmix64(i))
	game = w.GameID(w.z.rank(unitFloat(h)))
	user = splitmix64(h) % w.o.UserSpace
	return game, user
}

// recentCap bounds the likes a lane remembers so that its unlikes remove
// real likes (an unlike of a random pair is almost always a no-op, which
// Redis would not even write to its AOF: an unfair comparison).
const recentCap = 1024

// lane is one sequential stream of requests. A lane is used by one
// goroutine at a time.
type lane struct {
	w      *Workload
	id     uint64
	rng    *rand.Rand
	recent [][2]uint64 // ring of (game, user) this lane liked, newest last
	games  []uint64    // HAS_MANY buffer, reused: the op is done before the next one
}

func (w *Workload) lane(id int) *lane {
	return &lane{w: w, id: uint64(id), rng: rand.New(rand.NewPCG(w.o.Seed, 0x4c414e45<<32|uint64(id)))}
}

func (l *lane) game() uint64 { return l.w.GameID(l.w.z.rank(l.rng.Float64())) }

// ownedUser draws a user uniformly among those this lane owns: user ≡ id
// (mod lanes). Only the owner lane writes a user's likes.
func (l *lane) ownedUser() uint64 {
	n := l.w.nLan
	return l.rng.Uint64N(l.w.o.UserSpace/n)*n + l.id
}

// readUser draws the user of a read: with probability HitRatio a user who
// liked something in the preload, else a uniform one.
func (l *lane) readPair() (game, user uint64) {
	if n := l.w.o.preload(); n > 0 && l.rng.Float64() < l.w.o.HitRatio {
		return l.w.PreloadLike(l.rng.Uint64N(uint64(n)))
	}
	return l.game(), l.rng.Uint64N(l.w.o.UserSpace)
}

// next returns the lane's next request. The Op's Games slice is valid until
// the following call.
func (l *lane) next() Op {
	u := l.rng.Float64()
	kind := OpKind(0)
	for kind < numOpKinds-1 && u >= l.w.cum[kind] {
		kind++
	}
	switch kind {
	case OpHas:
		g, usr := l.readPair()
		return Op{Kind: OpHas, Game: g, User: usr}
	case OpHasMany:
		g, usr := l.readPair()
		l.games = append(l.games[:0], g)
		for len(l.games) < l.w.o.BatchSize {
			l.games = append(l.games, l.game())
		}
		return Op{Kind: OpHasMany, User: usr, Games: l.games}
	case OpCount:
		return Op{Kind: OpCount, Game: l.game()}
	case OpLike:
		g, usr := l.game(), l.ownedUser()
		if len(l.recent) == recentCap { // forget the older half, amortised O(1)
			l.recent = append(l.recent[:0], l.recent[recentCap/2:]...)
		}
		l.recent = append(l.recent, [2]uint64{g, usr})
		return Op{Kind: OpLike, Game: g, User: usr}
	default: // OpUnlike: the newest remembered like, else a random owned pair
		if n := len(l.recent); n > 0 {
			p := l.recent[n-1]
			l.recent = l.recent[:n-1]
			return Op{Kind: OpUnlike, Game: p[0], User: p[1]}
		}
		return Op{Kind: OpUnlike, Game: l.game(), User: l.ownedUser()}
	}
}
