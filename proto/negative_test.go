package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dirty is a Msg with every field set, to show what DecodeInto leaves behind.
func dirty() Msg {
	return Msg{Type: TypeLike, Flags: 9, ID: 99, Version: 9, ClientID: 9, MaxFrame: 9, MaxInFlight: 9, MaxBatch: 9,
		Game: 9, User: 9, Seq: 9, Games: []uint64{9}, Changed: true, Count: 9, Index: 9,
		Liked: []bool{true}, Counts: []uint64{9}, Stats: []byte("9"), Err: Error{Code: 9, Leader: "9", Message: "9"}}
}

// withLen returns a copy of frame with its length field set to n.
func withLen(frame []byte, n uint32) []byte {
	out := bytes.Clone(frame)
	binary.BigEndian.PutUint32(out, n)
	return out
}

// frameOf builds a frame from raw parts, valid or not; the length is right.
func frameOf(t MsgType, flags uint8, id uint32, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(header(nil, t, flags, id, len(b)), b...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// checkInvalid asserts that buf is refused with an error wrapping want (and
// no other sentinel), that rest is buf, that CodeOf gives want's code, and
// that DecodeInto leaves the header fields as documented.
func checkInvalid(t *testing.T, what string, buf []byte, want error) {
	t.Helper()
	m := dirty()
	rest, err := DecodeInto(buf, &m)
	if !errors.Is(err, want) {
		t.Errorf("%s: err %v, want %v", what, err, want)
		return
	}
	for _, other := range []error{ErrBadRequest, ErrTooLarge, ErrIncomplete} {
		if other != want && errors.Is(err, other) {
			t.Errorf("%s: err %v also wraps %v", what, err, other)
		}
	}
	if CodeOf(err).Err() != want {
		t.Errorf("%s: CodeOf(%v) = %v", what, err, CodeOf(err))
	}
	if len(rest) != len(buf) {
		t.Errorf("%s: rest %d bytes, want all %d", what, len(rest), len(buf))
	}
	var hdr Msg
	if n := binary.BigEndian.Uint32(buf); len(buf) >= HeaderSize && n >= HeaderSize-4 {
		hdr = Msg{Type: MsgType(buf[4]), Flags: buf[5], ID: binary.BigEndian.Uint32(buf[6:])}
	}
	if !msgEqual(m, hdr) {
		t.Errorf("%s: after the error m = %+v, want only the header %+v", what, m, hdr)
	}
}

// TestTruncated: every proper prefix of every golden frame, alone or as the
// tail of a buffer after a whole frame, is ErrIncomplete with m untouched.
func TestTruncated(t *testing.T) {
	for _, g := range readGolden(t) {
		for k := range len(g.frame) {
			m := dirty()
			rest, err := DecodeInto(g.frame[:k], &m)
			if !errors.Is(err, ErrIncomplete) || len(rest) != k {
				t.Errorf("%s cut to %d bytes: err %v, rest %d; want ErrIncomplete", g.name, k, err, len(rest))
			}
			if !msgEqual(m, dirty()) {
				t.Errorf("%s cut to %d bytes: m changed to %+v", g.name, k, m)
			}
			if _, ok := FrameLen(g.frame[:k]); ok != (k >= 4) {
				t.Errorf("%s cut to %d bytes: FrameLen ok=%v", g.name, k, ok)
			}
			two := append(bytes.Clone(g.frame), g.frame[:k]...)
			rest, err = DecodeInto(two, &m)
			if err != nil || !bytes.Equal(rest, g.frame[:k]) {
				t.Fatalf("%s + %d bytes: err %v, rest % x", g.name, k, err, rest)
			}
			if rest, err = DecodeInto(rest, &m); !errors.Is(err, ErrIncomplete) || len(rest) != k {
				t.Errorf("%s + %d bytes, second frame: err %v; want ErrIncomplete", g.name, k, err)
			}
		}
	}
}

// TestBodyLength: a body one or more bytes short of its fields, or with
// bytes after them, inside a frame whose length is consistent, is
// BAD_REQUEST. (STATS responses take any body.)
func TestBodyLength(t *testing.T) {
	for _, g := range readGolden(t) {
		if MsgType(g.frame[4]) == TypeStats|ResponseBit {
			continue
		}
		body := g.frame[HeaderSize:]
		for k := range len(body) {
			short := withLen(g.frame[:HeaderSize+k], uint32(HeaderSize-4+k))
			checkInvalid(t, fmt.Sprintf("%s with a %d-byte body", g.name, k), short, ErrBadRequest)
		}
		for _, extra := range [][]byte{{0}, {1}, {0xFF, 0xFF}, make([]byte, 8)} {
			long := append(bytes.Clone(g.frame), extra...)
			binary.BigEndian.PutUint32(long, uint32(len(long)-4))
			checkInvalid(t, fmt.Sprintf("%s with trailing % x", g.name, extra), long, ErrBadRequest)
		}
	}
}

func TestFrameLength(t *testing.T) {
	ping := AppendEmpty(nil, TypePing, 7)
	for n := range uint32(HeaderSize - 4) {
		checkInvalid(t, fmt.Sprintf("length %d", n), withLen(ping, n)[:4], ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("length %d, header bytes present", n), withLen(ping, n), ErrBadRequest)
	}
	// The limit is on the whole frame, length field included.
	for _, n := range []uint32{MaxFrameSize - 3, MaxFrameSize, 1 << 31, 0xFFFFFFFF} {
		checkInvalid(t, fmt.Sprintf("length %d, 4 bytes", n), withLen(ping, n)[:4], ErrTooLarge)
		checkInvalid(t, fmt.Sprintf("length %d, header present", n), withLen(ping, n), ErrTooLarge)
	}
	// The largest frame is fine, and incomplete until its last byte.
	big := AppendStatsResp(nil, 1, make([]byte, MaxFrameSize-HeaderSize))
	if len(big) != MaxFrameSize {
		t.Fatalf("largest frame is %d bytes", len(big))
	}
	if _, err := DecodeInto(big[:len(big)-1], new(Msg)); !errors.Is(err, ErrIncomplete) {
		t.Errorf("largest frame less a byte: %v", err)
	}
	if m, rest, err := Decode(big); err != nil || len(rest) != 0 || len(m.Stats) != MaxFrameSize-HeaderSize {
		t.Errorf("largest frame: %v", err)
	}
	if _, err := AppendMsg(nil, &Msg{Type: TypeStats | ResponseBit, Stats: make([]byte, MaxFrameSize-HeaderSize+1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AppendMsg of a frame one byte too large: %v", err)
	}
	// What a stray HTTP or Redis client sends first is refused at once.
	checkInvalid(t, "HTTP", []byte("GET / HTTP/1.1\r\n"), ErrTooLarge)
	checkInvalid(t, "RESP", []byte("*1\r\n$4\r\nPING\r\n"), ErrTooLarge)
	checkInvalid(t, "TLS", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), ErrTooLarge)
}

func TestBatchLimits(t *testing.T) {
	for _, tc := range []struct {
		typ  MsgType
		head []byte // before the count
		elem int
	}{
		{TypeHasMany, u64(1), 8},
		{TypeCountMany, nil, 8},
		{TypeHasMany | ResponseBit, nil, 1},
		{TypeCountMany | ResponseBit, nil, 8},
	} {
		ok := frameOf(tc.typ, 0, 1, tc.head, u16(MaxBatch), make([]byte, tc.elem*MaxBatch))
		if _, _, err := Decode(ok); err != nil {
			t.Errorf("%v with MaxBatch elements: %v", tc.typ, err)
		}
		// Too large is refused from the count, whatever follows.
		for _, n := range []uint16{MaxBatch + 1, 0xFFFF} {
			checkInvalid(t, fmt.Sprintf("%v count %d, no elements", tc.typ, n),
				frameOf(tc.typ, 0, 2, tc.head, u16(n)), ErrTooLarge)
			checkInvalid(t, fmt.Sprintf("%v count %d, all elements", tc.typ, n),
				frameOf(tc.typ, 0, 2, tc.head, u16(n), make([]byte, tc.elem*int(n))), ErrTooLarge)
		}
		checkInvalid(t, fmt.Sprintf("%v count 0", tc.typ), frameOf(tc.typ, 0, 3, tc.head, u16(0)), ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("%v count 2, one element", tc.typ),
			frameOf(tc.typ, 0, 3, tc.head, u16(2), make([]byte, tc.elem)), ErrBadRequest)
	}
	// AppendMsg refuses what the u16 count cannot say.
	for _, m := range []Msg{
		{Type: TypeHasMany, Games: make([]uint64, MaxBatch+1)},
		{Type: TypeCountMany, Games: make([]uint64, 1<<16+1)},
		{Type: TypeHasMany | ResponseBit, Liked: make([]bool, MaxBatch+1)},
		{Type: TypeCountMany | ResponseBit, Counts: make([]uint64, 1<<16)},
	} {
		if out, err := AppendMsg([]byte("x"), &m); !errors.Is(err, ErrTooLarge) || string(out) != "x" {
			t.Errorf("AppendMsg(%v with a batch of %d) = %q, %v; want ErrTooLarge", m.Type, len(m.Games)+len(m.Liked)+len(m.Counts), out, err)
		}
	}
	if _, err := AppendMsg(nil, &Msg{Type: TypeCountMany}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("AppendMsg of an empty batch: %v", err)
	}
}

func TestBools(t *testing.T) {
	for _, v := range []byte{2, 0x80, 0xFF} {
		checkInvalid(t, fmt.Sprintf("LIKE_RESP changed=%d", v),
			frameOf(TypeLike|ResponseBit, 0, 1, []byte{v}, u64(1), u64(2)), ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("UNLIKE_RESP changed=%d", v),
			frameOf(TypeUnlike|ResponseBit, 0, 1, []byte{v}, u64(1), u64(2)), ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("HAS_RESP liked=%d", v), frameOf(TypeHas|ResponseBit, 0, 1, []byte{v}), ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("HAS_MANY_RESP liked=[1 %d 0]", v),
			frameOf(TypeHasMany|ResponseBit, 0, 1, u16(3), []byte{1, v, 0}), ErrBadRequest)
	}
}

func TestTypes(t *testing.T) {
	known := map[MsgType]bool{}
	for _, typ := range allTypes {
		known[typ] = true
	}
	for i := range 256 {
		typ := MsgType(i)
		if known[typ] {
			continue
		}
		checkInvalid(t, fmt.Sprintf("type 0x%02x", i), frameOf(typ, 0, 1), ErrBadRequest)
		checkInvalid(t, fmt.Sprintf("type 0x%02x with a body", i), frameOf(typ, 0, 1, u64(1)), ErrBadRequest)
		if _, err := AppendMsg(nil, &Msg{Type: typ}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("AppendMsg of type 0x%02x: %v", i, err)
		}
	}
	names := map[string]bool{}
	for _, typ := range allTypes {
		s := typ.String()
		if names[s] || strings.HasPrefix(s, "TYPE_") {
			t.Errorf("type 0x%02x is named %q", uint8(typ), s)
		}
		names[s] = true
		if typ.IsResponse() != (typ&ResponseBit != 0 || typ == TypeError) {
			t.Errorf("%v.IsResponse() = %v", typ, typ.IsResponse())
		}
		if !typ.IsResponse() && (typ.Response().Request() != typ || !typ.Response().IsResponse()) {
			t.Errorf("%v.Response() = %v", typ, typ.Response())
		}
	}
	if s := MsgType(0xFF).String(); s == "ERROR" {
		t.Errorf("type 0xff is named %q", s)
	}
}

// TestFlags: only read requests take flags, only bits 0-2, only levels 0-4.
func TestFlags(t *testing.T) {
	for _, g := range readGolden(t) {
		typ := MsgType(g.frame[4])
		for bit := range 8 {
			f := bytes.Clone(g.frame)
			f[5] = 1 << bit
			if isRead(typ) && bit < 3 {
				m, _, err := Decode(f)
				if err != nil || m.Consistency() != Consistency(f[5]) {
					t.Errorf("%s with consistency %d: %v", g.name, f[5], err)
				}
				continue
			}
			checkInvalid(t, fmt.Sprintf("%s with flags 0x%02x", g.name, f[5]), f, ErrBadRequest)
			if m, _, _ := Decode(g.frame); !isRead(typ) {
				m.Flags = 1 << bit
				if _, err := AppendMsg(nil, &m); !errors.Is(err, ErrBadRequest) {
					t.Errorf("AppendMsg(%s with flags 0x%02x): %v", g.name, m.Flags, err)
				}
			}
		}
		if isRead(typ) {
			for c := ConsistencyStale + 1; c <= consistencyMask; c++ {
				f := bytes.Clone(g.frame)
				f[5] = uint8(c)
				checkInvalid(t, fmt.Sprintf("%s with consistency %d", g.name, c), f, ErrBadRequest)
			}
		}
	}
}

func TestHelloMagic(t *testing.T) {
	for _, magic := range []string{"LIKF", "like", "EKIL", "\x00\x00\x00\x00", "HTTP"} {
		checkInvalid(t, fmt.Sprintf("magic %q", magic), frameOf(TypeHello, 0, 1, []byte(magic), u16(1), u64(1)), ErrBadRequest)
	}
	checkInvalid(t, "HELLO with a 2-byte magic", frameOf(TypeHello, 0, 1, []byte("LI")), ErrBadRequest)
}

func TestErrorFrames(t *testing.T) {
	checkInvalid(t, "ERROR code 0", frameOf(TypeError, 0, 4, u16(0), u16(0), u16(0)), ErrBadRequest)
	checkInvalid(t, "ERROR leader longer than the body",
		frameOf(TypeError, 0, 4, u16(1), u16(10), []byte("abc"), u16(0)), ErrBadRequest)
	checkInvalid(t, "ERROR message length 0xffff, 1 byte",
		frameOf(TypeError, 0, 4, u16(1), u16(0), u16(0xFFFF), []byte("a")), ErrBadRequest)
	if _, err := AppendMsg(nil, &Msg{Type: TypeError, ID: 1}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("AppendMsg of an ERROR with code 0: %v", err)
	}
	// Codes this version does not know decode (a newer peer may send them)
	// and read as INTERNAL.
	m, _, err := Decode(AppendError(nil, 5, 0x1234, "", "new"))
	if err != nil || m.Err.Code != 0x1234 || !errors.Is(&m.Err, ErrInternal) {
		t.Errorf("ERROR code 0x1234: %+v, %v", m.Err, err)
	}
	// The strings are cut to what their u16 lengths can say.
	long := strings.Repeat("x", 70000)
	m, _, err = Decode(AppendError(nil, 5, CodeNotLeader, long, long))
	if err != nil || len(m.Err.Leader) != 0xFFFF || len(m.Err.Message) != 0xFFFF {
		t.Errorf("ERROR with 70000-byte strings: %d, %d, %v", len(m.Err.Leader), len(m.Err.Message), err)
	}
}

// TestCodes checks the one-to-one mapping of wire codes and sentinels.
func TestCodes(t *testing.T) {
	codes := []Code{CodeBadRequest, CodeTooLarge, CodeNotLeader, CodeUnavailable, CodeOverloaded, CodeInternal, CodeSeqExpired, CodeVersion}
	sentinels := []error{ErrBadRequest, ErrTooLarge, ErrNotLeader, ErrUnavailable, ErrOverloaded, ErrInternal, ErrSeqExpired, ErrVersion}
	names := []string{"BAD_REQUEST", "TOO_LARGE", "NOT_LEADER", "UNAVAILABLE", "OVERLOADED", "INTERNAL", "SEQ_EXPIRED", "VERSION"}
	for i, c := range codes {
		if c != Code(i+1) {
			t.Errorf("code %v is %d, want %d: codes are never renumbered", c, c, i+1)
		}
		if c.Err() != sentinels[i] {
			t.Errorf("%v.Err() = %v, want %v", c, c.Err(), sentinels[i])
		}
		if c.String() != names[i] {
			t.Errorf("code %d is named %q, want %q", c, c.String(), names[i])
		}
		if CodeOf(sentinels[i]) != c {
			t.Errorf("CodeOf(%v) = %v, want %v", sentinels[i], CodeOf(sentinels[i]), c)
		}
		wrapped := fmt.Errorf("shard 3: %w", sentinels[i])
		if CodeOf(wrapped) != c || CodeOf(wrapped).Err() != sentinels[i] {
			t.Errorf("CodeOf(wrapped %v) = %v", sentinels[i], CodeOf(wrapped))
		}
		e := &Error{Code: c, Message: "m"}
		if !errors.Is(e, sentinels[i]) || CodeOf(e) != c || CodeOf(fmt.Errorf("call: %w", e)) != c {
			t.Errorf("*Error{%v} does not unwrap to %v", c, sentinels[i])
		}
		var target *Error
		if !errors.As(fmt.Errorf("call: %w", e), &target) || target != e {
			t.Errorf("errors.As did not find the *Error")
		}
		for j, other := range sentinels {
			if j != i && (errors.Is(e, other) || errors.Is(sentinels[i], other)) {
				t.Errorf("%v is also %v", c, other)
			}
		}
	}
	for _, c := range []Code{0, 9, 0x7FFF, 0xFFFF} {
		if c.Err() != ErrInternal || !strings.HasPrefix(c.String(), "CODE_") {
			t.Errorf("unknown code %d: Err %v, String %q", c, c.Err(), c.String())
		}
	}
	for _, err := range []error{errors.New("boom"), ErrIncomplete} {
		if CodeOf(err) != CodeInternal {
			t.Errorf("CodeOf(%v) = %v, want INTERNAL", err, CodeOf(err))
		}
	}
	e := &Error{Code: CodeNotLeader, Leader: "10.0.0.2:7070", Message: "shard 5"}
	if s := e.Error(); s != "not leader: shard 5 (leader 10.0.0.2:7070)" {
		t.Errorf("Error() = %q", s)
	}
	if s := (&Error{Code: CodeOverloaded}).Error(); s != "overloaded" {
		t.Errorf("Error() = %q", s)
	}
}

// TestDecodeIntoMax: a frame over the given limit fails with ErrTooLarge
// from its header alone, with the request id filled in; one within it
// decodes as with DecodeInto.
func TestDecodeIntoMax(t *testing.T) {
	frame := AppendCountMany(nil, 9, ConsistencyDefault, make([]uint64, 10))
	var m Msg
	if _, err := DecodeIntoMax(frame[:HeaderSize], &m, 64); !errors.Is(err, ErrTooLarge) || m.ID != 9 {
		t.Fatalf("over the limit: err %v, id %d; want ErrTooLarge with id 9", err, m.ID)
	}
	rest, err := DecodeIntoMax(frame, &m, len(frame))
	if err != nil || len(rest) != 0 || m.Type != TypeCountMany || len(m.Games) != 10 {
		t.Fatalf("at the limit: %v, %+v", err, m)
	}
}
