package client

import (
	"context"
	"sync/atomic"
	"testing"
)

// Benchmarks run against the fake server over loopback TCP, so they measure
// the client's own cost plus the fake's (which allocates per response) and
// the loopback round trip. Run them with
//
//	go test ./client -run '^$' -bench . -benchmem

func benchClient(b *testing.B, conns int) *Client {
	f := newFake(b).start()
	o := quiet()
	o.Conns = conns
	return dial(b, f, o)
}

// BenchmarkHasLikedParallel: many goroutines calling at once, the pipelined
// case the client is built for.
func BenchmarkHasLikedParallel(b *testing.B) {
	c := benchClient(b, 2)
	ctx := context.Background()
	var g atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		game := g.Add(1)
		for pb.Next() {
			if _, err := c.HasLiked(ctx, game, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLikeParallel: the same for writes (sequence numbers, de-dup on
// the fake).
func BenchmarkLikeParallel(b *testing.B) {
	c := benchClient(b, 2)
	ctx := context.Background()
	var g atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		game := g.Add(1)
		var user uint64
		for pb.Next() {
			user++
			if _, err := c.Like(ctx, game, user); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHasLikedSerial: one caller, one request at a time: the round-trip
// latency through both I/O loops.
func BenchmarkHasLikedSerial(b *testing.B) {
	c := benchClient(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.HasLiked(ctx, uint64(i), 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHasLikedMany1000: one user against 1000 games, pages of 256.
func BenchmarkHasLikedMany1000(b *testing.B) {
	f := newFake(b)
	f.maxBatch = 256
	f.start()
	c := dial(b, f, quiet())
	ctx := context.Background()
	games := make([]uint64, 1000)
	for i := range games {
		games[i] = uint64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.HasLikedMany(ctx, 1, games); err != nil {
			b.Fatal(err)
		}
	}
}
