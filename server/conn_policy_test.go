package server

import "testing"

// TestReadBufPolicy walks the read buffer's capacity through a scripted
// sequence of reads: growth on full reads up to the cap, shrinking only
// after readShrinkAfter short reads in a row with little held, and never
// past the bounds.
func TestReadBufPolicy(t *testing.T) {
	type step struct {
		held, n, free int // after the read: bytes held; the read's size; room it had
		want          int // capacity after the step
	}
	var steps []step
	c := readBufMin
	// Full reads: 4K -> 8K -> 16K -> 32K -> 64K, then stays at the cap.
	for _, want := range []int{8 << 10, 16 << 10, 32 << 10, 64 << 10, 64 << 10} {
		steps = append(steps, step{held: c, n: c, free: c, want: want})
		c = want
	}
	// readShrinkAfter-1 short reads: no change; one more: halve.
	for range readShrinkAfter - 1 {
		steps = append(steps, step{held: 100, n: 100, free: c, want: c})
	}
	steps = append(steps, step{held: 100, n: 100, free: c, want: c / 2})
	c /= 2
	// A half-full read breaks the streak.
	for range readShrinkAfter - 1 {
		steps = append(steps, step{held: 100, n: 100, free: c, want: c})
	}
	steps = append(steps, step{held: c / 2, n: c / 2, free: c, want: c})
	for range readShrinkAfter - 1 {
		steps = append(steps, step{held: 100, n: 100, free: c, want: c})
	}
	// Short reads but much held (a big frame trickling in): no shrink.
	steps = append(steps, step{held: c / 2, n: 100, free: c / 2, want: c})
	// Down to the floor and no further.
	for c > readBufMin {
		for range readShrinkAfter - 1 {
			steps = append(steps, step{held: 10, n: 10, free: c, want: c})
		}
		steps = append(steps, step{held: 10, n: 10, free: c, want: max(c/2, readBufMin)})
		c = max(c/2, readBufMin)
	}
	for range 2 * readShrinkAfter {
		steps = append(steps, step{held: 10, n: 10, free: c, want: readBufMin})
	}
	c, short := readBufMin, 0
	for i, s := range steps {
		var got int
		got, short = readBufPolicy(c, s.held, s.n, s.free, short)
		if got != s.want {
			t.Fatalf("step %d (cap %d, held %d, read %d of %d): cap %d, want %d", i, c, s.held, s.n, s.free, got, s.want)
		}
		c = got
	}
	// A buffer grown past the cap for one big frame: a full read does not
	// grow it further, and short reads shrink it back.
	big := 1 << 20
	if c, short = readBufPolicy(big, big, big-10, big-10, 0); c != big {
		t.Fatalf("a full read of a 1 MiB buffer: cap %d, want %d", c, big)
	}
	for i := range readShrinkAfter {
		c, short = readBufPolicy(c, 0, 10, c, short)
		if i < readShrinkAfter-1 && c != big {
			t.Fatalf("a 1 MiB buffer shrank after %d short reads", i+1)
		}
	}
	if c != big/2 {
		t.Fatalf("a 1 MiB buffer after %d short reads: %d, want %d", readShrinkAfter, c, big/2)
	}
}
