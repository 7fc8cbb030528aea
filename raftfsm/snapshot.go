package raftfsm

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
)

// Snapshot stream format (all integers little-endian unless uvarint):
//
//	stream  = header block* trailer EOF
//	header  = "LKSF" version:u8(=1) 0:u8 0:u8 0:u8 appliedIndex:u64 crc:u32
//	block   = type:u8 len:u32 payload[len] crc:u32   (len <= maxBlockLen)
//	trailer = block of type 3
//
//	type 1 (games):   record*, record = game:uvarint n:uvarint(>=1) id0:uvarint delta:uvarint*(n-1)
//	                  ids strictly ascending (delta >= 1). A game with many ids spans
//	                  consecutive records with the same game id (ids keep ascending).
//	type 2 (clients): client*, client = id last maxSeq k:uvarint entry*k,
//	                  entry = back:uvarint(maxSeq-seq) index:uvarint count:uvarint changed:u8.
//	                  Clients are in LRU order (least recent first).
//	type 3 (trailer): games:u64 likes:u64 appliedIndex:u64 clients:u64 blocks:u64
//	                  (blocks = number of type 1 and 2 blocks before it).
//
// crc is CRC-32C (Castagnoli) of everything in the header or block before it.
// Games blocks come before client blocks. Restore rejects, with
// ErrCorruptSnapshot, any checksum mismatch, a stream that ends before the
// trailer or continues after it, and totals that do not match.
const (
	snapMagic       = "LKSF"
	SnapshotVersion = 1
	snapHeaderLen   = 20
	maxBlockLen     = 1 << 20
	blockTarget     = 64 << 10
	recordMaxIDs    = 4096

	blockGames   = 1
	blockClients = 2
	blockTrailer = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fsmSnapshot is the state captured by Snapshot: the stripes, whose games
// with gen != snapGen plus the stripes' pre-images make up the state at
// capture time, and the dedup clients. See FSM for the concurrency rules.
type fsmSnapshot struct {
	f       *FSM
	st      *stripes
	gen     uint32
	index   uint64
	window  uint64
	clients []clientImage

	mu       sync.Mutex
	released bool
}

// Snapshot captures the state in O(stripes + dedup clients) time, without
// copying sets: from now until Release, Apply copies a game (and chunk, and
// dedup ring) before its first change and keeps the old one as a pre-image
// for Persist. At most one snapshot may be unreleased; a second call returns
// ErrSnapshotInProgress.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.snapMu.Lock()
	defer f.snapMu.Unlock()
	if f.snap != nil {
		return nil, ErrSnapshotInProgress
	}
	f.gen++
	st := f.st.Load()
	for i := range st {
		st[i].mu.Lock()
		st[i].pre = make(map[uint64]game)
		st[i].mu.Unlock()
	}
	f.snapActive.Store(true)
	s := &fsmSnapshot{f: f, st: st, gen: f.gen, index: f.applied.Load(),
		window: f.dedup.window, clients: f.dedup.capture()}
	f.snap = s
	return s, nil
}

// Release ends the snapshot: pre-images are dropped and Apply mutates in
// place again. It is idempotent.
func (s *fsmSnapshot) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	f := s.f
	f.snapMu.Lock()
	defer f.snapMu.Unlock()
	for i := range s.st {
		s.st[i].mu.Lock()
		s.st[i].pre = nil
		s.st[i].mu.Unlock()
	}
	if f.snap == s {
		f.snap = nil
		f.snapActive.Store(false)
	}
}

// Persist writes the snapshot to sink and closes it, or cancels it on error.
// It runs concurrently with Apply. Persist after Release fails.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.writeTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

type snapEntry struct {
	id uint64
	g  game
}

