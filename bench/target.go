package bench

import "context"

// Pipelining says how a target keeps Options.Depth requests outstanding
// per worker, so that both targets carry the same load: Concurrency ×
// Depth requests outstanding at any time (Batches: at most that many, at
// the start of each round).
type Pipelining int

const (
	// Goroutines: each worker runs Depth goroutines, each with one request
	// outstanding; the target multiplexes them over its connections (the
	// likes client pipelines concurrent calls on shared connections). Each
	// request's latency is its own round trip.
	Goroutines Pipelining = iota
	// Batches: each worker sends its Depth requests as one pipeline on one
	// connection and waits for all the answers (go-redis Pipeline; Redis
	// connections carry one command stream each). Every request in a round
	// is timed from the send of the round to the last answer of the round.
	Batches
)

// Target is a system under test. Exec and the other methods may be called
// from many goroutines at once.
type Target interface {
	// Name is a short label for reports ("likes", "redis").
	Name() string

	// Pipelining tells the runner how to keep Depth requests outstanding.
	Pipelining() Pipelining

	// Exec executes ops, writing the answer to ops[i] into res[i]
	// (len(res) == len(ops)). With several ops they are sent together
	// (pipelined or concurrently) and Exec returns when all are answered.
	// A failed request sets res[i].Err; ctx bounds the whole call.
	Exec(ctx context.Context, ops []Op, res []OpResult)

	// Memory reports the target's memory figures now.
	Memory(ctx context.Context) (Memory, error)

	// Close releases the target's connections.
	Close() error
}

// Memory is what a target reports about its memory, in two like-for-like
// readings:
//
//   - UsedBytes, the bytes its allocator has handed out and not taken back,
//     size-class rounding included, the allocator's own free space not:
//     likes the Go heap's live objects after a forced collection
//     (HeapAlloc), Redis used_memory. The headline bytes per like.
//   - HeldBytes, those plus the allocator's fragmentation (pages holding
//     some live data): likes HeapInuse, Redis allocator_active.
//
// SetBytes, when known, is the size of the sets alone.
type Memory struct {
	Likes     uint64 `json:"likes,omitempty"` // as the target counts them, when it does
	UsedBytes uint64 `json:"used_bytes"`
	HeldBytes uint64 `json:"held_bytes,omitempty"`
	SetBytes  uint64 `json:"set_bytes,omitempty"`
}

// BulkExecer is implemented by targets that execute the preload's and the
// check's large rounds differently from the measured run's (Exec). The
// runner uses ExecBulk for those when a target has it.
type BulkExecer interface {
	ExecBulk(ctx context.Context, ops []Op, res []OpResult)
}

// bulk returns t's ExecBulk if it has one, else its Exec.
func bulk(t Target) func(context.Context, []Op, []OpResult) {
	if b, ok := t.(BulkExecer); ok {
		return b.ExecBulk
	}
	return t.Exec
}
