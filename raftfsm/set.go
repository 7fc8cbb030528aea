package raftfsm

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

// Representation thresholds of a game's user set. The numbers that chose
// them are in docs/fsm-memory.md.
const (
	// smallMax is the largest set kept as one sorted []uint64 (8 B/like,
	// no per-chunk overhead, one allocation). Above it a set is chunked.
	smallMax = 64
	// smallMin: a chunked or roaring set that shrinks to this size becomes
	// small again (hysteresis against flapping at smallMax).
	smallMin = smallMax / 2
	// chunkMax caps a chunk's entries, so an insert's memmove is at most
	// 16 KiB; a full chunk splits into two halves.
	chunkMax = 4096
	// chunkFill is how full Restore and conversions pack chunks.
	chunkFill = chunkMax * 3 / 4
	// chunkMergeBelow: a chunk shrunk below this merges with a neighbour of
	// the same high word if the result stays at most chunkMax/2.
	chunkMergeBelow = chunkMax / 8
	// checkMinChanges: a big set reconsiders chunked vs roaring after
	// max(checkMinChanges, n/checkDivisor) changes (amortised O(checkDivisor)
	// work per change).
	checkMinChanges = 4096
	checkDivisor    = 8
	// Estimated heap bytes of roaring parts (see docs/fsm-memory.md):
	// per 16-bit container, per value of an array container, and per
	// 32-bit high key (a roaring.Bitmap).
	roaringContainerOverhead = 60
	roaringArrayValueBytes   = 5 // 2 B/value ×1.25 append slack, scaled ×2 (fixed point /2)
	roaringHighKeyOverhead   = 96
	// chunkHeaderBytes is sizeof(chunk); bigSetBytes ~ sizeof(bigSet).
	chunkHeaderBytes = 40
	bigSetBytes      = 64
	// hysteresisNum/hysteresisDen: convert only if the other representation
	// is estimated at most 4/5 of the current one.
	hysteresisNum = 4
	hysteresisDen = 5
)

// cowCtx tells a mutation whether data must be copied before writing: while
// a snapshot is in progress (active), data whose generation is not gen may be
// shared with the snapshot and is cloned first.
type cowCtx struct {
	active bool
	gen    uint32
}

func (c cowCtx) mustCopy(gen uint32) bool { return c.active && gen != c.gen }

// game is one game's set of user ids, stored by value in a stripe map. It is
// small (sorted ids in small, big == nil) or big (chunked or roaring).
// gen is the generation in which small/big was allocated (see cowCtx).
type game struct {
	small []uint64
	big   *bigSet
	gen   uint32
}

// bigSet is a set larger than smallMax: either chunks (sorted, disjoint,
// each chunk's ids share their high 32 bits) or a roaring bitmap (rb != nil).
type bigSet struct {
	n       uint64
	chunks  []chunk
	rb      *roaring64.Bitmap
	changes uint64 // since the last representation check
}

// chunk holds sorted low words of ids whose high word is first>>32.
// first is the chunk's smallest id; gen is the generation of lo.
type chunk struct {
	first uint64
	lo    []uint32
	gen   uint32
}

func (g *game) count() uint64 {
	if g.big != nil {
		return g.big.n
	}
	return uint64(len(g.small))
}

func (g *game) contains(x uint64) bool {
	if g.big == nil {
		_, ok := slices.BinarySearch(g.small, x)
		return ok
	}
	if g.big.rb != nil {
		return g.big.rb.Contains(x)
	}
	return g.big.containsChunked(x)
}

// cloneShallow returns a copy of g that may be mutated under gen: small ids
// and the bigSet header are copied; chunk data is copied lazily (chunk.gen),
// a roaring bitmap is cloned whole.
func (g game) cloneShallow(gen uint32) game {
	ng := game{gen: gen}
	if g.big == nil {
		ng.small = slices.Clone(g.small)
		return ng
	}
	b := *g.big
	if b.rb != nil {
		b.rb = b.rb.Clone()
	} else {
		b.chunks = slices.Clone(b.chunks)
	}
	ng.big = &b
	return ng
}

