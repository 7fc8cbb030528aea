package client

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/likes/likes/proto"
)

// fake is a protocol-level stand-in for the likes server, for testing the
// client's I/O behaviour: in-memory map semantics, de-duplication of writes
// by (client id, seq), and knobs and a hook to misbehave. It answers the
// frames of each socket read together, after the whole read is processed,
// so a batch of pipelined requests gets one batch of responses.
type fake struct {
	t    testing.TB
	addr string

	// Configuration, set before the first connection.
	helloCode   proto.Code // answer HELLO with this error when non-zero
	maxInFlight uint32
	maxBatch    uint32
	reorder     bool          // answer each read's requests in reverse order
	delay       time.Duration // pause before answering each read
	dribble     bool          // write responses one byte at a time

	hookMu sync.Mutex
	hook   func(m *proto.Msg) fakeReply // nil: serve everything

	mu        sync.Mutex
	ln        net.Listener
	conns     map[net.Conn]bool
	liked     map[[2]uint64]bool
	counts    map[uint64]uint64
	index     uint64
	dedup     map[[2]uint64]fakeResult // (client id, seq)
	applied   int                      // writes applied (not answered from dedup)
	writeSeqs []uint64                 // seq of every write frame received
	clientIDs []uint64                 // client id of every HELLO
	pageSizes []int                    // games in every HAS_MANY / COUNT_MANY
	maxFrames int                      // most request frames decoded in one read

	wg       sync.WaitGroup
	accepted atomic.Int64
	reads    atomic.Int64 // socket reads that returned data
	frames   atomic.Int64 // request frames decoded, HELLO excluded
}

type fakeResult struct {
	changed      bool
	count, index uint64
}

// fakeAction tells the fake what to do with one request.
type fakeAction int

const (
	actServe      fakeAction = iota
	actDropBefore            // close the connection without applying the request
	actDropAfter             // apply the request, then close without answering
	actError                 // answer ERROR with fakeReply.code
	actMalformed             // answer with a frame that does not decode
	actStall                 // never answer
	actRaw                   // answer with fakeReply.raw(request id), a well-formed frame
)

type fakeReply struct {
	act    fakeAction
	code   proto.Code
	leader string
	raw    func(id uint32) []byte // actRaw
}

func newFake(t testing.TB) *fake {
	f := &fake{
		t:           t,
		maxInFlight: 1024,
		maxBatch:    proto.MaxBatch,
		liked:       map[[2]uint64]bool{},
		counts:      map[uint64]uint64{},
		dedup:       map[[2]uint64]fakeResult{},
		conns:       map[net.Conn]bool{},
	}
	return f
}

// start listens (on f.addr if set, else a free loopback port) and serves.
func (f *fake) start() *fake {
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		f.t.Fatalf("fake listen: %v", err)
	}
	f.mu.Lock()
	f.ln = ln
	f.addr = ln.Addr().String()
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			f.mu.Lock()
			f.conns[nc] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(nc)
				f.mu.Lock()
				delete(f.conns, nc)
				f.mu.Unlock()
				nc.Close()
			}()
		}
	}()
	f.t.Cleanup(f.stop)
	return f
}

// stop closes the listener and every connection, keeping the state, as a
// server that restarts from durable state would. start serves again.
func (f *fake) stop() {
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for nc := range f.conns {
		nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fake) setHook(h func(m *proto.Msg) fakeReply) {
	f.hookMu.Lock()
	f.hook = h
	f.hookMu.Unlock()
}

func (f *fake) reply(m *proto.Msg) fakeReply {
	f.hookMu.Lock()
	h := f.hook
	f.hookMu.Unlock()
	if h == nil {
		return fakeReply{}
	}
	return h(m)
}

// dropConns closes every connection, as a network failure would.
func (f *fake) dropConns() {
	f.mu.Lock()
	for nc := range f.conns {
		nc.Close()
	}
	f.mu.Unlock()
}

func (f *fake) serve(nc net.Conn) {
	buf := make([]byte, 1<<16)
	var r, w int
	var clientID uint64
	hello := false
	var resps [][]byte
	for {
		n, err := nc.Read(buf[w:])
		if n == 0 || err != nil {
			return
		}
		f.reads.Add(1)
		w += n
		resps = resps[:0]
		batch := 0
		for r < w {
			m, rest, err := proto.Decode(buf[r:w])
			if errors.Is(err, proto.ErrIncomplete) {
				break
			}
			if err != nil {
				f.t.Errorf("fake: client sent a bad frame: %v", err)
				nc.Write(proto.AppendError(nil, 0, proto.CodeOf(err), "", err.Error()))
				return
			}
			r = w - len(rest)
			if !hello {
				if m.Type != proto.TypeHello {
					f.t.Errorf("fake: first frame %v, want HELLO", m.Type)
					return
				}
				hello, clientID = true, m.ClientID
				f.mu.Lock()
				f.clientIDs = append(f.clientIDs, m.ClientID)
				f.mu.Unlock()
				if f.helloCode != 0 {
					nc.Write(proto.AppendError(nil, m.ID, f.helloCode, "", "fake refuses"))
					return
				}
				resps = append(resps, proto.AppendHelloResp(nil, m.ID, proto.Version, proto.MaxFrameSize, f.maxInFlight, f.maxBatch))
				continue
			}
			batch++
			f.frames.Add(1)
			resp, keep := f.handle(&m, clientID)
			if !keep {
				return
			}
			if resp != nil {
				resps = append(resps, resp)
			}
		}
		f.mu.Lock()
		f.maxFrames = max(f.maxFrames, batch)
		f.mu.Unlock()
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			copy(buf, buf[r:w])
			r, w = 0, w-r
		}
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		if f.reorder {
			for i, j := 0, len(resps)-1; i < j; i, j = i+1, j-1 {
				resps[i], resps[j] = resps[j], resps[i]
			}
		}
		var out []byte
		for _, b := range resps {
			out = append(out, b...)
		}
		if f.dribble {
			for i := range out {
				if _, err := nc.Write(out[i : i+1]); err != nil {
					return
				}
			}
		} else if len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
	}
}

