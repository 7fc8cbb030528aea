package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/likes/likes/proto"
	"github.com/likes/likes/raftfsm"
)

// Connection buffer sizes. A connection's read buffer starts at
// readBufMin, doubles (up to readBufMax) when a read fills it, and halves
// again after readShrinkAfter reads in a row that filled less than half of
// it (the scheme of nats-server's read loop): a busy pipelined connection
// reads many frames per system call, an idle one holds 4 KiB, not 64. A
// frame larger than the buffer grows it to that frame's size, up to
// proto.MaxFrameSize, once. The writer keeps its spare buffer between
// writes only up to writeSpareMax. At MaxConns 4096 this bounds idle
// connections to ~16 MiB of buffers instead of ~1.3 GiB.
const (
	readBufMin      = 4 << 10
	readBufMax      = 64 << 10
	readShrinkAfter = 16
	writeSpareMax   = 64 << 10
)

// maxHelloFrame is the largest frame accepted before HELLO: a HELLO frame is
// 24 bytes; anything larger first is refused with TOO_LARGE.
const maxHelloFrame = 64

// conn serves one client connection with two goroutines and no goroutine per
// request:
//
//   - the reader (serve/readLoop) decodes frames, answers reads inline from
//     the state machine into its private buffer `local`, and submits writes
//     to their shard with a callback;
//   - the writer (writeLoop) swaps out the shared buffer `out` and writes it
//     to the socket in one call, so responses are batched per system call.
//
// Write callbacks run on shard completer goroutines and append to `out`
// under mu. inflight counts requests read but whose responses are not yet
// written; the reader blocks when it exceeds MaxInFlight (back-pressure).
// Fields under "reader-owned" are touched only by the reader goroutine.
type conn struct {
	n  *Node
	nc net.Conn

	// reader-owned
	msg      proto.Msg
	local    []byte // responses to reads, moved to out once per socket read
	localN   int    // frames in local
	hello    bool
	clientID uint64
	liked    []bool
	counts   []uint64

	inflight atomic.Int64
	draining atomic.Bool
	wake     chan struct{} // capacity 1: "out has data or closing is set"
	done     chan struct{} // closed when the writer exits

	mu      sync.Mutex
	cond    sync.Cond // signalled by the writer when it released slots
	out     []byte
	outN    int
	spare   []byte
	waiting bool
	closing bool
}

func newConn(n *Node, nc net.Conn) *conn {
	c := &conn{n: n, nc: nc, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.cond.L = &c.mu
	return c
}

// serve runs the connection until the client leaves, a framing error, or
// drain; then waits for in-flight writes to be answered and closes.
func (c *conn) serve() {
	defer c.n.removeConn(c)
	// A connection that does not complete HELLO in time is dropped, so
	// silent connections cannot hold MaxConns slots.
	c.nc.SetReadDeadline(time.Now().Add(c.n.cfg.HandshakeTimeout))
	go c.writeLoop()
	c.readLoop()
	c.flushLocal()
	c.mu.Lock()
	for c.inflight.Load() > 0 {
		c.waiting = true
		c.cond.Wait()
	}
	c.closing = true
	c.mu.Unlock()
	c.signal()
	<-c.done
	c.nc.Close()
}

// drain asks the reader to stop reading: requests already read are answered.
// Called by Node.Shutdown with Node.mu held.
func (c *conn) drain() {
	c.draining.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) readLoop() {
	buf := make([]byte, 0, readBufMin)
	short := 0 // reads in a row that filled less than half the buffer
	for {
		off := 0
		for {
			// Only HELLO may come first: do not buffer up to a megabyte
			// for a connection that has not said who it is.
			limit := proto.MaxFrameSize
			if !c.hello {
				limit = maxHelloFrame
			}
			rest, err := proto.DecodeIntoMax(buf[off:], &c.msg, limit)
			if errors.Is(err, proto.ErrIncomplete) {
				break
			}
			if err != nil {
				c.badFrame(err)
				return
			}
			off = len(buf) - len(rest)
			if !c.handle(&c.msg) {
				return
			}
		}
		c.flushLocal()
		buf = buf[:copy(buf, buf[off:])]
		if n, ok := proto.FrameLen(buf); ok && n > cap(buf) {
			buf = resize(buf, n)
		}
		if c.draining.Load() {
			return
		}
		free := cap(buf) - len(buf)
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return
		}
		var to int
		if to, short = readBufPolicy(cap(buf), len(buf), n, free, short); to != cap(buf) {
			// Not below a frame in progress.
			if fl, ok := proto.FrameLen(buf); !ok || fl <= to {
				buf = resize(buf, to)
			}
		}
	}
}

