package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// refDecode is a reference decoder written straight from the tables of
// PROTOCOL.md, slow and obvious, with none of the fast decoder's code. The
// fuzzers check that both agree on every input: the same error class, or the
// same message and frame size.
func refDecode(buf []byte) (m Msg, size int, err error) {
	if len(buf) < 4 {
		return m, 0, ErrIncomplete
	}
	length := int64(binary.BigEndian.Uint32(buf))
	switch {
	case length+4 > MaxFrameSize:
		return m, 0, ErrTooLarge
	case length < 6:
		return m, 0, ErrBadRequest
	case int64(len(buf)) < length+4:
		return m, 0, ErrIncomplete
	}
	size = int(length) + 4
	m.Type, m.Flags, m.ID = MsgType(buf[4]), buf[5], binary.BigEndian.Uint32(buf[6:10])
	body := buf[10:size]
	read := func(n int) []byte {
		if n < 0 || len(body) < n {
			err = ErrBadRequest
			return make([]byte, max(n, 0))
		}
		b := body[:n]
		body = body[n:]
		return b
	}
	u16 := func() uint16 { return binary.BigEndian.Uint16(read(2)) }
	u32 := func() uint32 { return binary.BigEndian.Uint32(read(4)) }
	u64 := func() uint64 { return binary.BigEndian.Uint64(read(8)) }
	boolean := func() bool {
		b := read(1)[0]
		if b > 1 {
			err = ErrBadRequest
		}
		return b == 1
	}
	count := func() int {
		n := int(u16())
		if err == nil && n > MaxBatch {
			err = ErrTooLarge
		}
		if err == nil && n == 0 {
			err = ErrBadRequest
		}
		if err != nil {
			return 0
		}
		return n
	}
	if isRead(m.Type) {
		if m.Flags > 4 {
			return Msg{}, 0, ErrBadRequest
		}
	} else if m.Flags != 0 {
		return Msg{}, 0, ErrBadRequest
	}
	switch m.Type {
	case TypeHello:
		if string(read(4)) != "LIKE" {
			err = ErrBadRequest
		}
		m.Version, m.ClientID = u16(), u64()
	case TypeHello | ResponseBit:
		m.Version, m.MaxFrame, m.MaxInFlight, m.MaxBatch = u16(), u32(), u32(), u32()
	case TypePing, TypePing | ResponseBit, TypeStats:
	case TypeLike, TypeUnlike:
		m.Game, m.User, m.Seq = u64(), u64(), u64()
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		m.Changed, m.Count, m.Index = boolean(), u64(), u64()
	case TypeHas:
		m.Game, m.User = u64(), u64()
	case TypeHas | ResponseBit:
		m.Liked = []bool{boolean()}
	case TypeCount:
		m.Game = u64()
	case TypeCount | ResponseBit:
		m.Count = u64()
	case TypeHasMany, TypeCountMany:
		if m.Type == TypeHasMany {
			m.User = u64()
		}
		for range count() {
			m.Games = append(m.Games, u64())
		}
	case TypeHasMany | ResponseBit:
		for range count() {
			m.Liked = append(m.Liked, boolean())
		}
	case TypeCountMany | ResponseBit:
		for range count() {
			m.Counts = append(m.Counts, u64())
		}
	case TypeStats | ResponseBit:
		m.Stats = read(len(body))
	case TypeError:
		m.Err.Code = Code(u16())
		m.Err.Leader = string(read(int(u16())))
		m.Err.Message = string(read(int(u16())))
		if err == nil && m.Err.Code == 0 {
			err = ErrBadRequest
		}
	default:
		err = ErrBadRequest
	}
	if err == nil && len(body) != 0 {
		err = ErrBadRequest
	}
	if err != nil {
		return Msg{}, 0, err
	}
	return m, size, nil
}