// writeTo writes the snapshot stream to w (Persist without the sink).
// Callers must hold s unreleased until it returns, as raft does.
func (s *fsmSnapshot) writeTo(w io.Writer) error {
	s.mu.Lock()
	released := s.released
	s.mu.Unlock()
	if released {
		return errors.New("raftfsm: Persist after Release")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sw := &snapWriter{w: bw}
	var hdr [snapHeaderLen]byte
	copy(hdr[:], snapMagic)
	hdr[4] = SnapshotVersion
	binary.LittleEndian.PutUint64(hdr[8:], s.index)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.Checksum(hdr[:16], castagnoli))
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	var games, likes uint64
	var entries []snapEntry
	buf := make([]uint64, 0, chunkMax)
	for i := range s.st {
		entries = s.stripeEntries(&s.st[i], entries[:0])
		for _, e := range entries {
			games++
			likes += e.g.count()
			err := e.g.forEachRun(buf, func(ids []uint64) error {
				for len(ids) > 0 {
					n := min(len(ids), recordMaxIDs)
					sw.game(e.id, ids[:n])
					ids = ids[n:]
					if err := sw.maybeFlush(blockGames); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	if err := sw.flush(blockGames); err != nil {
		return err
	}
	for _, c := range s.clients {
		sw.client(c, s.window)
		if err := sw.maybeFlush(blockClients); err != nil {
			return err
		}
	}
	if err := sw.flush(blockClients); err != nil {
		return err
	}
	blocks := sw.blocks
	for _, v := range [...]uint64{games, likes, s.index, uint64(len(s.clients)), blocks} {
		sw.payload = binary.LittleEndian.AppendUint64(sw.payload, v)
	}
	if err := sw.flush(blockTrailer); err != nil {
		return err
	}
	return bw.Flush()
}

// stripeEntries appends the games of st as of the snapshot, sorted by id:
// current games older than the snapshot, plus pre-images.
func (s *fsmSnapshot) stripeEntries(st *stripe, dst []snapEntry) []snapEntry {
	st.mu.RLock()
	for id, g := range st.m {
		if g.gen != s.gen {
			dst = append(dst, snapEntry{id, g})
		}
	}
	for id, g := range st.pre {
		dst = append(dst, snapEntry{id, g})
	}
	st.mu.RUnlock()
	slices.SortFunc(dst, func(a, b snapEntry) int { return cmp.Compare(a.id, b.id) })
	return dst
}

// snapWriter frames blocks.
type snapWriter struct {
	w       *bufio.Writer
	payload []byte
	blocks  uint64
}

func (sw *snapWriter) game(id uint64, ids []uint64) {
	p := binary.AppendUvarint(sw.payload, id)
	p = binary.AppendUvarint(p, uint64(len(ids)))
	p = binary.AppendUvarint(p, ids[0])
	for i := 1; i < len(ids); i++ {
		p = binary.AppendUvarint(p, ids[i]-ids[i-1])
	}
	sw.payload = p
}

func (sw *snapWriter) client(c clientImage, window uint64) {
	var live []dedupEntry
	for _, e := range c.ring {
		if e.seq != 0 && c.maxSeq-e.seq < window {
			live = append(live, e)
		}
	}
	slices.SortFunc(live, func(a, b dedupEntry) int { return cmp.Compare(a.seq, b.seq) })
	p := binary.AppendUvarint(sw.payload, c.id)
	p = binary.AppendUvarint(p, c.last)
	p = binary.AppendUvarint(p, c.maxSeq)
	p = binary.AppendUvarint(p, uint64(len(live)))
	for _, e := range live {
		p = binary.AppendUvarint(p, c.maxSeq-e.seq)
		p = binary.AppendUvarint(p, e.index)
		p = binary.AppendUvarint(p, e.count)
		var b byte
		if e.changed {
			b = 1
		}
		p = append(p, b)
	}
	sw.payload = p
}

func (sw *snapWriter) maybeFlush(typ byte) error {
	if len(sw.payload) < blockTarget {
		return nil
	}
	return sw.flush(typ)
}

// flush writes the pending payload as one block (trailer even if empty).
func (sw *snapWriter) flush(typ byte) error {
	if len(sw.payload) == 0 && typ != blockTrailer {
		return nil
	}
	var h [5]byte
	h[0] = typ
	binary.LittleEndian.PutUint32(h[1:], uint32(len(sw.payload)))
	crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, sw.payload)
	var t [4]byte
	binary.LittleEndian.PutUint32(t[:], crc)
	for _, b := range [][]byte{h[:], sw.payload, t[:]} {
		if _, err := sw.w.Write(b); err != nil {
			return err
		}
	}
	if typ != blockTrailer {
		sw.blocks++
	}
	sw.payload = sw.payload[:0]
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// Restore replaces the FSM's state with the snapshot read from rc, and
// closes rc. The new state is built aside and swapped in only if the whole
// stream verifies; on error the FSM keeps its previous state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := &snapReader{r: bufio.NewReaderSize(rc, 1<<20), gen: f.gen,
		st: newStripes(), dedup: newDedupTable(f.opts)}
	if err := r.read(); err != nil {
		return err
	}
	f.dedup = r.dedup
	f.dedupClients.Store(int64(len(r.dedup.clients)))
	f.st.Store(r.st)
	f.applied.Store(r.index)
	return nil
}

type snapReader struct {
	r     *bufio.Reader
	gen   uint32
	st    *stripes
	dedup *dedupTable
	index uint64

	games, likes, clients, blocks uint64
	cur                           uint64
	ids                           []uint64
	lastClientIndex               uint64
	seenClients                   map[uint64]bool
}

func (r *snapReader) readFull(b []byte) error {
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return corrupt("stream ends early")
		}
		return fmt.Errorf("raftfsm: reading snapshot: %w", err)
	}
	return nil
}

func (r *snapReader) read() error {
	var hdr [snapHeaderLen]byte
	if err := r.readFull(hdr[:]); err != nil {
		return err
	}
	if string(hdr[:4]) != snapMagic {
		return corrupt("bad magic")
	}
	if crc32.Checksum(hdr[:16], castagnoli) != binary.LittleEndian.Uint32(hdr[16:]) {
		return corrupt("header checksum")
	}
	if hdr[4] != SnapshotVersion {
		return fmt.Errorf("%w: snapshot version %d", ErrUnknownVersion, hdr[4])
	}
	r.index = binary.LittleEndian.Uint64(hdr[8:])
	payload := make([]byte, 0, blockTarget*2)
	phase := byte(blockGames)
	for {
		var h [5]byte
		if err := r.readFull(h[:]); err != nil {
			return err
		}
		typ, n := h[0], binary.LittleEndian.Uint32(h[1:])
		if n > maxBlockLen {
			return corrupt("block length %d", n)
		}
		payload = slices.Grow(payload[:0], int(n)+4)[:n+4]
		if err := r.readFull(payload); err != nil {
			return err
		}
		crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, payload[:n])
		if crc != binary.LittleEndian.Uint32(payload[n:]) {
			return corrupt("block %d checksum", r.blocks)
		}
		p := payload[:n]
		if typ < phase || typ > blockTrailer {
			return corrupt("block type %d after %d", typ, phase)
		}
		phase = typ
		switch typ {
		case blockGames:
			if err := r.gamesBlock(p); err != nil {
				return err
			}
		case blockClients:
			if err := r.finishGame(); err != nil {
				return err
			}
			if err := r.clientsBlock(p); err != nil {
				return err
			}
		case blockTrailer:
			if err := r.finishGame(); err != nil {
				return err
			}
			return r.trailer(p)
		}
		r.blocks++
	}
}

