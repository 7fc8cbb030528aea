package server_test

import (
	"runtime"
	"testing"

	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
)

// TestReadBufferResizes drives one connection through the read buffer's
// growth and shrinking (server/conn.go): a frame far larger than the initial
// buffer arriving in pieces, then many small request/response rounds (the
// buffer shrinks), then a pipelined burst filling the largest buffer, then
// the large frame again. Every answer must be right, in order.
func TestReadBufferResizes(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	const user = 77
	games := make([]uint64, 4096) // ~32 KiB frame: 8× the initial buffer
	for i := range games {
		games[i] = uint64(1000 + i)
	}
	for _, g := range games {
		if g%97 == 0 {
			if _, err := c.Like(ctx, g, user); err != nil {
				t.Fatal(err)
			}
		}
	}
	w := openWire(t, n, 4242)
	bigFrame := proto.AppendHasMany(nil, 10, proto.ConsistencyDefault, user, games)
	checkBig := func(id uint32) {
		t.Helper()
		m := w.next()
		if m.Type != proto.TypeHasMany|proto.ResponseBit || m.ID != id || len(m.Liked) != len(games) {
			t.Fatalf("big HAS_MANY answered with %s id %d, %d answers", m.Type, m.ID, len(m.Liked))
		}
		for i, liked := range m.Liked {
			if liked != (games[i]%97 == 0) {
				t.Fatalf("game %d: liked = %v", games[i], liked)
			}
		}
	}
	// In pieces of 1000 bytes, each its own write.
	for off := 0; off < len(bigFrame); off += 1000 {
		w.send(bigFrame[off:min(off+1000, len(bigFrame))])
	}
	checkBig(10)
	// Small rounds, one at a time: the buffer shrinks back.
	for i := range uint32(200) {
		w.send(proto.AppendHas(nil, 100+i, proto.ConsistencyDefault, games[67], user)) // 1067 = 11 × 97: liked
		if m := w.next(); m.Type != proto.TypeHas|proto.ResponseBit || m.ID != 100+i || !liked1(m) {
			t.Fatalf("HAS %d answered with %s id %d liked %v", i, m.Type, m.ID, liked1(m))
		}
	}
	// A burst of 3000 pipelined HAS in one write (~75 KiB): the buffer grows
	// to its largest and the burst takes several reads.
	var burst []byte
	for i := range uint32(3000) {
		burst = proto.AppendHas(burst, 1000+i, proto.ConsistencyDefault, games[i], user)
	}
	w.send(burst)
	for i := range uint32(3000) {
		m := w.next()
		if m.Type != proto.TypeHas|proto.ResponseBit || m.ID != 1000+i || liked1(m) != (games[i]%97 == 0) {
			t.Fatalf("burst HAS %d answered with %s id %d liked %v", i, m.Type, m.ID, liked1(m))
		}
	}
	w.send(bigFrame[:5], bigFrame[5:])
	checkBig(10)
}

// TestIdleConnectionsAreSmall: an idle connection that has said HELLO holds
// a small read buffer, not the largest one, so MaxConns idle connections do
// not cost MaxConns × 64 KiB of heap.
func TestIdleConnectionsAreSmall(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	const conns = 200
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range conns {
		// HELLO answered: the server's reader has allocated its buffer.
		openWire(t, n, uint64(9000+i))
	}
	grew := int64(heap()) - int64(before)
	// Both ends live in this process: the client side's net.Conn and
	// wireConn are small; the server's buffers dominate.
	if per := grew / conns; per > 16<<10 {
		t.Errorf("heap grew %d B per idle connection, want under 16 KiB (read buffers must start small)", per)
	}
	t.Logf("heap per idle connection: %d B", grew/conns)
}

// liked1 is a HAS response's answer.
func liked1(m proto.Msg) bool { return len(m.Liked) == 1 && m.Liked[0] }