// errClass returns the one sentinel err wraps, or err itself.
func errClass(err error) error {
	for _, s := range []error{ErrIncomplete, ErrBadRequest, ErrTooLarge} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// fuzzSeeds are the golden frames, some of them back to back, and inputs at
// the edges of every check.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds, all [][]byte
	for _, g := range readGolden(t) {
		seeds = append(seeds, g.frame)
		all = append(all, g.frame)
	}
	seeds = append(seeds,
		bytes.Join(all, nil),
		nil,
		[]byte{0, 0, 0},
		[]byte{0, 0, 0, 5, 2, 0, 0, 0, 0, 1},
		[]byte{0, 0x0F, 0xFF, 0xFC},
		[]byte{0, 0x10, 0, 0, 2, 0, 0, 0, 0, 1},
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		frameOf(TypeHasMany, 0, 1, u64(1), u16(MaxBatch+1)),
		frameOf(TypeCountMany, 0, 1, u16(0)),
		frameOf(TypeHasMany|ResponseBit, 0, 1, u16(2), []byte{1, 2}),
		frameOf(TypeHas, 0x05, 1, u64(1), u64(2)),
		frameOf(TypeLike, 0x01, 1, u64(1), u64(2), u64(3)),
		frameOf(TypeHello, 0, 1, []byte("LIKF"), u16(1), u64(1)),
		frameOf(TypeError, 0, 1, u16(0), u16(0), u16(0)),
		frameOf(TypeError, 0, 1, u16(3), u16(0xFFFF), u16(0)),
		frameOf(TypeStats|ResponseBit, 0, 1),
		frameOf(0xFF, 0, 1),
	)
	return seeds
}

// FuzzDecode: Decode never panics; it agrees with refDecode; an error leaves
// rest as buf; a decoded frame re-encodes to exactly the bytes consumed (the
// encoding is canonical); DecodeInto into a used Msg gives the same result.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, rest, err := Decode(data)
		ref, refSize, refErr := refDecode(data)
		if errClass(err) != errClass(refErr) {
			t.Fatalf("Decode err %v, reference %v", err, refErr)
		}
		reused := dirty()
		restInto, errInto := DecodeInto(data, &reused)
		if errClass(errInto) != errClass(err) || len(restInto) != len(rest) {
			t.Fatalf("DecodeInto(dirty) = %d, %v; Decode = %d, %v", len(restInto), errInto, len(rest), err)
		}
		if err != nil {
			if c := errClass(err); c != ErrIncomplete && c != ErrBadRequest && c != ErrTooLarge {
				t.Fatalf("Decode returned an unclassified error %v", err)
			}
			if len(rest) != len(data) {
				t.Fatalf("Decode failed with %v but consumed %d bytes", err, len(data)-len(rest))
			}
			return
		}
		consumed := data[:len(data)-len(rest)]
		if len(consumed) != refSize || !msgEqual(m, ref) || !msgEqual(reused, m) {
			t.Fatalf("Decode = %s (%d bytes)\nreference %s (%d bytes)\nDecodeInto %s",
				formatMsg(m), len(consumed), formatMsg(ref), refSize, formatMsg(reused))
		}
		out, err := AppendMsg(nil, &m)
		if err != nil {
			t.Fatalf("AppendMsg(Decode(%x)): %v", consumed, err)
		}
		if !bytes.Equal(out, consumed) {
			t.Fatalf("not canonical: decoded % x\nre-encoded % x", consumed, out)
		}
	})
}

// FuzzDecodeStream feeds data to a reader loop in chunks of random sizes
// (from chunkSeed): it must yield the same messages, and stop at the same
// kind of error, as decoding data in one piece.
func FuzzDecodeStream(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunkSeed uint64) {
		var want []Msg
		var wantErr error
		for buf := data; ; {
			m, rest, err := Decode(buf)
			if err != nil {
				wantErr = errClass(err)
				break
			}
			want = append(want, m)
			buf = rest
		}

		r := rand.New(rand.NewPCG(chunkSeed, 1))
		var (
			got    []Msg
			gotErr error = ErrIncomplete
			acc    []byte
			m      Msg
		)
	feed:
		for pos := 0; pos < len(data); {
			n := min(len(data)-pos, 1+r.IntN(1+r.IntN(64)))
			acc = append(acc, data[pos:pos+n]...)
			pos += n
			for {
				rest, err := DecodeInto(acc, &m)
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					gotErr = errClass(err)
					break feed
				}
				m.Stats = bytes.Clone(m.Stats) // acc is about to move
				got = append(got, normalize(m))
				m = Msg{}
				acc = append(acc[:0], rest...)
			}
		}
		if gotErr != wantErr || len(got) != len(want) {
			t.Fatalf("chunked: %d messages then %v; whole: %d then %v", len(got), gotErr, len(want), wantErr)
		}
		for i := range got {
			if !msgEqual(got[i], want[i]) {
				t.Fatalf("message %d: chunked %s, whole %s", i, formatMsg(got[i]), formatMsg(want[i]))
			}
		}
	})
}
