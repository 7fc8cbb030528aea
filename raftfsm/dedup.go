package raftfsm

// dedupEntry is the first result of one (client, seq). seq 0 marks an empty
// ring slot (seq 0 is never recorded: it means "no dedup").
type dedupEntry struct {
	seq     uint64
	index   uint64
	count   uint64
	changed bool
}

// client is one client's dedup state: results of its seqs in
// (maxSeq-window, maxSeq], in a ring indexed by seq mod len(ring). The ring
// starts small and doubles (up to window) when two live seqs collide.
type client struct {
	id      uint64
	last    uint64 // log index of this client's latest op (LRU key)
	maxSeq  uint64
	ring    []dedupEntry
	ringGen uint32 // generation of ring (copy-on-write, see cowCtx)
	prev    *client
	next    *client
}

// dedupTable maps client ids to their windows, with an LRU list ordered by
// the log position of each client's latest op (head = least recent). It is
// touched only by the FSM goroutine (Apply, Snapshot, Restore).
type dedupTable struct {
	window  uint64
	max     int
	clients map[uint64]*client
	head    *client
	tail    *client
}

func newDedupTable(o Options) *dedupTable {
	return &dedupTable{window: uint64(o.DedupWindow), max: o.MaxDedupClients, clients: make(map[uint64]*client)}
}

// dedupStatus is the verdict on one (client, seq).
type dedupStatus uint8

const (
	dedupNew     dedupStatus = iota // not seen within the window: apply it
	dedupDup                        // seen: answer with the stored result
	dedupExpired                    // below the window: refuse (ErrSeqExpired)
)

// check classifies seq (non-zero) for client c (may be nil: unknown client).
func (t *dedupTable) check(c *client, seq uint64) (dedupStatus, dedupEntry) {
	if c == nil || seq > c.maxSeq {
		return dedupNew, dedupEntry{}
	}
	if c.maxSeq-seq >= t.window {
		return dedupExpired, dedupEntry{}
	}
	if len(c.ring) > 0 {
		if e := c.ring[seq&uint64(len(c.ring)-1)]; e.seq == seq {
			return dedupDup, e
		}
	}
	return dedupNew, dedupEntry{}
}

// touch returns client id's state, creating it (evicting the least recently
// used client at the limit) and moving it to the tail of the LRU list.
func (t *dedupTable) touch(id, index uint64, gen uint32) *client {
	c := t.clients[id]
	if c == nil {
		if len(t.clients) >= t.max {
			t.unlink(t.head)
		}
		c = &client{id: id, ringGen: gen}
		t.clients[id] = c
	} else {
		if c == t.tail {
			c.last = index
			return c
		}
		t.detach(c)
	}
	c.last = index
	c.prev = t.tail
	if t.tail != nil {
		t.tail.next = c
	} else {
		t.head = c
	}
	t.tail = c
	return c
}

// unlink removes c from the table.
func (t *dedupTable) unlink(c *client) {
	t.detach(c)
	delete(t.clients, c.id)
}

func (t *dedupTable) detach(c *client) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		t.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// record stores e (e.seq != 0, not yet in c's window) as c's result for
// e.seq, copying the ring first if it is shared with a snapshot.
func (t *dedupTable) record(c *client, e dedupEntry, cow cowCtx) {
	if cow.mustCopy(c.ringGen) {
		r := make([]dedupEntry, len(c.ring))
		copy(r, c.ring)
		c.ring, c.ringGen = r, cow.gen
	}
	if e.seq > c.maxSeq {
		c.maxSeq = e.seq
	}
	for {
		if len(c.ring) == 0 {
			c.ring = make([]dedupEntry, min(4, t.window))
			c.ringGen = cow.gen
		}
		slot := &c.ring[e.seq&uint64(len(c.ring)-1)]
		if slot.seq == 0 || slot.seq == e.seq || !t.live(c, slot.seq) || uint64(len(c.ring)) >= t.window {
			*slot = e
			return
		}
		t.grow(c, cow.gen)
	}
}

// live reports whether seq is inside c's window.
func (t *dedupTable) live(c *client, seq uint64) bool {
	return seq != 0 && c.maxSeq-seq < t.window
}

// grow doubles c's ring, keeping the live entries.
func (t *dedupTable) grow(c *client, gen uint32) {
	r := make([]dedupEntry, 2*len(c.ring))
	for _, e := range c.ring {
		if t.live(c, e.seq) {
			r[e.seq&uint64(len(r)-1)] = e
		}
	}
	c.ring, c.ringGen = r, gen
}

// clientImage is a client's state as captured by Snapshot. ring is not
// written in place afterwards (copy-on-write by ringGen).
type clientImage struct {
	id, last, maxSeq uint64
	ring             []dedupEntry
}

// capture returns every client in LRU order (head first).
func (t *dedupTable) capture() []clientImage {
	out := make([]clientImage, 0, len(t.clients))
	for c := t.head; c != nil; c = c.next {
		out = append(out, clientImage{id: c.id, last: c.last, maxSeq: c.maxSeq, ring: c.ring})
	}
	return out
}
