package server_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/likes/likes/client"
	"github.com/likes/likes/internal/testnode"
)

// Benchmarks of a real node through loopback TCP with the real client: 64
// concurrent callers over the client's default 2 pipelined connections, as
// an app server would call it. Each reports ops/s and the p50/p99 latency
// of one call as seen by the caller. The load generator shares the machine's
// cores with the node, so the figures are a floor for a node on its own
// machine. Run with
//
//	go test ./server -run '^$' -bench Node -benchtime 200000x
//
// (make bench runs them with the other hot-path benchmarks).

const (
	benchCallers = 64
	benchGames   = 1000
	benchPreload = 100_000 // likes over benchGames before reads are measured
)

func benchNode(b *testing.B) (*client.Client, []uint64) {
	b.Helper()
	cfg := testnode.Config(b, b.TempDir())
	cfg.ElectionTimeout = 0 // default
	n := testnode.Start(b, cfg)
	ctx := context.Background()
	c, err := client.Dial(ctx, n.Addr())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	games := make([]uint64, benchGames)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range games {
		games[i] = r.Uint64()
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range benchCallers * 4 {
		wg.Go(func() {
			for i := next.Add(1); i <= benchPreload; i = next.Add(1) {
				if _, err := c.Like(ctx, games[i%benchGames], uint64(i)*7919); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return c, games
}

// runCallers runs op b.N times over benchCallers goroutines and reports
// throughput and latency percentiles.
func runCallers(b *testing.B, op func(r *rand.Rand) error) {
	runCallersN(b, benchCallers, op)
}

func runCallersN(b *testing.B, callers int, op func(r *rand.Rand) error) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((callers + procs - 1) / procs)
	var mu sync.Mutex
	var lat []time.Duration
	var seed atomic.Uint64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 3))
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := op(r); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	reportLatencies(b, lat, time.Since(start))
}

// reportLatencies reports throughput and latency percentiles of one run.
func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op") // per-op time is meaningless for a parallel load: see ops/s
}

func BenchmarkNodeHas(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	runCallers(b, func(r *rand.Rand) error {
		_, err := c.HasLiked(ctx, games[r.IntN(benchGames)], r.Uint64N(benchPreload)*7919)
		return err
	})
}

func BenchmarkNodeCount(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	runCallers(b, func(r *rand.Rand) error {
		_, err := c.Count(ctx, games[r.IntN(benchGames)])
		return err
	})
}

// BenchmarkNodeHasMany16: one user against a page of 16 games (a catalogue
// page with "liked" hearts); one op is one request of 16 lookups.
func BenchmarkNodeHasMany16(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	runCallers(b, func(r *rand.Rand) error {
		i := r.IntN(benchGames - 16)
		_, err := c.HasLikedMany(ctx, r.Uint64N(benchPreload)*7919, games[i:i+16])
		return err
	})
}

// BenchmarkNodeLike: durable writes (group commit, fsync before the answer).
func BenchmarkNodeLike(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	runCallers(b, func(r *rand.Rand) error {
		_, err := c.Like(ctx, games[r.IntN(benchGames)], r.Uint64())
		return err
	})
}

// BenchmarkNodeLikeDeep: durable writes with 512 callers (the client's
// whole write window), the load under which group commit fills entries.
func BenchmarkNodeLikeDeep(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	runCallersN(b, client.DefaultWriteWindow, func(r *rand.Rand) error {
		_, err := c.Like(ctx, games[r.IntN(benchGames)], r.Uint64())
		return err
	})
}

// BenchmarkNodeHasBatch16: the same 64 requests in flight as
// BenchmarkNodeHas, from 4 goroutines sending client.Batch of 16 each
// instead of 64 goroutines with one call each. One op is one HAS.
func BenchmarkNodeHasBatch16(b *testing.B) {
	c, games := benchNode(b)
	ctx := context.Background()
	const depth = 16
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, benchCallers/depth/procs))
	var seed atomic.Uint64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 3))
		bt := c.NewBatch()
		local := make([]time.Duration, 0, 1024)
		more := true
		for more {
			bt.Reset()
			for bt.Len() < depth {
				if more = pb.Next(); !more {
					break
				}
				bt.HasLiked(games[r.IntN(benchGames)], r.Uint64N(benchPreload)*7919)
			}
			if bt.Len() == 0 {
				break
			}
			t0 := time.Now()
			if err := bt.Exec(ctx); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t0)
			for range bt.Len() {
				local = append(local, d)
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	reportLatencies(b, lat, time.Since(start))
}
