package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/likes/likes/client"
	"github.com/likes/likes/internal/testnode"
)

// TestBatch: a batch of mixed requests against a real node answers each
// one as the single call would, writes are exactly once (a second batch
// liking the same pairs changes nothing), and a batch with more writes than
// the client's write window is refused whole with ErrTooLarge.
func TestBatch(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)

	b := c.NewBatch()
	for u := uint64(1); u <= 100; u++ {
		b.Like(u%5, u)
	}
	if err := b.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range b.Len() {
		if r := b.Result(i); !r.Changed || r.Err != nil || r.Index == 0 {
			t.Fatalf("like %d: %+v", i, r)
		}
	}

	b.Reset()
	for u := uint64(1); u <= 100; u++ {
		b.Like(u%5, u) // again: no change
	}
	b.HasLiked(3, 3)
	b.HasLiked(3, 4)
	b.Count(0)
	b.Count(99)
	b.Unlike(4, 4)
	if err := b.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if r := b.Result(i); r.Changed || r.Count != 20 {
			t.Fatalf("repeated like %d: %+v, want unchanged with count 20", i, r)
		}
	}
	if r := b.Result(100); !r.Liked {
		t.Errorf("HasLiked(3, 3) = %+v, want liked", r)
	}
	if r := b.Result(101); r.Liked {
		t.Errorf("HasLiked(3, 4) = %+v, want not liked", r)
	}
	if r := b.Result(102); r.Count != 20 {
		t.Errorf("Count(0) = %+v, want 20", r)
	}
	if r := b.Result(103); r.Count != 0 {
		t.Errorf("Count(99) = %+v, want 0", r)
	}
	if r := b.Result(104); !r.Changed || r.Count != 19 {
		t.Errorf("Unlike(4, 4) = %+v, want changed, count 19", r)
	}

	b.Reset()
	for u := range uint64(client.DefaultWriteWindow + 1) {
		b.Like(7, u)
	}
	if err := b.Exec(ctx); !errors.Is(err, client.ErrTooLarge) {
		t.Fatalf("batch over the write window: %v, want ErrTooLarge", err)
	}
	if n, err := c.Count(ctx, 7); err != nil || n != 0 {
		t.Fatalf("count after a refused batch = %d, %v; want 0: nothing may be sent", n, err)
	}

	// A batch whose ctx is already done fails every request with ctx's error.
	b.Reset()
	b.HasLiked(1, 1)
	b.Like(1, 1000)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Exec(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec with a cancelled ctx: %v", err)
	}
	for i := range b.Len() {
		if r := b.Result(i); !errors.Is(r.Err, context.Canceled) {
			t.Errorf("request %d: %+v, want context.Canceled", i, r)
		}
	}
}

// TestConcurrentBatchesShareTheWindow: batches whose writes together exceed
// the client's write window all complete. A batch takes its seqs all at
// once; taking them one by one, 16 batches of 256 writes each held part of
// the 512-seq window and waited for the rest forever.
func TestConcurrentBatchesShareTheWindow(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	const batches, writes = 16, 256
	errs := make(chan error, batches)
	for w := range batches {
		go func() {
			b := c.NewBatch()
			for u := range uint64(writes) {
				b.Like(uint64(w), u)
			}
			errs <- b.Exec(ctx)
		}()
	}
	for range batches {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for w := range uint64(batches) {
		if got, err := c.Count(ctx, w); err != nil || got != writes {
			t.Fatalf("game %d: count %d, %v; want %d", w, got, err, writes)
		}
	}
}
