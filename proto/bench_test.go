package proto

import "testing"

// The hot paths must not allocate: run with
//
//	go test ./proto -run XXX -bench . -benchmem
//
// DecodeInto with a reused Msg and the Append* encoders with a reused buffer
// report 0 allocs/op; the tests in TestNoAllocs enforce it.

func BenchmarkDecodeHas(b *testing.B) {
	frame := AppendHas(nil, 1, ConsistencyDefault, 42, 1001)
	var m Msg
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInto(frame, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHas(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHas(buf[:0], 1, ConsistencyDefault, 42, 1001)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeHasMany(b *testing.B) {
	games := make([]uint64, 64)
	for i := range games {
		games[i] = uint64(i) * 7919
	}
	frame := AppendHasMany(nil, 1, ConsistencyDefault, 1001, games)
	var m Msg
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInto(frame, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendWriteResp(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendWriteResp(buf[:0], TypeLike, 1, true, 17, 12345)
	}
	b.SetBytes(int64(len(buf)))
}

// TestNoAllocs holds the hot paths to zero allocations, so that a change
// that adds one fails the tests, not just a benchmark nobody reads.
func TestNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	games := make([]uint64, 64)
	liked := make([]bool, 64)
	buf := make([]byte, 0, 1024)
	var frames [][]byte
	for _, g := range readGolden(t) {
		if MsgType(g.frame[4]) != TypeError { // ERROR strings are copied by design
			frames = append(frames, g.frame)
		}
	}
	frames = append(frames, AppendHasMany(nil, 1, 0, 1, games), AppendCountMany(nil, 1, 0, games),
		AppendHasManyResp(nil, 1, liked), AppendCountManyResp(nil, 1, games))
	var m Msg
	for _, f := range frames { // grow m's slices once
		if _, err := DecodeInto(f, &m); err != nil {
			t.Fatal(err)
		}
	}
	for name, fn := range map[string]func(){
		"DecodeInto": func() {
			for _, f := range frames {
				if _, err := DecodeInto(f, &m); err != nil {
					t.Fatal(err)
				}
			}
		},
		"DecodeInto incomplete": func() { _, _ = DecodeInto(frames[0][:5], &m) },
		"Append": func() {
			buf = AppendHello(buf[:0], 1, Version, 2)
			buf = AppendHelloResp(buf, 1, Version, 1, 2, 3)
			buf = AppendEmpty(buf, TypePing, 1)
			buf = AppendWrite(buf, TypeLike, 1, 2, 3, 4)
			buf = AppendWriteResp(buf, TypeLike, 1, true, 2, 3)
			buf = AppendHas(buf, 1, 0, 2, 3)
			buf = AppendHasResp(buf, 1, true)
			buf = AppendCount(buf, 1, 0, 2)
			buf = AppendCountResp(buf, 1, 2)
			buf = AppendHasMany(buf, 1, 0, 2, games)
			buf = AppendHasManyResp(buf, 1, liked)
			buf = AppendCountMany(buf, 1, 0, games)
			buf = AppendCountManyResp(buf, 1, games)
			buf = AppendStatsResp(buf, 1, []byte("{}"))
			buf = AppendError(buf, 1, CodeNotLeader, "10.0.0.2:7070", "not leader")
		},
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
}
