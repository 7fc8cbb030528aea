package bench

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/likes/likes/client"
)

// Mix is the share of each op kind in percent; the shares must add up to 100.
type Mix struct {
	Has     float64 `json:"has"`
	HasMany float64 `json:"has_many"`
	Count   float64 `json:"count"`
	Like    float64 `json:"like"`
	Unlike  float64 `json:"unlike"`
}

// ReadHeavyMix is the seed's mix: 90% has-liked, 5% count, 5% writes.
var ReadHeavyMix = Mix{Has: 90, Count: 5, Like: 2.5, Unlike: 2.5}

// ReadHeavyManyMix is ReadHeavyMix with the has-liked checks as HAS_MANY
// (a page of games for one user, as a game list shows).
var ReadHeavyManyMix = Mix{HasMany: 90, Count: 5, Like: 2.5, Unlike: 2.5}

// ReadOnlyMix is the seed's reads without its writes (95% has-liked, 5%
// count): the read path alone, with no commit in any round.
var ReadOnlyMix = Mix{Has: 95, Count: 5}

// WriteOnlyMix is likes and unlikes only; unlikes remove earlier likes.
var WriteOnlyMix = Mix{Like: 60, Unlike: 40}

func (m Mix) sum() float64 { return m.Has + m.HasMany + m.Count + m.Like + m.Unlike }