// insert adds x (not yet present) to g. g must be writable at c.gen for
// its header (small slice / bigSet); chunk data is copied here if needed.
func (g *game) insert(x uint64, c cowCtx) {
	if g.big == nil {
		if len(g.small) < smallMax {
			i, _ := slices.BinarySearch(g.small, x)
			g.small = insertTight(g.small, i, x, smallCap)
			return
		}
		ids := make([]uint64, 0, len(g.small)+1)
		i, _ := slices.BinarySearch(g.small, x)
		ids = append(append(append(ids, g.small[:i]...), x), g.small[i:]...)
		g.big = newBigSet(ids, c.gen)
		g.small = nil
		return
	}
	b := g.big
	b.n++
	if b.rb != nil {
		b.rb.Add(x)
	} else {
		b.insertChunked(x, c)
	}
	b.changed(c.gen)
}

// remove deletes x (present) from g.
func (g *game) remove(x uint64, c cowCtx) {
	if g.big == nil {
		i, _ := slices.BinarySearch(g.small, x)
		g.small = slices.Delete(g.small, i, i+1)
		if cap(g.small) > 2*len(g.small)+4 {
			g.small = slices.Clip(slices.Clone(g.small))
		}
		return
	}
	b := g.big
	b.n--
	if b.rb != nil {
		b.rb.Remove(x)
	} else {
		b.removeChunked(x, c)
	}
	if b.n <= smallMin {
		g.small = b.appendIDs(make([]uint64, 0, b.n))
		g.big = nil
		return
	}
	b.changed(c.gen)
}

// appendIDs appends g's ids in ascending order.
func (g *game) appendIDs(dst []uint64) []uint64 {
	if g.big == nil {
		return append(dst, g.small...)
	}
	return g.big.appendIDs(dst)
}

