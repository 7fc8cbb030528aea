package client

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquireNow acquires with an already-expired context: it returns a seq only
// if one is available without waiting.
func acquireNow(w *writeWindow) (uint64, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.mu.Lock()
	free := w.next-w.low < w.size
	w.mu.Unlock()
	if !free {
		return 0, false
	}
	s, err := w.acquire(ctx, nil)
	return s, err == nil
}

func TestWriteWindow(t *testing.T) {
	w := newWriteWindow(3)
	for want := uint64(1); want <= 3; want++ {
		if s, ok := acquireNow(w); !ok || s != want {
			t.Fatalf("acquire = %d, %v; want %d", s, ok, want)
		}
	}
	if s, ok := acquireNow(w); ok {
		t.Fatalf("4th acquire with 1..3 unfinished got %d; window is 3", s)
	}
	// Finishing a later seq does not make room: the span is from the oldest.
	w.release(3)
	w.release(2)
	if s, ok := acquireNow(w); ok {
		t.Fatalf("acquire with seq 1 unfinished got %d", s)
	}
	// A waiter wakes when the oldest finishes, and gets the next seq.
	got := make(chan uint64)
	go func() {
		s, err := w.acquire(context.Background(), nil)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	w.release(1)
	select {
	case s := <-got:
		if s != 4 {
			t.Fatalf("waiter got %d, want 4", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not woken by release of the oldest seq")
	}
	// 4 unfinished, low=4: 5 and 6 fit, 7 does not.
	for want := uint64(5); want <= 6; want++ {
		if s, ok := acquireNow(w); !ok || s != want {
			t.Fatalf("acquire = %d, %v; want %d", s, ok, want)
		}
	}
	if _, ok := acquireNow(w); ok {
		t.Fatal("acquire beyond the window succeeded")
	}
	// Waiting ends with the context or the client's close.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := w.acquire(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past deadline: %v", err)
	}
	closed := make(chan struct{})
	close(closed)
	if _, err := w.acquire(context.Background(), closed); !errors.Is(err, ErrClosed) {
		t.Fatalf("acquire on closed client: %v", err)
	}
}

// TestWriteWindowWaitersInOrder: waiters are served in arrival order, one
// release serves exactly the waiters it made room for, and a waiter that
// gave up is skipped without losing a seq.
func TestWriteWindowWaitersInOrder(t *testing.T) {
	w := newWriteWindow(2)
	a, _ := acquireNow(w)
	b, _ := acquireNow(w)
	type got struct {
		who string
		seq uint64
		err error
	}
	out := make(chan got, 3)
	wait := func(ctx context.Context, who string) {
		s, err := w.acquire(ctx, nil)
		out <- got{who, s, err}
	}
	waitQueued := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); ; {
			w.mu.Lock()
			q := len(w.waiters)
			w.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiters queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	gaveUp, cancel := context.WithCancel(context.Background())
	go wait(gaveUp, "first")
	waitQueued(1)
	go wait(context.Background(), "second")
	waitQueued(2)
	go wait(context.Background(), "third")
	waitQueued(3)
	cancel()
	if g := <-out; g.who != "first" || !errors.Is(g.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %+v", g)
	}
	w.release(a) // room for one: the second waiter, seq 3
	if g := <-out; g.who != "second" || g.seq != 3 || g.err != nil {
		t.Fatalf("after one release: %+v, want second with seq 3", g)
	}
	select {
	case g := <-out:
		t.Fatalf("%+v served without room", g)
	case <-time.After(20 * time.Millisecond):
	}
	w.release(b)
	if g := <-out; g.who != "third" || g.seq != 4 {
		t.Fatalf("after the second release: %+v, want third with seq 4", g)
	}
}

// TestWriteWindowAcquireN: n seqs are taken together or not at all, and a
// waiter for n is not overtaken by later waiters for fewer.
func TestWriteWindowAcquireN(t *testing.T) {
	w := newWriteWindow(4)
	first, err := w.acquireN(context.Background(), nil, 3)
	if err != nil || first != 1 {
		t.Fatalf("acquireN(3) = %d, %v; want 1", first, err)
	}
	got := make(chan uint64, 2)
	go func() { s, _ := w.acquireN(context.Background(), nil, 2); got <- s }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		q := len(w.waiters)
		w.mu.Unlock()
		if q == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("acquireN(2) did not queue")
		}
	}
	// One seq is free, but the queued waiter for 2 comes first.
	if s, ok := acquireNow(w); ok {
		t.Fatalf("acquire overtook a queued waiter: got %d", s)
	}
	w.release(1)
	if s := <-got; s != 4 {
		t.Fatalf("acquireN(2) after a release got %d, want 4 (seqs 4 and 5)", s)
	}
}