// readBufPolicy decides a read buffer's next capacity after a read of n
// bytes into free bytes of room, the buffer then holding held bytes of
// capacity c; short counts the reads in a row that filled less than half of
// it. Grow: a read that filled the room doubles c, up to readBufMax. Shrink:
// readShrinkAfter short reads in a row, with at most a quarter held, halve
// c, down to readBufMin. Pure, for the tests.
func readBufPolicy(c, held, n, free, short int) (to, nextShort int) {
	switch {
	case n == free && c < readBufMax:
		return min(2*c, readBufMax), 0
	case n < c/2 && c > readBufMin:
		if short++; short >= readShrinkAfter {
			if held <= c/4 {
				return max(c/2, readBufMin), 0
			}
			return c, 0
		}
		return c, short
	}
	return c, 0
}

// resize returns buf's bytes in a new buffer of capacity n (n ≥ len(buf)).
func resize(buf []byte, n int) []byte {
	b := make([]byte, len(buf), n)
	copy(b, buf)
	return b
}

// badFrame answers a frame that could not be decoded and ends the
// connection: after a framing error the stream cannot be trusted.
func (c *conn) badFrame(err error) {
	c.n.m.badFrames.Inc()
	// DecodeInto leaves the header it could read in c.msg: the request id
	// when the 10 header bytes are there and the length covers them, else
	// 0 (PROTOCOL.md 9.2).
	id := c.msg.ID
	c.inflight.Add(1)
	c.replyErr(id, err)
	c.n.cfg.Logger.Debug("closing connection after a bad frame", "remote", c.nc.RemoteAddr().String(), "err", err)
}

// acquire takes an in-flight slot for one request, waiting while the
// connection is at MaxInFlight.
func (c *conn) acquire() {
	if c.inflight.Add(1) <= int64(c.n.cfg.MaxInFlight) {
		return
	}
	c.flushLocal()
	c.mu.Lock()
	for c.inflight.Load() > int64(c.n.cfg.MaxInFlight) {
		c.waiting = true
		c.cond.Wait()
	}
	c.mu.Unlock()
}

// flushLocal hands the reader's buffered responses to the writer.
func (c *conn) flushLocal() {
	if c.localN == 0 {
		return
	}
	c.mu.Lock()
	c.out = append(c.out, c.local...)
	c.outN += c.localN
	c.mu.Unlock()
	c.local, c.localN = c.local[:0], 0
	c.signal()
}

// replyErr queues an error response to request id (reader goroutine).
func (c *conn) replyErr(id uint32, err error) {
	c.local = appendError(c.local, id, err)
	c.localN++
}

// appendError appends the ERROR frame for err: its wire code, and its text
// without the code's own name in front (a client prints both; the name
// would come twice).
func appendError(dst []byte, id uint32, err error) []byte {
	code := proto.CodeOf(err)
	msg := strings.TrimPrefix(err.Error(), code.Err().Error()+": ")
	return proto.AppendError(dst, id, code, "", msg)
}

func (c *conn) writeLoop() {
	defer close(c.done)
	var werr error
	for range c.wake {
		c.mu.Lock()
		buf, n, closing := c.out, c.outN, c.closing
		c.out, c.outN = c.spare[:0], 0
		c.mu.Unlock()
		if len(buf) > 0 && werr == nil {
			if _, werr = c.nc.Write(buf); werr != nil {
				// Keep consuming (and discarding) responses so in-flight
				// writes can still complete and release their slots.
				c.nc.Close()
			}
		}
		c.mu.Lock()
		if cap(buf) <= writeSpareMax {
			c.spare = buf[:0]
		} else {
			c.spare = nil // don't keep a burst's buffer forever
		}
		c.inflight.Add(int64(-n))
		if c.waiting {
			c.waiting = false
			c.cond.Broadcast()
		}
		c.mu.Unlock()
		if closing {
			return
		}
	}
}