// forEachRun calls fn with ascending runs of g's ids; buf is scratch space.
func (g *game) forEachRun(buf []uint64, fn func([]uint64) error) error {
	if g.big == nil {
		return fn(g.small)
	}
	b := g.big
	if b.rb != nil {
		it := b.rb.ManyIterator()
		for {
			n := it.NextMany(buf[:cap(buf)])
			if n == 0 {
				return nil
			}
			if err := fn(buf[:n]); err != nil {
				return err
			}
		}
	}
	for i := range b.chunks {
		ch := &b.chunks[i]
		hi := ch.first &^ 0xffffffff
		buf = buf[:0]
		for _, lo := range ch.lo {
			buf = append(buf, hi|uint64(lo))
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

// heapBytes estimates g's heap bytes outside the stripe map.
func (g *game) heapBytes() uint64 {
	if g.big == nil {
		return uint64(cap(g.small)) * 8
	}
	if g.big.rb != nil {
		return bigSetBytes + g.big.roaringBytes()
	}
	return bigSetBytes + g.big.chunkedBytes()
}

// buildGame makes a game from ascending ids (len >= 1), choosing the
// representation by size.
func buildGame(ids []uint64, gen uint32) game {
	if len(ids) <= smallMax {
		return game{small: slices.Clone(ids), gen: gen}
	}
	b := newBigSet(ids, gen)
	if r := b.estimateRoaringFromChunks(); r*hysteresisDen < b.chunkedBytes()*hysteresisNum {
		b.toRoaring()
	}
	return game{big: b, gen: gen}
}

// newBigSet builds a chunked set from ascending ids.
func newBigSet(ids []uint64, gen uint32) *bigSet {
	b := &bigSet{n: uint64(len(ids))}
	b.chunks = appendChunks(nil, ids, gen)
	return b
}

// appendChunks packs ascending ids into chunks of at most chunkFill entries
// that each share one high word.
func appendChunks(dst []chunk, ids []uint64, gen uint32) []chunk {
	for len(ids) > 0 {
		hi := ids[0] >> 32
		n := 1
		for n < len(ids) && n < chunkFill && ids[n]>>32 == hi {
			n++
		}
		lo := make([]uint32, n)
		for i := range n {
			lo[i] = uint32(ids[i])
		}
		dst = append(dst, chunk{first: ids[0], lo: lo, gen: gen})
		ids = ids[n:]
	}
	return slices.Clip(dst)
}

// insertTight inserts x at s[i], growing s to capFor(len(s)+1) when full
// rather than by append's doubling: most sets are small and never grow
// much, so doubling would leave a third of their memory unused on average.
// The extra copies are of at most one small slice per insert.
func insertTight[T uint32 | uint64](s []T, i int, x T, capFor func(n int) int) []T {
	if len(s) < cap(s) {
		return slices.Insert(s, i, x)
	}
	ns := make([]T, len(s)+1, capFor(len(s)+1))
	copy(ns, s[:i])
	ns[i] = x
	copy(ns[i+1:], s[i:])
	return ns
}

// smallCap is the capacity a small set of n ids grows to: n rounded up to
// the next Go size class (8, 16, 24, 32, then steps of 16 B to 256 B and of
// 32 B to 512 B), so the allocation is used whole.
func smallCap(n int) int {
	switch {
	case n <= 4:
		return n
	case n <= 32:
		return (n + 1) &^ 1
	}
	return (n + 3) &^ 3
}

// chunkCap is the capacity a chunk of n low words grows to: 1/8 slack (so
// a growing chunk reallocates every n/8 inserts), rounded to 8 words.
func chunkCap(n int) int { return (n + n/8 + 7) &^ 7 }

// find returns the index of the last chunk with first <= x, or -1.
func (b *bigSet) find(x uint64) int {
	lo, hi := 0, len(b.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.chunks[m].first <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

func (b *bigSet) containsChunked(x uint64) bool {
	i := b.find(x)
	if i < 0 || b.chunks[i].first>>32 != x>>32 {
		return false
	}
	_, ok := slices.BinarySearch(b.chunks[i].lo, uint32(x))
	return ok
}

// writable makes chunk i's data private to generation c.gen if needed.
func (b *bigSet) writable(i int, c cowCtx) *chunk {
	ch := &b.chunks[i]
	if c.mustCopy(ch.gen) {
		lo := make([]uint32, len(ch.lo), len(ch.lo)+len(ch.lo)/8+1)
		copy(lo, ch.lo)
		ch.lo, ch.gen = lo, c.gen
	}
	return ch
}

func (b *bigSet) insertChunked(x uint64, c cowCtx) {
	hi := x >> 32
	i := b.find(x)
	switch {
	case i >= 0 && b.chunks[i].first>>32 == hi:
	case i+1 < len(b.chunks) && b.chunks[i+1].first>>32 == hi:
		i++
	default:
		b.chunks = slices.Insert(b.chunks, i+1, chunk{first: x, lo: []uint32{uint32(x)}, gen: c.gen})
		return
	}
	ch := b.writable(i, c)
	j, _ := slices.BinarySearch(ch.lo, uint32(x))
	ch.lo = insertTight(ch.lo, j, uint32(x), chunkCap)
	if j == 0 {
		ch.first = x
	}
	if len(ch.lo) > chunkMax {
		h := len(ch.lo) / 2
		left := make([]uint32, h, h+h/8)
		right := make([]uint32, len(ch.lo)-h, len(ch.lo)-h+h/8)
		copy(left, ch.lo[:h])
		copy(right, ch.lo[h:])
		ch.lo, ch.gen = left, c.gen
		b.chunks = slices.Insert(b.chunks, i+1, chunk{first: hi<<32 | uint64(right[0]), lo: right, gen: c.gen})
	}
}

func (b *bigSet) removeChunked(x uint64, c cowCtx) {
	i := b.find(x)
	ch := b.writable(i, c)
	j, _ := slices.BinarySearch(ch.lo, uint32(x))
	ch.lo = slices.Delete(ch.lo, j, j+1)
	if len(ch.lo) == 0 {
		b.chunks = slices.Delete(b.chunks, i, i+1)
		return
	}
	hi := x >> 32
	if j == 0 {
		ch.first = hi<<32 | uint64(ch.lo[0])
	}
	if len(ch.lo) < chunkMergeBelow {
		switch {
		case i+1 < len(b.chunks) && b.chunks[i+1].first>>32 == hi && len(ch.lo)+len(b.chunks[i+1].lo) <= chunkMax/2:
			b.mergeNext(i, c)
		case i > 0 && b.chunks[i-1].first>>32 == hi && len(ch.lo)+len(b.chunks[i-1].lo) <= chunkMax/2:
			b.mergeNext(i-1, c)
		default:
			if cap(ch.lo) > 2*len(ch.lo)+16 {
				ch.lo = slices.Clip(slices.Clone(ch.lo))
				ch.gen = c.gen
			}
		}
	}
}

// mergeNext merges chunk i+1 into chunk i (same high word).
func (b *bigSet) mergeNext(i int, c cowCtx) {
	a, n := b.chunks[i].lo, b.chunks[i+1].lo
	lo := make([]uint32, 0, len(a)+len(n)+(len(a)+len(n))/8)
	lo = append(append(lo, a...), n...)
	b.chunks[i].lo, b.chunks[i].gen = lo, c.gen
	b.chunks = slices.Delete(b.chunks, i+1, i+2)
}

func (b *bigSet) appendIDs(dst []uint64) []uint64 {
	if b.rb != nil {
		it := b.rb.ManyIterator()
		for {
			dst = slices.Grow(dst, 4096)
			n := it.NextMany(dst[len(dst):cap(dst)])
			if n == 0 {
				return dst
			}
			dst = dst[:len(dst)+n]
		}
	}
	for i := range b.chunks {
		hi := b.chunks[i].first &^ 0xffffffff
		for _, lo := range b.chunks[i].lo {
			dst = append(dst, hi|uint64(lo))
		}
	}
	return dst
}

// changed counts a change and, every max(checkMinChanges, n/checkDivisor)
// changes, switches between chunked and roaring if the other is estimated
// smaller by the hysteresis factor. Conversions allocate fresh data (gen).
func (b *bigSet) changed(gen uint32) {
	b.changes++
	if b.changes < max(checkMinChanges, b.n/checkDivisor) {
		return
	}
	b.changes = 0
	if b.rb == nil {
		if b.estimateRoaringFromChunks()*hysteresisDen < b.chunkedBytes()*hysteresisNum {
			b.toRoaring()
		}
		return
	}
	if b.estimateChunked()*hysteresisDen < b.roaringBytes()*hysteresisNum {
		ids := b.appendIDs(make([]uint64, 0, b.n))
		b.rb = nil
		b.chunks = appendChunks(nil, ids, gen)
	}
}

func (b *bigSet) toRoaring() {
	rb := roaring64.New()
	buf := make([]uint64, 0, chunkMax)
	for i := range b.chunks {
		hi := b.chunks[i].first &^ 0xffffffff
		buf = buf[:0]
		for _, lo := range b.chunks[i].lo {
			buf = append(buf, hi|uint64(lo))
		}
		rb.AddMany(buf)
	}
	rb.RunOptimize()
	b.rb, b.chunks = rb, nil
}

// chunkedBytes is the heap held by the chunks (headers and data).
func (b *bigSet) chunkedBytes() uint64 {
	s := uint64(cap(b.chunks)) * chunkHeaderBytes
	for i := range b.chunks {
		s += uint64(cap(b.chunks[i].lo)) * 4
	}
	return s
}

// estimateChunked estimates chunkedBytes for n ids (~1.125 slack, chunks
// ~3/4 full) without looking at the ids.
func (b *bigSet) estimateChunked() uint64 {
	return b.n*4*9/8 + (b.n/chunkFill+1)*chunkHeaderBytes
}

// estimateRoaringFromChunks estimates the heap of a roaring64 bitmap holding
// the chunked ids by counting 16-bit containers and their cardinalities.
func (b *bigSet) estimateRoaringFromChunks() uint64 {
	var s uint64
	lastHi, lastKey := uint64(1)<<63, uint64(1)<<63
	var card uint64
	flush := func() {
		if card == 0 {
			return
		}
		s += roaringContainerOverhead + containerBytes(card)
		card = 0
	}
	for i := range b.chunks {
		hi := b.chunks[i].first >> 32
		if hi != lastHi {
			s += roaringHighKeyOverhead
			lastHi = hi
		}
		for _, lo := range b.chunks[i].lo {
			k := hi<<16 | uint64(lo>>16)
			if k != lastKey {
				flush()
				lastKey = k
			}
			card++
		}
	}
	flush()
	return s
}

func containerBytes(card uint64) uint64 {
	if card > 4096 {
		return 8192
	}
	return card * roaringArrayValueBytes / 2
}

// roaringBytes estimates the heap of b.rb.
func (b *bigSet) roaringBytes() uint64 {
	st := b.rb.Stats()
	return st.Containers*roaringContainerOverhead + st.ArrayContainerBytes*5/4 +
		st.BitmapContainerBytes + st.RunContainerBytes*5/4 + roaringHighKeyOverhead
}