// handle serves one request; keep is false when the connection must close.
func (f *fake) handle(m *proto.Msg, clientID uint64) (resp []byte, keep bool) {
	isWrite := m.Type == proto.TypeLike || m.Type == proto.TypeUnlike
	if isWrite {
		f.mu.Lock()
		f.writeSeqs = append(f.writeSeqs, m.Seq)
		f.mu.Unlock()
	}
	rep := f.reply(m)
	switch rep.act {
	case actDropBefore:
		return nil, false
	case actError:
		return proto.AppendError(nil, m.ID, rep.code, rep.leader, "fake says so"), true
	case actMalformed:
		// A frame whose length is below the header size.
		return []byte{0, 0, 0, 2, 0x85, 0}, true
	case actStall:
		return nil, true
	case actRaw:
		return rep.raw(m.ID), true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch m.Type {
	case proto.TypePing:
		resp = proto.AppendEmpty(nil, proto.TypePing.Response(), m.ID)
	case proto.TypeStats:
		resp = proto.AppendStatsResp(nil, m.ID, []byte(`{"fake":true}`))
	case proto.TypeLike, proto.TypeUnlike:
		key := [2]uint64{clientID, m.Seq}
		res, seen := f.dedup[key]
		if !seen {
			k := [2]uint64{m.Game, m.User}
			want := m.Type == proto.TypeLike
			if f.liked[k] != want {
				res.changed = true
				if want {
					f.liked[k] = true
					f.counts[m.Game]++
				} else {
					delete(f.liked, k)
					f.counts[m.Game]--
				}
			}
			f.index++
			f.applied++
			res.count, res.index = f.counts[m.Game], f.index
			f.dedup[key] = res
		}
		if rep.act == actDropAfter {
			return nil, false
		}
		resp = proto.AppendWriteResp(nil, m.Type, m.ID, res.changed, res.count, res.index)
	case proto.TypeHas:
		resp = proto.AppendHasResp(nil, m.ID, f.liked[[2]uint64{m.Game, m.User}])
	case proto.TypeCount:
		resp = proto.AppendCountResp(nil, m.ID, f.counts[m.Game])
	case proto.TypeHasMany, proto.TypeCountMany:
		f.pageSizes = append(f.pageSizes, len(m.Games))
		if len(m.Games) > int(f.maxBatch) {
			return proto.AppendError(nil, m.ID, proto.CodeTooLarge, "", "batch over the limit"), true
		}
		if m.Type == proto.TypeHasMany {
			liked := make([]bool, len(m.Games))
			for i, g := range m.Games {
				liked[i] = f.liked[[2]uint64{g, m.User}]
			}
			resp = proto.AppendHasManyResp(nil, m.ID, liked)
		} else {
			counts := make([]uint64, len(m.Games))
			for i, g := range m.Games {
				counts[i] = f.counts[g]
			}
			resp = proto.AppendCountManyResp(nil, m.ID, counts)
		}
	default:
		resp = proto.AppendError(nil, m.ID, proto.CodeBadRequest, "", "unexpected "+m.Type.String())
	}
	if rep.act == actDropAfter {
		return nil, false
	}
	return resp, true
}

// snapshot returns copies of the fake's records, under its lock.
func (f *fake) snapshot() (applied int, writeSeqs []uint64, clientIDs []uint64, pageSizes []int, maxFrames int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, append([]uint64(nil), f.writeSeqs...), append([]uint64(nil), f.clientIDs...),
		append([]int(nil), f.pageSizes...), f.maxFrames
}
