package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/likes/likes/client"
)

// LikesTarget runs the workload against likes through the real client.
type LikesTarget struct {
	c *client.Client

	// AdminAddr, if set, is the node's admin HTTP address: Memory then
	// forces a garbage collection there first (/debug/pprof/heap?gc=1), so
	// the heap figures count live memory, not garbage awaiting the next
	// cycle. Set it before the first Memory call.
	AdminAddr string

	// Style is how the measured run keeps Depth requests outstanding per
	// worker: Goroutines (the default: Depth goroutines per worker, each
	// one call at a time) or Batches (one goroutine per worker sending its
	// Depth requests as one client.Batch, as go-redis pipelines do: the same
	// shape as the Redis side, and fewer wake-ups in the load generator).
	// Set it before the run. A batch takes all its writes' sequence numbers
	// from the client's write window at once, so concurrent batches share
	// the window without deadlock; one batch holds at most
	// client.DefaultWriteWindow writes (execBatch splits larger ones).
	Style Pipelining
}

var _ Target = (*LikesTarget)(nil)

// DialLikes connects to a likes node with conns pipelined connections.
func DialLikes(ctx context.Context, conns int, logger *slog.Logger, addrs ...string) (*LikesTarget, error) {
	c, err := client.DialOptions(ctx, client.Options{Conns: min(conns, client.MaxConns), Logger: logger}, addrs...)
	if err != nil {
		return nil, fmt.Errorf("bench: dial likes %v: %w", addrs, err)
	}
	return &LikesTarget{c: c}, nil
}

// Name implements Target.
func (t *LikesTarget) Name() string { return "likes" }

// Pipelining implements Target: Style.
func (t *LikesTarget) Pipelining() Pipelining { return t.Style }

// Exec implements Target. One op runs on the calling goroutine. With
// Style Batches several go out as one client.Batch (HAS, COUNT, LIKE,
// UNLIKE), each HAS_MANY on a goroutine of its own beside it (a Batch holds
// single-game requests only); otherwise as ExecBulk.
func (t *LikesTarget) Exec(ctx context.Context, ops []Op, res []OpResult) {
	switch {
	case len(ops) == 1:
		t.do(ctx, &ops[0], &res[0])
	case t.Style == Batches:
		t.execBatch(ctx, ops, res)
	default:
		t.ExecBulk(ctx, ops, res)
	}
}

// ExecBulk implements BulkExecer, for the preload and the check: the ops go
// out as client.Batch rounds whatever Style the measured run uses, which
// keeps a large round (PreloadDepth writes per worker) from costing a
// goroutine per op.
func (t *LikesTarget) ExecBulk(ctx context.Context, ops []Op, res []OpResult) {
	t.execBatch(ctx, ops, res)
}

func (t *LikesTarget) execBatch(ctx context.Context, ops []Op, res []OpResult) {
	var wg sync.WaitGroup
	b := t.c.NewBatch()
	idx := make([]int, 0, len(ops)) // ops[idx[j]] is the batch's j-th request
	writes := 0
	flush := func() {
		if len(idx) == 0 {
			return
		}
		_ = b.Exec(ctx) // every request's own error is in its result
		for j, i := range idx {
			br := b.Result(j)
			res[i] = OpResult{Err: br.Err, Changed: br.Changed, Count: br.Count, Liked: br.Liked}
		}
		b.Reset()
		idx, writes = idx[:0], 0
	}
	for i := range ops {
		op := &ops[i]
		if op.Kind.IsWrite() && writes == client.DefaultWriteWindow {
			flush() // a Batch holds at most the client's write window of writes
		}
		switch op.Kind {
		case OpHas:
			b.HasLiked(op.Game, op.User)
		case OpCount:
			b.Count(op.Game)
		case OpLike:
			b.Like(op.Game, op.User)
			writes++
		case OpUnlike:
			b.Unlike(op.Game, op.User)
			writes++
		default:
			wg.Go(func() { t.do(ctx, &ops[i], &res[i]) })
			continue
		}
		idx = append(idx, i)
	}
	flush()
	wg.Wait()
}

func (t *LikesTarget) do(ctx context.Context, op *Op, r *OpResult) {
	var err error
	switch op.Kind {
	case OpHas:
		r.Liked, err = t.c.HasLiked(ctx, op.Game, op.User)
	case OpHasMany:
		r.LikedMany, err = t.c.HasLikedMany(ctx, op.User, op.Games)
	case OpCount:
		r.Count, err = t.c.Count(ctx, op.Game)
	case OpLike, OpUnlike:
		var w client.WriteResult
		if op.Kind == OpLike {
			w, err = t.c.Like(ctx, op.Game, op.User)
		} else {
			w, err = t.c.Unlike(ctx, op.Game, op.User)
		}
		r.Changed, r.Count = w.Changed, w.Count
	default:
		err = fmt.Errorf("bench: unknown op %v", op.Kind)
	}
	r.Err = err
}

// Memory implements Target from the node's STATS: heap_alloc_bytes (live
// heap objects, everything the node holds included), heap_inuse_bytes (with
// the heap's fragmentation) and set_bytes (the sets alone).
func (t *LikesTarget) Memory(ctx context.Context) (Memory, error) {
	if t.AdminAddr != "" {
		if err := forceGC(ctx, t.AdminAddr); err != nil {
			return Memory{}, err
		}
	}
	raw, err := t.c.Stats(ctx)
	if err != nil {
		return Memory{}, fmt.Errorf("bench: likes stats: %w", err)
	}
	var st struct {
		Likes     uint64 `json:"likes"`
		SetBytes  uint64 `json:"set_bytes"`
		HeapAlloc uint64 `json:"heap_alloc_bytes"`
		HeapInuse uint64 `json:"heap_inuse_bytes"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return Memory{}, fmt.Errorf("bench: likes stats: %w", err)
	}
	return Memory{Likes: st.Likes, UsedBytes: st.HeapAlloc, HeldBytes: st.HeapInuse, SetBytes: st.SetBytes}, nil
}

// Close implements Target.
func (t *LikesTarget) Close() error { return t.c.Close() }

// forceGC asks a node to collect garbage: its heap profile endpoint runs
// runtime.GC with gc=1.
func forceGC(ctx context.Context, admin string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return fmt.Errorf("bench: likes admin: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: likes admin (GC before measuring memory): %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: likes admin %s: %s", admin, resp.Status)
	}
	return nil
}
