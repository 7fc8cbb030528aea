// Package bench is the load generator that runs one seeded workload against
// likes and against Redis, side by side, and checks afterwards that each
// holds what was written. The command line is `likesctl bench`
// (cli.go); compare.sh drives a full comparison.
//
// # A run, per target
//
//  1. The sampled games (Options.SampleGames) must be empty.
//  2. Memory baseline (Target.Memory).
//  3. Preload: Options.Preload likes, the i-th a pure function of (seed, i)
//     (Workload.PreloadLike), written by Concurrency workers with
//     PreloadDepth outstanding each.
//  4. Memory after the preload: bytes per like.
//  5. Warm-up, then the measured phase, with the op mix of Options.Mix.
//  6. The check (check.go): counts and memberships of the sampled games
//     read back and compared with the expected state.
//
// # Equal pipelining
//
// Both targets carry Concurrency × Depth outstanding requests over Conns
// connections. likes (Pipelining Goroutines) runs Depth goroutines per
// worker, each with one request in flight, and the client multiplexes them
// over its connections, as an app server's request goroutines would. Redis
// (Pipelining Batches) cannot multiplex a connection between callers, so
// each worker sends its Depth requests as one go-redis pipeline and waits
// for all of them; every request of a round is timed from the round's send
// to its last answer. Goroutines keeps Depth in flight per worker all the
// time; Batches has Depth in flight at the start of a round and fewer as
// answers arrive, but pays one write and one read syscall per round, which
// favours Redis in syscalls per request. likes can run the Batches way too
// (LikesTarget.Style, --likes-pipelining batches: one client.Batch per
// round), for the same shape on both sides. A HAS_MANY of BatchSize games is
// one likes request and BatchSize pipelined SISMEMBERs on Redis; either way
// it counts as one op.
//
// # Lanes and the expected state
//
// A lane is one sequential stream of requests with its own seeded random
// source (lane i of the run always draws the same requests). Lane i writes
// only users ≡ i (mod lanes), so no two lanes ever write the same (game,
// user) pair, and the last write a lane sent for a pair is its final state
// whatever the interleaving. Unlikes take the lane's most recent likes, so
// they remove real likes rather than being no-ops (Redis writes nothing to
// its AOF for a script that changed nothing).
//
// # Concurrency rules
//
// Workload, the expectation's sampled games and a Target are shared by all
// goroutines and are safe for concurrent use (Target implementations say
// how). A lane and its laneLog belong to one goroutine. A worker's recorder
// is shared by its Depth goroutines under recorder.mu. The expectation's
// merged state is written once, after every worker has stopped.
package bench
