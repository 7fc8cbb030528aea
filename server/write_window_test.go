package server_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/likes/likes/internal/testnode"
)

// TestManyConcurrentWritesOneClient: one client with far more concurrent
// writers than the server's dedup window (raftfsm.DefaultOptions, 1024 seqs)
// gets every write applied on its first attempt. Sequence numbers are taken
// per call, so without the client's write window a writer that waits for an
// in-flight slot holds an old seq while later ones are applied, and the
// server would refuse it as expired (SEQ_EXPIRED) without ever applying it.
func TestManyConcurrentWritesOneClient(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	const writers, perWriter = 4000, 3
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				r, err := c.Like(ctx, uint64(w%97), uint64(w*perWriter+i))
				if err != nil || !r.Changed {
					if failed.Add(1) == 1 {
						firstErr.Store(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d writes failed or did not change the set; first error: %v", f, writers*perWriter, firstErr.Load())
	}
	var total uint64
	games := make([]uint64, 97)
	for i := range games {
		games[i] = uint64(i)
	}
	counts, err := c.CountMany(ctx, games)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range counts {
		total += n
	}
	if total != writers*perWriter {
		t.Fatalf("counts add up to %d, want %d", total, writers*perWriter)
	}
}
