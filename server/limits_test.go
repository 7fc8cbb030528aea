package server_test

import (
	"testing"

	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
	"github.com/likes/likes/raftfsm"
)

// TestInFlightLimitWaits: a client that pipelines far past the server's
// MaxInFlight is not refused and not stalled: the server stops reading at
// the limit and resumes as answers go out, so every request is answered,
// reads and writes alike.
func TestInFlightLimitWaits(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	cfg.MaxInFlight = 2
	n := testnode.Start(t, cfg)
	w := openWire(t, n, 31)
	const reqs = 64
	var frames [][]byte
	for i := range uint32(reqs) {
		switch i % 3 {
		case 0:
			frames = append(frames, proto.AppendEmpty(nil, proto.TypePing, 100+i))
		case 1:
			frames = append(frames, proto.AppendWrite(nil, proto.TypeLike, 100+i, 5, uint64(i), uint64(i)))
		default:
			frames = append(frames, proto.AppendHas(nil, 100+i, proto.ConsistencyDefault, 5, uint64(i-1)))
		}
	}
	w.send(frames...)
	seen := map[uint32]bool{}
	for range reqs {
		m := w.next()
		if m.Type == proto.TypeError {
			t.Fatalf("request %d refused: %v", m.ID, &m.Err)
		}
		if m.ID < 100 || m.ID >= 100+reqs || seen[m.ID] {
			t.Fatalf("unexpected or repeated answer id %d (%s)", m.ID, m.Type)
		}
		seen[m.ID] = true
	}
	if c := countOf(t, n, 5); c != reqs/3 {
		t.Fatalf("game 5 has %d likes, want %d", c, reqs/3)
	}
}

// TestSeqExpiredOnTheWire: a retry whose seq has fallen out of the client's
// dedup window is refused SEQ_EXPIRED (not applied again, not answered as
// new), and the connection stays usable.
func TestSeqExpiredOnTheWire(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	w := openWire(t, n, 32)
	window := uint64(raftfsm.DefaultOptions().DedupWindow)
	w.send(proto.AppendWrite(nil, proto.TypeLike, 1, 7, 1, 1))
	if m := w.next(); m.Type != proto.TypeLike|proto.ResponseBit || !m.Changed {
		t.Fatalf("first like answered with %s changed=%v", m.Type, m.Changed)
	}
	// Move the client's highest seq a window past seq 1.
	w.send(proto.AppendWrite(nil, proto.TypeLike, 2, 7, 2, window+2))
	if m := w.next(); m.Type != proto.TypeLike|proto.ResponseBit {
		t.Fatalf("second like answered with %s", m.Type)
	}
	w.send(proto.AppendWrite(nil, proto.TypeUnlike, 3, 7, 1, 1))
	wantErr(t, w.next(), 3, proto.ErrSeqExpired)
	w.send(proto.AppendEmpty(nil, proto.TypePing, 4))
	if m := w.next(); m.Type != proto.TypePing|proto.ResponseBit || m.ID != 4 {
		t.Fatalf("after SEQ_EXPIRED the connection answered %s id %d", m.Type, m.ID)
	}
	if c := countOf(t, n, 7); c != 2 {
		t.Fatalf("game 7 has %d likes, want 2 (the expired unlike must not apply)", c)
	}
}