func (r *snapReader) trailer(p []byte) error {
	if len(p) != 40 {
		return corrupt("trailer length %d", len(p))
	}
	want := [...]uint64{r.games, r.likes, r.index, r.clients, r.blocks}
	for i, name := range [...]string{"games", "likes", "applied index", "clients", "blocks"} {
		if got := binary.LittleEndian.Uint64(p[8*i:]); got != want[i] {
			return corrupt("trailer %s %d, stream has %d", name, got, want[i])
		}
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return corrupt("data after trailer")
	}
	return nil
}

func uvarint(p []byte) (uint64, []byte, error) {
	v, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, nil, corrupt("bad uvarint")
	}
	return v, p[k:], nil
}

func (r *snapReader) gamesBlock(p []byte) error {
	for len(p) > 0 {
		id, p1, err := uvarint(p)
		if err != nil {
			return err
		}
		n, p1, err := uvarint(p1)
		if err != nil {
			return err
		}
		if n == 0 || n > uint64(len(p1)) {
			return corrupt("game %d record of %d ids", id, n)
		}
		if len(r.ids) > 0 && id != r.cur {
			if err := r.finishGame(); err != nil {
				return err
			}
		}
		r.cur = id
		for i := uint64(0); i < n; i++ {
			v, rest, err := uvarint(p1)
			if err != nil {
				return err
			}
			p1 = rest
			if i > 0 || len(r.ids) > 0 {
				if i == 0 {
					if v <= r.ids[len(r.ids)-1] {
						return corrupt("game %d ids not ascending", id)
					}
				} else {
					last := r.ids[len(r.ids)-1]
					if v == 0 || last+v < last {
						return corrupt("game %d bad delta", id)
					}
					v += last
				}
			}
			r.ids = append(r.ids, v)
		}
		p = p1
	}
	return nil
}

// finishGame installs the game being read, if any.
func (r *snapReader) finishGame() error {
	if len(r.ids) == 0 {
		return nil
	}
	s := &r.st[stripeIndex(r.cur)]
	if _, dup := s.m[r.cur]; dup {
		return corrupt("game %d appears twice", r.cur)
	}
	s.m[r.cur] = buildGame(r.ids, r.gen)
	r.games++
	r.likes += uint64(len(r.ids))
	r.ids = r.ids[:0]
	if cap(r.ids) > 1<<20 {
		r.ids = nil
	}
	return nil
}

func (r *snapReader) clientsBlock(p []byte) error {
	if r.seenClients == nil {
		r.seenClients = make(map[uint64]bool)
	}
	t := r.dedup
	for len(p) > 0 {
		var v [4]uint64
		for i := range v {
			x, rest, err := uvarint(p)
			if err != nil {
				return err
			}
			v[i], p = x, rest
		}
		id, last, maxSeq, k := v[0], v[1], v[2], v[3]
		if r.seenClients[id] || last < r.lastClientIndex || k > uint64(len(p)) {
			return corrupt("client %d", id)
		}
		r.seenClients[id] = true
		r.lastClientIndex = last
		r.clients++
		c := t.touch(id, last, r.gen)
		c.maxSeq = maxSeq
		for j := uint64(0); j < k; j++ {
			var e [3]uint64
			for i := range e {
				x, rest, err := uvarint(p)
				if err != nil {
					return err
				}
				e[i], p = x, rest
			}
			if len(p) == 0 || p[0] > 1 || e[0] >= maxSeq {
				return corrupt("client %d entry", id)
			}
			changed := p[0] == 1
			p = p[1:]
			if e[0] < t.window {
				t.record(c, dedupEntry{seq: maxSeq - e[0], index: e[1], count: e[2], changed: changed}, cowCtx{gen: r.gen})
			}
		}
	}
	return nil
}
