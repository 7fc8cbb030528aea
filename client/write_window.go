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
// the goroutines it serves (no thundering herd at the limit).
type writeWindow struct {
	mu      sync.Mutex
	size    uint64
	next    uint64 // next seq to hand out (seqs start at 1)
	low     uint64 // lowest unfinished seq; == next when none is unfinished
	busy    []bool // busy[s%size]: seq s in [low, next) is unfinished
	waiters []chan uint64
}

func newWriteWindow(size int) *writeWindow {
	return &writeWindow{size: uint64(size), next: 1, low: 1, busy: make([]bool, size)}
}

// take hands out the next seq; mu must be held and there must be room.
func (w *writeWindow) take() uint64 {
	s := w.next
	w.next++
	w.busy[s%w.size] = true
	return s
}

// acquire returns the next sequence number, waiting while size writes
// starting at the lowest unfinished one are outstanding. It fails with
// ctx.Err() or ErrClosed (when closed is closed) while waiting.
func (w *writeWindow) acquire(ctx context.Context, closed <-chan struct{}) (uint64, error) {
	w.mu.Lock()
	if len(w.waiters) == 0 && w.next-w.low < w.size {
		s := w.take()
		w.mu.Unlock()
		return s, nil
	}
	ch := make(chan uint64, 1)
	w.waiters = append(w.waiters, ch)
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
	for i, c := range w.waiters {
		if c == ch {
			w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
			w.mu.Unlock()
			return 0, err
		}
	}
	w.mu.Unlock()
	// A release handed us a seq as we gave up: give it back.
	w.release(<-ch)
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
	for len(w.waiters) > 0 && w.next-w.low < w.size {
		w.waiters[0] <- w.take()
		w.waiters = w.waiters[1:]
	}
}
