package client

import (
	"sync"

	"github.com/likes/likes/proto"
)

// call is one request and, once done, its response. Calls are pooled: the
// steady state of a single-key call allocates nothing. See the package doc
// for who owns a call when.
type call struct {
	// Request, set by the caller.
	typ   proto.MsgType
	game  uint64
	user  uint64
	seq   uint64   // LIKE, UNLIKE: the same on every retry
	games []uint64 // HAS_MANY, COUNT_MANY: one page, aliasing the caller's slice

	// Where the call is pending, set and cleared by the caller only.
	sess *session
	id   uint32

	// Response, written by the completer before it signals done.
	changed bool
	count   uint64
	index   uint64
	liked   bool     // HAS
	likedN  []bool   // HAS_MANY: the page's part of the caller's result slice
	counts  []uint64 // COUNT_MANY: likewise
	stats   []byte   // STATS: a copy, owned by the call
	err     error

	// done receives one value per completion; buffered so the completer never
	// blocks.
	done chan struct{}
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall(t proto.MsgType) *call {
	cl := callPool.Get().(*call)
	cl.typ = t
	return cl
}

// putCall returns cl to the pool. The caller must own it: not pending, no
// completion in progress, done drained.
func putCall(cl *call) {
	done := cl.done
	*cl = call{done: done}
	callPool.Put(cl)
}

// appendTo appends the request frame of cl, with request id id, to dst.
func (cl *call) appendTo(dst []byte, id uint32) []byte {
	switch cl.typ {
	case proto.TypeLike, proto.TypeUnlike:
		return proto.AppendWrite(dst, cl.typ, id, cl.game, cl.user, cl.seq)
	case proto.TypeHas:
		return proto.AppendHas(dst, id, proto.ConsistencyDefault, cl.game, cl.user)
	case proto.TypeCount:
		return proto.AppendCount(dst, id, proto.ConsistencyDefault, cl.game)
	case proto.TypeHasMany:
		return proto.AppendHasMany(dst, id, proto.ConsistencyDefault, cl.user, cl.games)
	case proto.TypeCountMany:
		return proto.AppendCountMany(dst, id, proto.ConsistencyDefault, cl.games)
	default: // PING, STATS
		return proto.AppendEmpty(dst, cl.typ, id)
	}
}

// complete records err and signals the caller. Only the goroutine that
// removed cl from its session's pending map may call it, once.
func (cl *call) complete(err error) {
	cl.err = err
	cl.done <- struct{}{}
}

// fill copies the response m into cl and signals the caller. It returns an
// error, without signalling, when m does not answer cl's request: the stream
// is then not to be trusted and the session fails.
func (cl *call) fill(m *proto.Msg) error {
	if m.Type == proto.TypeError {
		e := new(proto.Error)
		*e = m.Err
		cl.complete(e)
		return nil
	}
	if m.Type != cl.typ.Response() {
		return protoErrorf("response %v to a %v request (id %d)", m.Type, cl.typ, m.ID)
	}
	switch cl.typ {
	case proto.TypeLike, proto.TypeUnlike:
		cl.changed, cl.count, cl.index = m.Changed, m.Count, m.Index
	case proto.TypeHas:
		if len(m.Liked) != 1 {
			return protoErrorf("HAS response with %d results", len(m.Liked))
		}
		cl.liked = m.Liked[0]
	case proto.TypeCount:
		cl.count = m.Count
	case proto.TypeHasMany:
		if len(m.Liked) != len(cl.likedN) {
			return protoErrorf("HAS_MANY response with %d results for %d games", len(m.Liked), len(cl.likedN))
		}
		copy(cl.likedN, m.Liked)
	case proto.TypeCountMany:
		if len(m.Counts) != len(cl.counts) {
			return protoErrorf("COUNT_MANY response with %d results for %d games", len(m.Counts), len(cl.counts))
		}
		copy(cl.counts, m.Counts)
	case proto.TypeStats:
		cl.stats = append([]byte(nil), m.Stats...)
	}
	cl.complete(nil)
	return nil
}
