package client

import (
	"context"
	"sync"
)

// DefaultWriteWindow is Options.WriteWindow when left zero: half the
// server's default de-duplication window (raftfsm.DefaultOptions, 1024), so
// a client at its limit stays well inside what the server remembers.
const DefaultWriteWindow = 512

// MaxWriteWindow bounds Options.WriteWindow: the largest de-duplication
// window a server can be configured with (raftfsm.MaxDedupWindow).
const MaxWriteWindow = 1 << 16

// writeWindow hands out write sequence numbers so that the seqs of all the
// client's unfinished writes always lie in a span of at most size numbers:
// seq s is handed out only once every seq at or below s-size has finished
// (answered, failed for good, or given up by its caller).
//
// Why: the server remembers, per client, the results of the seqs within its
// de-duplication window below the highest seq it has applied, and refuses
// older ones as expired. Without this bound a write that took its seq and
// then waited (for an in-flight slot, a reconnect, a retry backoff) could
// fall below the window while later writes were applied, and be refused
// without ever having been applied. With it, the highest seq the server can
// have seen is below low+size, so an unfinished write's seq is always within
// size of it: as long as size is at most the server's window, every retry of
// an unfinished write is either applied once or answered from the server's
// memory. A write whose caller gave up no longer holds the window back; if
// it reaches the server much later it may be refused as expired, which is
// safe (it is not applied).
//
// Concurrency: acquire and release may be called from any goroutine; mu
// guards everything. Waiters queue in order; release hands the seqs that
// became available to the first waiters directly, so a release wakes only
// the goroutines it serves (no thundering herd at the limit). A waiter
// takes all the seqs it needs at once (a Batch's writes), never a part:
// holders of seqs never wait for more, so waiters cannot deadlock.
type writeWindow struct {
	mu      sync.Mutex
	size    uint64
	next    uint64 // next seq to hand out (seqs start at 1)
	low     uint64 // lowest unfinished seq; == next when none is unfinished
	busy    []bool // busy[s%size]: seq s in [low, next) is unfinished
	waiters []windowWaiter
}

type windowWaiter struct {
	n  uint64
	ch chan uint64 // receives the first of its n seqs
}

func newWriteWindow(size int) *writeWindow {
	return &writeWindow{size: uint64(size), next: 1, low: 1, busy: make([]bool, size)}
}

// room reports whether n more seqs fit; mu must be held.
func (w *writeWindow) room(n uint64) bool { return w.next-w.low+n <= w.size }

// take hands out n consecutive seqs and returns the first; mu must be held
// and there must be room.
func (w *writeWindow) take(n uint64) uint64 {
	first := w.next
	for s := first; s < first+n; s++ {
		w.busy[s%w.size] = true
	}
	w.next += n
	return first
}

// acquire returns the next sequence number, waiting while size writes
// starting at the lowest unfinished one are outstanding. It fails with
// ctx.Err() or ErrClosed (when closed is closed) while waiting.
func (w *writeWindow) acquire(ctx context.Context, closed <-chan struct{}) (uint64, error) {
	return w.acquireN(ctx, closed, 1)
}

// acquireN returns the first of n consecutive sequence numbers (1 <= n <=
// size), all taken at once; each must be released.
func (w *writeWindow) acquireN(ctx context.Context, closed <-chan struct{}, n int) (uint64, error) {
	need := uint64(n)
	w.mu.Lock()
	if len(w.waiters) == 0 && w.room(need) {
		s := w.take(need)
		w.mu.Unlock()
		return s, nil
	}
	ch := make(chan uint64, 1)
	w.waiters = append(w.waiters, windowWaiter{need, ch})
	w.mu.Unlock()
	var err error
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closed:
		err = ErrClosed
	}
	w.mu.Lock()
	for i, ww := range w.waiters {
		if ww.ch == ch {
			w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
			w.serve() // a large waiter leaving may make room for those behind it
			w.mu.Unlock()
			return 0, err
		}
	}
	w.mu.Unlock()
	// A release handed us our seqs as we gave up: give them back.
	first := <-ch
	for s := first; s < first+need; s++ {
		w.release(s)
	}
	return 0, err
}

// release marks seq finished; it is never retried again.
func (w *writeWindow) release(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy[seq%w.size] = false
	for w.low < w.next && !w.busy[w.low%w.size] {
		w.low++
	}
	w.serve()
}

// serve hands seqs to the waiters at the head of the queue while they fit;
// mu must be held.
func (w *writeWindow) serve() {
	for len(w.waiters) > 0 && w.room(w.waiters[0].n) {
		w.waiters[0].ch <- w.take(w.waiters[0].n)
		w.waiters = w.waiters[1:]
	}
}