// handle serves one decoded request. It returns false when the connection
// must close.
func (c *conn) handle(m *proto.Msg) bool {
	om := c.n.m.ops[m.Type]
	if om == nil || m.Type.IsResponse() {
		c.inflight.Add(1)
		c.replyErr(m.ID, fmt.Errorf("%w: %v is not a request", proto.ErrBadRequest, m.Type))
		return false
	}
	om.requests.Inc()
	if !c.hello {
		c.inflight.Add(1)
		if m.Type != proto.TypeHello {
			om.errors.Inc()
			c.replyErr(m.ID, ErrNotHello)
			return false
		}
		return c.handshake(m)
	}
	c.acquire()
	start := time.Now()
	id := m.ID
	switch m.Type {
	case proto.TypeHello:
		c.readErr(om, id, fmt.Errorf("%w: HELLO already received on this connection", proto.ErrBadRequest))
		return true
	case proto.TypePing:
		c.local = proto.AppendEmpty(c.local, proto.TypePing|proto.ResponseBit, id)
	case proto.TypeHas:
		s, err := c.readShard(m, m.Game)
		if err != nil {
			c.readErr(om, id, err)
			return true
		}
		c.local = proto.AppendHasResp(c.local, id, s.fsm.Has(m.Game, m.User))
	case proto.TypeCount:
		s, err := c.readShard(m, m.Game)
		if err != nil {
			c.readErr(om, id, err)
			return true
		}
		c.local = proto.AppendCountResp(c.local, id, s.fsm.Count(m.Game))
	case proto.TypeHasMany:
		if err := c.checkBatch(m); err != nil {
			c.readErr(om, id, err)
			return true
		}
		c.liked = c.liked[:0]
		for _, g := range m.Games {
			s, err := c.readShard(m, g)
			if err != nil {
				c.readErr(om, id, err)
				return true
			}
			c.liked = append(c.liked, s.fsm.Has(g, m.User))
		}
		c.local = proto.AppendHasManyResp(c.local, id, c.liked)
	case proto.TypeCountMany:
		if err := c.checkBatch(m); err != nil {
			c.readErr(om, id, err)
			return true
		}
		c.counts = c.counts[:0]
		for _, g := range m.Games {
			s, err := c.readShard(m, g)
			if err != nil {
				c.readErr(om, id, err)
				return true
			}
			c.counts = append(c.counts, s.fsm.Count(g))
		}
		c.local = proto.AppendCountManyResp(c.local, id, c.counts)
	case proto.TypeStats:
		js, err := json.Marshal(c.n.Stats())
		if err != nil {
			c.readErr(om, id, fmt.Errorf("%w: %v", proto.ErrInternal, err))
			return true
		}
		c.local = proto.AppendStatsResp(c.local, id, js)
	case proto.TypeLike, proto.TypeUnlike:
		c.write(m, om, start)
		return true
	}
	c.localN++
	om.latency.Observe(time.Since(start).Seconds())
	return true
}

func (c *conn) readErr(om *opMetrics, id uint32, err error) {
	om.errors.Inc()
	c.replyErr(id, err)
}

// readShard returns the shard that serves a read of game, checking the
// request's consistency level and the shard's readiness.
func (c *conn) readShard(m *proto.Msg, game uint64) (*shard, error) {
	if m.Consistency() != proto.ConsistencyDefault {
		return nil, ErrConsistency
	}
	s := c.n.shardOf(game)
	if !s.ready.Load() {
		return nil, ErrShardNotReady
	}
	return s, nil
}

func (c *conn) checkBatch(m *proto.Msg) error {
	if len(m.Games) > c.n.cfg.MaxBatch {
		return fmt.Errorf("%w: %d games in one request, this server takes at most %d", proto.ErrTooLarge, len(m.Games), c.n.cfg.MaxBatch)
	}
	return nil
}

// handshake answers the connection's HELLO.
func (c *conn) handshake(m *proto.Msg) bool {
	if m.Version < proto.MinVersion {
		c.replyErr(m.ID, fmt.Errorf("%w: client speaks version %d, server needs %d..%d", proto.ErrVersion, m.Version, proto.MinVersion, proto.Version))
		return false
	}
	c.hello, c.clientID = true, m.ClientID
	c.nc.SetReadDeadline(time.Time{})
	if c.draining.Load() { // drain set its deadline before ours was cleared
		c.nc.SetReadDeadline(time.Now())
	}
	c.local = proto.AppendHelloResp(c.local, m.ID, min(m.Version, proto.Version),
		proto.MaxFrameSize, uint32(c.n.cfg.MaxInFlight), uint32(c.n.cfg.MaxBatch))
	c.localN++
	return true
}

// write submits a LIKE or UNLIKE to its shard; the response is queued by the
// callback when the write is committed and applied.
func (c *conn) write(m *proto.Msg, om *opMetrics, start time.Time) {
	kind := raftfsm.OpLike
	if m.Type == proto.TypeUnlike {
		kind = raftfsm.OpUnlike
	}
	t, id := m.Type, m.ID
	op := raftfsm.Op{Kind: kind, Game: m.Game, User: m.User, ClientID: c.clientID, Seq: m.Seq}
	s := c.n.shardOf(m.Game)
	s.submit(pendingWrite{op: op, done: func(r raftfsm.Result, err error) {
		c.mu.Lock()
		if err != nil {
			c.out = appendError(c.out, id, err)
		} else {
			c.out = proto.AppendWriteResp(c.out, t, id, r.Changed, r.Count, r.Index)
		}
		c.outN++
		c.mu.Unlock()
		c.signal()
		if err != nil {
			om.errors.Inc()
		}
		om.latency.Observe(time.Since(start).Seconds())
	}})
}
