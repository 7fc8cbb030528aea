package client

import (
	"context"
	"fmt"

	"github.com/likes/likes/proto"
)

// Batch is a list of single-game requests that one goroutine sends at once
// and then waits for: the pipelining of many concurrent callers without a
// goroutine per request. All requests go out on one connection, usually in
// one socket write, and their answers usually come back in one read, so the
// caller wakes about once per batch instead of once per request.
//
// A Batch is not a transaction: each request succeeds or fails on its own
// (see Result), with the same retries and the same exactly-once writes as
// the single calls. Requests in one batch are unordered with respect to
// each other, as concurrent calls are: a batch that likes and then checks
// the same pair may see either state.
//
// A Batch belongs to one goroutine; it may be reused after Reset.
type Batch struct {
	c      *Client
	ops    []batchOp
	writes int
}

type batchOp struct {
	typ  proto.MsgType
	game uint64
	user uint64
	res  BatchResult

	// Exec's state for the request, reset by every Exec.
	cl        *call
	seq       uint64 // writes: their seq from the write window
	submitted bool
}

// BatchResult is the outcome of one request of a Batch.
type BatchResult struct {
	// Liked answers HasLiked.
	Liked bool
	// Count answers Count; for Like and Unlike it is the count after the write.
	Count uint64
	// Changed and Index are those of a Like or Unlike (see WriteResult).
	Changed bool
	Index   uint64
	// Err is the request's own error, as the single call would return it.
	Err error
}

// NewBatch returns an empty batch for c.
func (c *Client) NewBatch() *Batch { return &Batch{c: c} }

// HasLiked adds "has user liked game?" to the batch.
func (b *Batch) HasLiked(game, user uint64) { b.add(proto.TypeHas, game, user) }

// Count adds "how many likes has game?" to the batch.
func (b *Batch) Count(game uint64) { b.add(proto.TypeCount, game, 0) }

// Like adds a like (exactly once, as Client.Like) to the batch.
func (b *Batch) Like(game, user uint64) { b.add(proto.TypeLike, game, user); b.writes++ }

// Unlike adds an unlike (exactly once, as Client.Unlike) to the batch.
func (b *Batch) Unlike(game, user uint64) { b.add(proto.TypeUnlike, game, user); b.writes++ }

func (b *Batch) add(t proto.MsgType, game, user uint64) {
	b.ops = append(b.ops, batchOp{typ: t, game: game, user: user})
}

// Len returns the number of requests in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Result returns the outcome of the i-th request added (after Exec).
func (b *Batch) Result(i int) BatchResult { return b.ops[i].res }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.ops, b.writes = b.ops[:0], 0 }

// Exec sends every request of the batch and waits for all of them, each
// retried like a single call until it succeeds, fails for good or ctx ends.
// It returns nil when all succeeded, otherwise an error wrapping the first
// request's error (every request's own error is in its Result). A batch
// may hold at most Options.WriteWindow writes, since all of them are in
// flight at once; a larger one fails with ErrTooLarge and sends nothing.
func (b *Batch) Exec(ctx context.Context) error {
	c := b.c
	if b.writes > c.opts.WriteWindow {
		return fmt.Errorf("client: batch of %d writes, at most Options.WriteWindow (%d): %w", b.writes, c.opts.WriteWindow, ErrTooLarge)
	}
	for i := range b.ops {
		b.ops[i].res, b.ops[i].cl, b.ops[i].seq, b.ops[i].submitted = BatchResult{}, nil, 0, false
	}
	defer func() {
		for i := range b.ops {
			op := &b.ops[i]
			if op.seq != 0 {
				c.window.release(op.seq)
			}
			if op.cl != nil {
				putCall(op.cl)
				op.cl = nil
			}
		}
	}()
	// All the batch's seqs at once: a batch holding part of the window while
	// waiting for the rest could deadlock with another doing the same.
	var seq uint64
	if b.writes > 0 {
		first, err := c.window.acquireN(ctx, c.closed, b.writes)
		if err != nil {
			err = fmt.Errorf("client: batch of %d: waiting for the write window: %w", len(b.ops), err)
			for i := range b.ops {
				b.ops[i].res = BatchResult{Err: err}
			}
			return err
		}
		seq = first
	}
	// One session for the whole batch, so its frames share socket writes.
	s, serr := c.session(ctx)
	for i := range b.ops {
		op := &b.ops[i]
		if op.typ == proto.TypeLike || op.typ == proto.TypeUnlike {
			op.seq = seq
			seq++
		}
		op.cl = getCall(op.typ)
		op.cl.game, op.cl.user, op.cl.seq = op.game, op.user, op.seq
		if serr == nil {
			op.submitted = s.submit(ctx, op.cl) == nil
		}
	}
	var first error
	for i := range b.ops {
		op := &b.ops[i]
		cl := op.cl
		if err := c.run(ctx, cl, op.submitted); err != nil {
			op.res.Err = fmt.Errorf("client: %v game %d user %d: %w", op.typ, op.game, op.user, err)
		} else {
			op.res = BatchResult{Liked: cl.liked, Count: cl.count, Changed: cl.changed, Index: cl.index}
		}
		if first == nil && op.res.Err != nil {
			first = op.res.Err
		}
	}
	if first != nil {
		return fmt.Errorf("client: batch of %d: %w", len(b.ops), first)
	}
	return nil
}