// Options configure a benchmark run. The zero value of a field takes its
// default (DefaultOptions); Validate reports every problem at once.
type Options struct {
	// Seed makes the workload replayable: the same seed and options send
	// the same logical requests to every target. Default 1.
	Seed uint64 `json:"seed"`

	// Games is the number of distinct games. More games spread the load
	// and the memory over more, smaller sets (more per-set overhead on both
	// sides); fewer concentrate it on hot sets. Default 100,000.
	Games int `json:"games"`

	// ZipfExponent s skews game popularity: rank k is drawn with
	// probability ∝ 1/k^s. Around 1 is realistic; higher values make a few
	// games take most requests (hot keys, one shard busier than others);
	// lower values approach uniform. Any s > 0. Default 1.0.
	ZipfExponent float64 `json:"zipf_exponent"`

	// UserSpace: user ids are uniform in [0, UserSpace). A large space makes
	// sets sparse (the costly case for bitmaps: few users per container); a
	// small one makes them dense. Default 2^33.
	UserSpace uint64 `json:"user_space"`

	// Mix is the share of each op kind, in percent. Default ReadHeavyMix.
	Mix Mix `json:"mix"`

	// HitRatio is the fraction of HAS and HAS_MANY whose (first) pair is a
	// preloaded like, so reads find members as well as miss. 0 makes every
	// read a miss (uniform users almost never liked anything). Zero takes
	// the default 0.5; a negative value means no hits.
	HitRatio float64 `json:"hit_ratio"`

	// Concurrency C is the number of workers, each one logical app-server
	// thread. With Depth it sets the outstanding requests (C × Depth). More
	// workers use more load-generator CPU, which on a small machine is taken
	// from the server. Default 16.
	Concurrency int `json:"concurrency"`

	// Depth D is the pipelining depth per worker: likes runs D goroutines
	// per worker, each with one request outstanding, multiplexed by the
	// client over Conns connections; Redis sends each worker's D requests in
	// one go-redis pipeline and waits for all. Both keep C × D requests
	// outstanding. Deeper pipelines raise throughput (fewer syscalls per
	// request) and latency (queueing). Default 8.
	Depth int `json:"depth"`

	// Conns is the number of connections to each target (likes:
	// client.Options.Conns, at most 64; Redis: the go-redis pool size).
	// Fewer connections batch more requests per syscall; more use more
	// server threads (likes) — Redis runs commands on one thread anyway.
	// Default min(Concurrency, 64).
	Conns int `json:"conns"`

	// LikesConns, when set, is the connections to likes alone, Conns
	// staying Redis's. The likes client multiplexes any number of callers
	// over its connections (client.DefaultOptions has 2), so fewer
	// connections carry more requests per syscall for the same outstanding
	// requests; a go-redis pipeline holds its connection for the round, so
	// Redis needs one per worker. Reports say which was used. Default
	// Conns (the same on both sides).
	LikesConns int `json:"likes_conns,omitempty"`

	// BatchSize is the games per HAS_MANY (Redis: that many pipelined
	// SISMEMBER). Bigger batches amortise per-request overhead; one
	// HAS_MANY counts as one op whatever its size. Default 16.
	BatchSize int `json:"batch_size"`

	// Duration is the measured part of the run; Warmup runs the same
	// workload first, unmeasured (connections, caches, the Go heap and the
	// server's group commit settle). Longer runs average out noise.
	// Defaults 10s and 2s.
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`

	// Preload is the number of likes written before the run (a like drawn
	// twice counts once), so that reads hit real sets and bytes per like
	// are measured on a meaningful state. Bigger preloads measure memory
	// better and take longer. Default 1,000,000.
	Preload int `json:"preload"`

	// PreloadDepth is the preload's writes outstanding per worker (Redis:
	// pipelined EVALSHA per round; likes: concurrent Likes). Default 256.
	PreloadDepth int `json:"preload_depth"`

	// SampleGames is the number of games whose counts and memberships the
	// correctness check reads back after the run: the hottest ones and a
	// spread of others. More catches more and costs check time and memory
	// (the expected sets of the hot games). Default 32.
	SampleGames int `json:"sample_games"`

	// GameOffset is added to every game id, so that a second run against a
	// target that already holds a run's likes uses fresh games (the check
	// needs games that start empty). Default 0.
	GameOffset uint64 `json:"game_offset"`

	// OpTimeout bounds the requests of the preload and the check (each
	// round of them, retries included), and how long a request of the run
	// may still take after the measured phase ends. A request past it
	// counts as an error. Short values fail fast against a stuck target;
	// too short a value turns a slow fsync into errors. Default 10s.
	OpTimeout time.Duration `json:"op_timeout_ns"`
}

// DefaultOptions returns the defaults every zero field takes.
func DefaultOptions() Options {
	return Options{
		Seed:         1,
		Games:        100_000,
		ZipfExponent: 1.0,
		UserSpace:    1 << 33,
		Mix:          ReadHeavyMix,
		HitRatio:     0.5,
		Concurrency:  16,
		Depth:        8,
		BatchSize:    16,
		Duration:     10 * time.Second,
		Warmup:       2 * time.Second,
		Preload:      1_000_000,
		PreloadDepth: 256,
		SampleGames:  32,
		OpTimeout:    10 * time.Second,
	}
}

// Limits of Options fields.
const (
	MaxGames       = 100_000_000 // the Zipf table costs 8 bytes per game
	MaxConcurrency = 4096
	MaxDepth       = 1024
	MaxBatchSize   = 1024
	MaxConns       = client.MaxConns
)

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.Seed = cmp.Or(o.Seed, d.Seed)
	o.Games = cmp.Or(o.Games, d.Games)
	o.ZipfExponent = cmp.Or(o.ZipfExponent, d.ZipfExponent)
	o.UserSpace = cmp.Or(o.UserSpace, d.UserSpace)
	o.Mix = cmp.Or(o.Mix, d.Mix)
	o.HitRatio = cmp.Or(o.HitRatio, d.HitRatio)
	o.Concurrency = cmp.Or(o.Concurrency, d.Concurrency)
	o.Depth = cmp.Or(o.Depth, d.Depth)
	o.Conns = cmp.Or(o.Conns, min(o.Concurrency, MaxConns))
	o.LikesConns = cmp.Or(o.LikesConns, o.Conns)
	o.BatchSize = cmp.Or(o.BatchSize, d.BatchSize)
	o.Duration = cmp.Or(o.Duration, d.Duration)
	o.Warmup = cmp.Or(o.Warmup, d.Warmup)
	o.Preload = cmp.Or(o.Preload, d.Preload)
	o.PreloadDepth = cmp.Or(o.PreloadDepth, d.PreloadDepth)
	o.SampleGames = cmp.Or(o.SampleGames, d.SampleGames)
	o.OpTimeout = cmp.Or(o.OpTimeout, d.OpTimeout)
	return o
}

// Validate reports every field out of range at once (errors.Join). Zero
// fields are valid: they take their defaults. A negative Warmup or Preload
// means none.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Games < 1 || o.Games > MaxGames {
		bad("Games is %d, want 1 to %d", o.Games, MaxGames)
	}
	if !(o.ZipfExponent > 0) || math.IsInf(o.ZipfExponent, 0) || o.ZipfExponent > 10 {
		bad("ZipfExponent is %v, want > 0 and at most 10", o.ZipfExponent)
	}
	lanes := uint64(max(o.Concurrency, 1)) * uint64(max(o.Depth, 1))
	if o.UserSpace < lanes {
		bad("UserSpace is %d, want at least Concurrency × Depth (%d): each request stream owns the users it writes", o.UserSpace, lanes)
	}
	m := o.Mix
	for _, p := range []struct {
		name string
		v    float64
	}{{"Has", m.Has}, {"HasMany", m.HasMany}, {"Count", m.Count}, {"Like", m.Like}, {"Unlike", m.Unlike}} {
		if p.v < 0 || math.IsNaN(p.v) {
			bad("Mix.%s is %v, want ≥ 0", p.name, p.v)
		}
	}
	if s := m.sum(); math.Abs(s-100) > 1e-6 {
		bad("Mix adds up to %v%%, want 100%%", s)
	}
	if o.HitRatio > 1 || math.IsNaN(o.HitRatio) {
		bad("HitRatio is %v, want at most 1", o.HitRatio)
	}
	if o.Concurrency < 1 || o.Concurrency > MaxConcurrency {
		bad("Concurrency is %d, want 1 to %d", o.Concurrency, MaxConcurrency)
	}
	if o.Depth < 1 || o.Depth > MaxDepth {
		bad("Depth is %d, want 1 to %d", o.Depth, MaxDepth)
	}
	if o.Conns < 1 || o.Conns > MaxConns {
		bad("Conns is %d, want 1 to %d", o.Conns, MaxConns)
	}
	if o.LikesConns < 1 || o.LikesConns > MaxConns {
		bad("LikesConns is %d, want 1 to %d", o.LikesConns, MaxConns)
	}
	if o.BatchSize < 1 || o.BatchSize > MaxBatchSize {
		bad("BatchSize is %d, want 1 to %d", o.BatchSize, MaxBatchSize)
	}
	if o.Duration < 0 {
		bad("Duration is %v, want > 0", o.Duration)
	}
	if o.Preload > 1_000_000_000 {
		bad("Preload is %d, want at most 1e9", o.Preload)
	}
	if o.PreloadDepth < 1 || o.PreloadDepth > 65536 {
		bad("PreloadDepth is %d, want 1 to 65536", o.PreloadDepth)
	}
	if o.SampleGames < 1 || o.SampleGames > o.Games {
		bad("SampleGames is %d, want 1 to Games (%d)", o.SampleGames, o.Games)
	}
	if o.GameOffset > math.MaxUint64-uint64(max(o.Games, 0))-1 {
		bad("GameOffset is %d: game ids would overflow", o.GameOffset)
	}
	if o.OpTimeout < 0 {
		bad("OpTimeout is %v, want > 0", o.OpTimeout)
	}
	return errors.Join(errs...)
}

// warmup and preload return the effective values (negative means none).
func (o Options) warmup() time.Duration { return max(o.Warmup, 0) }
func (o Options) preload() int          { return max(o.Preload, 0) }
