package server_test

// Tests of the server's answers to bad input, section by section of
// proto/PROTOCOL.md (5.1 handshake, 5.3 and 8 limits, 6 flags, 9.2 malformed
// frames and invalid arguments), over raw TCP connections. They complement
// TestMalformedInput and TestBatchLimit in server_test.go.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
	"github.com/likes/likes/server"
)

// wireConn is a raw protocol connection whose reader decodes with
// proto.DecodeInto, so it notices bytes after the last frame.
type wireConn struct {
	t   *testing.T
	nc  net.Conn
	buf []byte
	msg proto.Msg
}

// openWire connects to n; with clientID != 0 it completes the handshake
// with that client id.
func openWire(t *testing.T, n *server.Node, clientID uint64) *wireConn {
	t.Helper()
	nc, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	w := &wireConn{t: t, nc: nc}
	if clientID != 0 {
		w.send(proto.AppendHello(nil, 1, proto.Version, clientID))
		if m := w.next(); m.Type != proto.TypeHello|proto.ResponseBit || m.ID != 1 {
			t.Fatalf("HELLO answered with %s id %d", m.Type, m.ID)
		}
	}
	return w
}

func (w *wireConn) send(b ...[]byte) {
	w.t.Helper()
	var all []byte
	for _, p := range b {
		all = append(all, p...)
	}
	if _, err := w.nc.Write(all); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame from the server.
func (w *wireConn) next() proto.Msg {
	w.t.Helper()
	for {
		rest, err := proto.DecodeInto(w.buf, &w.msg)
		if err == nil {
			m := w.msg
			m.Games = append([]uint64(nil), m.Games...)
			m.Liked = append([]bool(nil), m.Liked...)
			m.Counts = append([]uint64(nil), m.Counts...)
			m.Stats = append([]byte(nil), m.Stats...)
			w.buf = append(w.buf[:0], rest...)
			return m
		}
		if !errors.Is(err, proto.ErrIncomplete) {
			w.t.Fatalf("server sent a malformed frame: %v", err)
		}
		var b [4096]byte
		n, err := w.nc.Read(b[:])
		w.buf = append(w.buf, b[:n]...)
		if err != nil && n == 0 {
			w.t.Fatalf("read a frame: %v (holding %d bytes)", err, len(w.buf))
		}
	}
}

// closed asserts that the server sent nothing more and closed the connection.
func (w *wireConn) closed() {
	w.t.Helper()
	if len(w.buf) != 0 {
		w.t.Fatalf("%d more bytes after the last frame, want the connection closed", len(w.buf))
	}
	var b [64]byte
	n, err := w.nc.Read(b[:])
	if n > 0 {
		w.t.Fatalf("server sent % x more, want the connection closed", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		w.t.Fatal("connection still open, want it closed by the server")
	}
	if err == nil {
		w.t.Fatal("read returned nothing and no error")
	}
}

// open asserts the connection still serves: a PING is answered.
func (w *wireConn) open(id uint32) {
	w.t.Helper()
	w.send(proto.AppendEmpty(nil, proto.TypePing, id))
	if m := w.next(); m.Type != proto.TypePing|proto.ResponseBit || m.ID != id {
		w.t.Fatalf("PING %d answered with %s id %d, want PONG: the connection should stay open", id, m.Type, m.ID)
	}
}

// wantErr asserts m is an ERROR for request id with the code of sentinel.
func wantErr(t *testing.T, m proto.Msg, id uint32, sentinel error) {
	t.Helper()
	if m.Type != proto.TypeError {
		t.Fatalf("got %s id %d, want ERROR", m.Type, m.ID)
	}
	if m.ID != id {
		t.Errorf("ERROR answers request id %d, want %d (%v)", m.ID, id, &m.Err)
	}
	if !errors.Is(&m.Err, sentinel) {
		t.Errorf("ERROR %v (code %v), want %v", &m.Err, m.Err.Code, sentinel)
	}
	if m.Err.Message == "" {
		t.Error("ERROR without a message")
	}
}

// rawFrame builds a frame by hand: any type, flags and body, with a correct
// length field.
func rawFrame(t proto.MsgType, flags uint8, id uint32, body ...[]byte) []byte {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	f := binary.BigEndian.AppendUint32(nil, uint32(6+len(b)))
	f = append(f, byte(t), flags)
	f = binary.BigEndian.AppendUint32(f, id)
	return append(f, b...)
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// countOf reads a game's count on a fresh connection.
func countOf(t *testing.T, n *server.Node, game uint64) uint64 {
	t.Helper()
	w := openWire(t, n, 0xC0C0)
	w.send(proto.AppendCount(nil, 2, proto.ConsistencyDefault, game))
	m := w.next()
	if m.Type != proto.TypeCount|proto.ResponseBit {
		t.Fatalf("COUNT answered with %s %v", m.Type, &m.Err)
	}
	return m.Count
}

// TestFrameSizeLimits: PROTOCOL.md sections 2, 8 and 9.2 items 1-2. A length
// above MaxFrameSize is refused from the 4-byte length alone (request id 0
// when the header has not arrived), the limit is inclusive, and a length
// below the header is BAD_REQUEST with request id 0. Every one closes the
// connection.
func TestFrameSizeLimits(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))

	t.Run("length alone over the limit", func(t *testing.T) {
		w := openWire(t, n, 1)
		// length+4 = MaxFrameSize+1, and nothing after the length field: the
		// server must not wait for the header (or the megabyte) to arrive.
		w.send(binary.BigEndian.AppendUint32(nil, proto.MaxFrameSize-3))
		wantErr(t, w.next(), 0, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("largest length field", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send([]byte{0xFF, 0xFF, 0xFF, 0xFF}) // length+4 overflows 32 bits
		wantErr(t, w.next(), 0, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("one byte over the limit, header present", func(t *testing.T) {
		w := openWire(t, n, 1)
		hdr := rawFrame(proto.TypeStats, 0, 21)
		binary.BigEndian.PutUint32(hdr, proto.MaxFrameSize-3)
		w.send(hdr)
		wantErr(t, w.next(), 21, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("before HELLO", func(t *testing.T) {
		w := openWire(t, n, 0)
		w.send(binary.BigEndian.AppendUint32(nil, 0x7FFFFFFF))
		wantErr(t, w.next(), 0, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("exactly the limit is not too large", func(t *testing.T) {
		// A PING padded to MaxFrameSize bytes: within the limit, so the server
		// reads all of it and refuses it for its trailing bytes instead.
		w := openWire(t, n, 1)
		f := rawFrame(proto.TypePing, 0, 22, make([]byte, proto.MaxFrameSize-proto.HeaderSize))
		if len(f) != proto.MaxFrameSize {
			t.Fatalf("built a %d byte frame", len(f))
		}
		w.send(f)
		wantErr(t, w.next(), 22, proto.ErrBadRequest)
		w.closed()
	})
	for _, length := range []uint32{0, 2, 5} {
		t.Run(fmt.Sprintf("length %d below the header", length), func(t *testing.T) {
			w := openWire(t, n, 1)
			w.send(binary.BigEndian.AppendUint32(nil, length))
			wantErr(t, w.next(), 0, proto.ErrBadRequest)
			w.closed()
		})
	}
	t.Run("length below the header, more bytes behind it", func(t *testing.T) {
		// Section 9.2: the request id is answered only when the server holds
		// the 10 header bytes *and* length >= 6; otherwise request id 0. Here
		// bytes 6-9 of the stream are there but are not a request id.
		w := openWire(t, n, 1)
		w.send([]byte{0, 0, 0, 2, byte(proto.TypePing), 0, 0, 0, 0, 7})
		wantErr(t, w.next(), 0, proto.ErrBadRequest)
		w.closed()
	})
}

// TestTypeErrors: section 3 and 9.2 item 3. Unknown type bytes and responses
// sent as requests are malformed, before and after HELLO: one ERROR
// BAD_REQUEST answering the frame's id, then the connection closes.
func TestTypeErrors(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	for _, typ := range []proto.MsgType{0x00, 0x0A, 0x10, 0x7E, 0x80, 0x8A, 0xFE, 0xFF} {
		t.Run("unknown "+typ.String(), func(t *testing.T) {
			w := openWire(t, n, 1)
			w.send(rawFrame(typ, 0, 30))
			wantErr(t, w.next(), 30, proto.ErrBadRequest)
			w.closed()
		})
	}
	t.Run("unknown type before HELLO", func(t *testing.T) {
		w := openWire(t, n, 0)
		w.send(rawFrame(0x42, 0, 31))
		wantErr(t, w.next(), 31, proto.ErrBadRequest)
		w.closed()
	})

	// Well-formed frames of the server-to-client direction.
	responses := map[string][]byte{
		"HELLO_RESP":      proto.AppendHelloResp(nil, 40, 1, proto.MaxFrameSize, 8, 8),
		"PONG":            proto.AppendEmpty(nil, proto.TypePing|proto.ResponseBit, 40),
		"LIKE_RESP":       proto.AppendWriteResp(nil, proto.TypeLike, 40, true, 1, 1),
		"UNLIKE_RESP":     proto.AppendWriteResp(nil, proto.TypeUnlike, 40, false, 0, 1),
		"HAS_RESP":        proto.AppendHasResp(nil, 40, true),
		"HAS_MANY_RESP":   proto.AppendHasManyResp(nil, 40, []bool{true}),
		"COUNT_MANY_RESP": proto.AppendCountManyResp(nil, 40, []uint64{1}),
		"STATS_RESP":      proto.AppendStatsResp(nil, 40, []byte(`{}`)),
		"ERROR":           proto.AppendError(nil, 40, proto.CodeInternal, "", "client-side error"),
	}
	for name, f := range responses {
		t.Run(name+" sent as a request", func(t *testing.T) {
			w := openWire(t, n, 1)
			w.send(f)
			wantErr(t, w.next(), 40, proto.ErrBadRequest)
			w.closed()
		})
	}
	t.Run("response as the first frame", func(t *testing.T) {
		w := openWire(t, n, 0)
		w.send(responses["HELLO_RESP"])
		wantErr(t, w.next(), 40, proto.ErrBadRequest)
		w.closed()
	})
}

// TestRequestsBeforeHello: section 5.1 step 3 and 9.2 item 10. Every request
// type as the first frame is answered BAD_REQUEST with its id and closes the
// connection; a write is not applied; frames pipelined behind it (even a
// HELLO) are not served.
func TestRequestsBeforeHello(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	const game = 9001
	for name, f := range map[string][]byte{
		"PING":       proto.AppendEmpty(nil, proto.TypePing, 50),
		"STATS":      proto.AppendEmpty(nil, proto.TypeStats, 50),
		"LIKE":       proto.AppendWrite(nil, proto.TypeLike, 50, game, 1, 1),
		"UNLIKE":     proto.AppendWrite(nil, proto.TypeUnlike, 50, game, 1, 1),
		"HAS":        proto.AppendHas(nil, 50, proto.ConsistencyDefault, game, 1),
		"COUNT":      proto.AppendCount(nil, 50, proto.ConsistencyDefault, game),
		"HAS_MANY":   proto.AppendHasMany(nil, 50, proto.ConsistencyDefault, 1, []uint64{game}),
		"COUNT_MANY": proto.AppendCountMany(nil, 50, proto.ConsistencyDefault, []uint64{game}),
	} {
		t.Run(name, func(t *testing.T) {
			w := openWire(t, n, 0)
			w.send(f, proto.AppendHello(nil, 51, proto.Version, 5), proto.AppendEmpty(nil, proto.TypePing, 52))
			wantErr(t, w.next(), 50, proto.ErrBadRequest)
			w.closed()
		})
	}
	if c := countOf(t, n, game); c != 0 {
		t.Fatalf("game %d has %d likes: a LIKE sent before HELLO was applied", game, c)
	}
}

// TestHelloNegotiation: section 5.1 step 2. A client newer than the server
// gets the server's version; the HELLO response carries the HELLO's id and
// the server's configured limits.
func TestHelloNegotiation(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	cfg.MaxBatch = 100
	cfg.MaxInFlight = 7
	n := testnode.Start(t, cfg)
	for _, v := range []uint16{proto.Version, proto.Version + 1, 0xFFFF} {
		w := openWire(t, n, 0)
		w.send(proto.AppendHello(nil, 0xABCDEF01, v, 3))
		m := w.next()
		if m.Type != proto.TypeHello|proto.ResponseBit || m.ID != 0xABCDEF01 {
			t.Fatalf("HELLO version %d answered with %s id %x", v, m.Type, m.ID)
		}
		if m.Version != proto.Version || m.MaxFrame != proto.MaxFrameSize || m.MaxInFlight != 7 || m.MaxBatch != 100 {
			t.Errorf("HELLO version %d: response version %d max frame %d max in-flight %d max batch %d; want %d, %d, 7, 100",
				v, m.Version, m.MaxFrame, m.MaxInFlight, m.MaxBatch, proto.Version, proto.MaxFrameSize)
		}
		w.open(2)
	}
}

// TestSecondHello: section 5.1 step 3. A second HELLO is BAD_REQUEST whatever
// it carries, even a version the server would refuse in a first HELLO; the
// connection stays open with the first HELLO's client id, which de-duplicates
// its writes.
func TestSecondHello(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	const first, other = 0x1111, 0x2222
	const game, user = 77, 5

	a := openWire(t, n, first)
	a.send(proto.AppendHello(nil, 60, proto.Version, other))
	wantErr(t, a.next(), 60, proto.ErrBadRequest)
	a.send(proto.AppendHello(nil, 61, 0, other)) // version 0: VERSION on a first HELLO
	wantErr(t, a.next(), 61, proto.ErrBadRequest)
	a.open(62)

	// A write on a, then a retry of it (same seq) from a reconnecting client
	// with the first id: if a had switched to the other id, the retry would
	// be applied anew, unchanged and at another index.
	a.send(proto.AppendWrite(nil, proto.TypeLike, 63, game, user, 1))
	orig := a.next()
	if orig.Type != proto.TypeLike|proto.ResponseBit || !orig.Changed || orig.Count != 1 {
		t.Fatalf("LIKE after a second HELLO: %s %+v %v", orig.Type, orig, &orig.Err)
	}
	b := openWire(t, n, first)
	b.send(proto.AppendWrite(nil, proto.TypeLike, 64, game, user, 1))
	retry := b.next()
	if retry.Type != orig.Type || retry.Changed != orig.Changed || retry.Count != orig.Count || retry.Index != orig.Index {
		t.Errorf("retry with the first HELLO's client id = changed %v count %d index %d, want the original changed %v count %d index %d: the second HELLO changed the client id",
			retry.Changed, retry.Count, retry.Index, orig.Changed, orig.Count, orig.Index)
	}
}

// TestBatchErrors: sections 4.10, 5.3, 8 and 9.2 item 8. Above the announced
// max batch but within MaxBatch is an invalid argument (TOO_LARGE, connection
// kept); above MaxBatch is malformed (TOO_LARGE, closed), detected from the
// count before the games; a count of 0 or a count pointing past the frame is
// BAD_REQUEST and closes.
func TestBatchErrors(t *testing.T) {
	t.Run("above the announced max batch", func(t *testing.T) {
		cfg := testnode.Config(t, t.TempDir())
		cfg.MaxBatch = 8
		n := testnode.Start(t, cfg)
		w := openWire(t, n, 1)
		w.send(proto.AppendWrite(nil, proto.TypeLike, 70, 3, 9, 0))
		if m := w.next(); m.Type != proto.TypeLike|proto.ResponseBit {
			t.Fatalf("LIKE: %s %v", m.Type, &m.Err)
		}
		nine := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}
		w.send(proto.AppendHasMany(nil, 71, proto.ConsistencyDefault, 9, nine))
		wantErr(t, w.next(), 71, proto.ErrTooLarge)
		w.send(proto.AppendCountMany(nil, 72, proto.ConsistencyDefault, nine))
		wantErr(t, w.next(), 72, proto.ErrTooLarge)
		// Kept open, and a batch at the limit is served.
		w.send(proto.AppendHasMany(nil, 73, proto.ConsistencyDefault, 9, nine[:8]))
		m := w.next()
		if m.Type != proto.TypeHasMany|proto.ResponseBit || m.ID != 73 || len(m.Liked) != 8 {
			t.Fatalf("HAS_MANY of 8 after a refused batch: %s id %d %v %v", m.Type, m.ID, m.Liked, &m.Err)
		}
		for i, l := range m.Liked {
			if l != (nine[i] == 3) {
				t.Errorf("HAS_MANY game %d: liked %v", nine[i], l)
			}
		}
		w.send(proto.AppendCountMany(nil, 74, proto.ConsistencyDefault, nine[:8]))
		if m := w.next(); m.Type != proto.TypeCountMany|proto.ResponseBit || len(m.Counts) != 8 || m.Counts[2] != 1 {
			t.Fatalf("COUNT_MANY of 8 after a refused batch: %s %v %v", m.Type, m.Counts, &m.Err)
		}
	})

	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	t.Run("MaxBatch is served", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(proto.AppendHasMany(nil, 80, proto.ConsistencyDefault, 1, make([]uint64, proto.MaxBatch)))
		if m := w.next(); m.Type != proto.TypeHasMany|proto.ResponseBit || len(m.Liked) != proto.MaxBatch {
			t.Fatalf("HAS_MANY of %d: %s, %d answers, %v", proto.MaxBatch, m.Type, len(m.Liked), &m.Err)
		}
	})
	t.Run("HAS_MANY above MaxBatch", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(proto.AppendHasMany(nil, 81, proto.ConsistencyDefault, 1, make([]uint64, proto.MaxBatch+1)))
		wantErr(t, w.next(), 81, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("HAS_MANY count above MaxBatch without the games", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(rawFrame(proto.TypeHasMany, 0, 82, be64(1), be16(0xFFFF)))
		wantErr(t, w.next(), 82, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("COUNT_MANY above MaxBatch", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(rawFrame(proto.TypeCountMany, 0, 83, be16(proto.MaxBatch+1)))
		wantErr(t, w.next(), 83, proto.ErrTooLarge)
		w.closed()
	})
	t.Run("HAS_MANY of 0 games", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(rawFrame(proto.TypeHasMany, 0, 84, be64(1), be16(0)))
		wantErr(t, w.next(), 84, proto.ErrBadRequest)
		w.closed()
	})
	t.Run("HAS_MANY count past the frame", func(t *testing.T) {
		w := openWire(t, n, 1)
		w.send(rawFrame(proto.TypeHasMany, 0, 85, be64(1), be16(3), be64(1), be64(2)))
		wantErr(t, w.next(), 85, proto.ErrBadRequest)
		w.closed()
	})
}

// TestFlagErrors: section 6 and 9.2 item 4. Flags on a message that takes
// none, reserved bits and consistency 5-7 are malformed (closed); a reserved
// consistency level 1-4 is an invalid argument (kept open); a write with
// flags is not applied.
func TestFlagErrors(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	const game = 4242
	for name, f := range map[string][]byte{
		"PING with a flag":          rawFrame(proto.TypePing, 0x01, 90),
		"STATS with a flag":         rawFrame(proto.TypeStats, 0x80, 90),
		"LIKE with a flag":          rawFrame(proto.TypeLike, 0x01, 90, be64(game), be64(1), be64(0)),
		"COUNT reserved bit 3":      rawFrame(proto.TypeCount, 0x08, 90, be64(game)),
		"COUNT consistency 5":       rawFrame(proto.TypeCount, 0x05, 90, be64(game)),
		"HAS consistency 7":         rawFrame(proto.TypeHas, 0x07, 90, be64(game), be64(1)),
		"HAS_MANY reserved bit 7":   rawFrame(proto.TypeHasMany, 0x80, 90, be64(1), be16(1), be64(game)),
		"COUNT_MANY bit 3, level 4": rawFrame(proto.TypeCountMany, 0x0C, 90, be16(1), be64(game)),
	} {
		t.Run(name, func(t *testing.T) {
			w := openWire(t, n, 1)
			w.send(f)
			wantErr(t, w.next(), 90, proto.ErrBadRequest)
			w.closed()
		})
	}
	if c := countOf(t, n, game); c != 0 {
		t.Fatalf("game %d has %d likes: a LIKE with flags was applied", game, c)
	}
	t.Run("reserved consistency levels keep the connection", func(t *testing.T) {
		w := openWire(t, n, 1)
		for c := proto.ConsistencyLinearizable; c <= proto.ConsistencyStale; c++ {
			w.send(proto.AppendHasMany(nil, 91, c, 1, []uint64{game}))
			wantErr(t, w.next(), 91, proto.ErrBadRequest)
			w.send(proto.AppendCountMany(nil, 92, c, []uint64{game}))
			wantErr(t, w.next(), 92, proto.ErrBadRequest)
			w.send(proto.AppendHas(nil, 93, c, game, 1))
			wantErr(t, w.next(), 93, proto.ErrBadRequest)
		}
		w.open(94)
	})
}

// TestBadFrameAfterPipelinedRequests: a malformed frame behind good ones in
// the same write closes the connection with exactly one ERROR for it, and
// the server keeps serving other connections.
func TestBadFrameAfterPipelinedRequests(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	w := openWire(t, n, 1)
	w.send(proto.AppendEmpty(nil, proto.TypePing, 100), rawFrame(0x55, 0, 101), proto.AppendEmpty(nil, proto.TypePing, 102))
	m := w.next()
	if m.Type == proto.TypePing|proto.ResponseBit && m.ID == 100 {
		m = w.next() // the PING before may be answered or lost (section 9.2)
	}
	wantErr(t, m, 101, proto.ErrBadRequest)
	w.closed() // and PING 102 behind it is not served
	other := openWire(t, n, 2)
	other.open(103)

	// And a client that hangs up mid-frame costs the server nothing.
	half := openWire(t, n, 3)
	half.send(proto.AppendCount(nil, 104, proto.ConsistencyDefault, 1)[:12])
	half.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n.Stats().Connections > 1 {
		if ctx.Err() != nil {
			t.Fatalf("%d connections still open after clients left", n.Stats().Connections)
		}
		time.Sleep(5 * time.Millisecond)
	}
	other.open(105)
}
