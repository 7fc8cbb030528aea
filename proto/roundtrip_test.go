package proto

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock); failures log the seed to replay")

// newRand returns a seeded generator and logs the seed, so that any failure
// can be replayed with -seed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with: go test ./proto -run '^%s$' -seed %d)", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// randStream returns n random valid messages and their frames concatenated.
func randStream(t testing.TB, r *rand.Rand, n int) ([]Msg, []byte) {
	msgs := make([]Msg, n)
	var stream []byte
	for i := range msgs {
		msgs[i] = randMsg(r, allTypes[r.IntN(len(allTypes))])
		stream = mustAppend(t, stream, msgs[i])
	}
	return msgs, stream
}

// TestRoundTrip: for random valid messages of every type,
// Decode(AppendMsg(m)) == m, with and without a reused Msg.
func TestRoundTrip(t *testing.T) {
	r := newRand(t)
	iters := 300
	if testing.Short() {
		iters = 30
	}
	var reused Msg
	for _, typ := range allTypes {
		for range iters {
			m := randMsg(r, typ)
			prefix := randBytes(r, 3)
			frame := mustAppend(t, prefix, m)
			if string(frame[:len(prefix)]) != string(prefix) {
				t.Fatalf("AppendMsg(%s) changed the bytes before it", formatMsg(m))
			}
			frame = frame[len(prefix):]
			got, rest, err := Decode(frame)
			if err != nil || len(rest) != 0 {
				t.Fatalf("Decode(AppendMsg(%s)) = rest %d bytes, err %v", formatMsg(m), len(rest), err)
			}
			if !msgEqual(got, m) {
				t.Fatalf("Decode(AppendMsg(m)):\n got %s\nwant %s", formatMsg(got), formatMsg(m))
			}
			if rest, err := DecodeInto(frame, &reused); err != nil || len(rest) != 0 || !msgEqual(reused, m) {
				t.Fatalf("DecodeInto(reused) = %s, %v; want %s", formatMsg(reused), err, formatMsg(m))
			}
		}
	}
}

// TestConcatenated decodes many frames from one buffer, in order, checking
// rest at every step.
func TestConcatenated(t *testing.T) {
	r := newRand(t)
	msgs, stream := randStream(t, r, 500)
	buf := stream
	var m Msg
	for i, want := range msgs {
		n, ok := FrameLen(buf)
		if !ok {
			t.Fatalf("frame %d: FrameLen not ok on %d bytes", i, len(buf))
		}
		rest, err := DecodeInto(buf, &m)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", i, formatMsg(want), err)
		}
		if len(rest) != len(buf)-n || len(rest) > 0 && &rest[0] != &buf[n] {
			t.Fatalf("frame %d: rest is %d bytes, want the %d after the frame", i, len(rest), len(buf)-n)
		}
		if !msgEqual(m, want) {
			t.Fatalf("frame %d:\n got %s\nwant %s", i, formatMsg(m), formatMsg(want))
		}
		buf = rest
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left after the last frame", len(buf))
	}
	if _, err := DecodeInto(buf, &m); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Decode(empty) = %v, want ErrIncomplete", err)
	}
}

// TestByteAtATime feeds a stream of frames one byte at a time into an
// accumulating buffer, as a reader with a tiny socket buffer would: Decode
// must say ErrIncomplete until the last byte of each frame arrives, and then
// return exactly that frame's message.
func TestByteAtATime(t *testing.T) {
	r := newRand(t)
	msgs, stream := randStream(t, r, 200)
	var (
		acc  []byte
		m    Msg
		next int // index in msgs of the next frame to complete
		end  int // offset in stream where that frame ends
	)
	frameEnd := func(start int) int { n, _ := FrameLen(stream[start:]); return start + n }
	end = frameEnd(0)
	for pos := range stream {
		acc = append(acc, stream[pos])
		rest, err := DecodeInto(acc, &m)
		if pos+1 < end {
			if !errors.Is(err, ErrIncomplete) || len(rest) != len(acc) {
				t.Fatalf("byte %d of frame %d (%s) ending at %d: err %v, rest %d; want ErrIncomplete",
					pos, next, formatMsg(msgs[next]), end, err, len(rest))
			}
			continue
		}
		if err != nil || len(rest) != 0 {
			t.Fatalf("frame %d complete at byte %d: err %v, rest %d", next, pos, err, len(rest))
		}
		if !msgEqual(m, msgs[next]) {
			t.Fatalf("frame %d:\n got %s\nwant %s", next, formatMsg(m), formatMsg(msgs[next]))
		}
		acc = acc[:0] // what a reader does once the buffer is consumed
		if next++; next < len(msgs) {
			end = frameEnd(end)
		}
	}
	if next != len(msgs) {
		t.Fatalf("decoded %d of %d frames", next, len(msgs))
	}
}

// TestDecodeIntoReuse checks that nothing of an earlier, larger message
// leaks into the next one decoded into the same Msg, and that capacity is
// reused.
func TestDecodeIntoReuse(t *testing.T) {
	var m Msg
	big := Msg{Type: TypeCountMany, ID: 1, Games: make([]uint64, 100)}
	if _, err := DecodeInto(mustAppend(t, nil, big), &m); err != nil {
		t.Fatal(err)
	}
	games := &m.Games[:1][0]
	if _, err := DecodeInto(AppendCountMany(nil, 2, 0, []uint64{9}), &m); err != nil {
		t.Fatal(err)
	}
	if &m.Games[0] != games {
		t.Error("DecodeInto did not reuse the capacity of m.Games")
	}
	want := Msg{Type: TypeCountMany, ID: 2, Games: []uint64{9}}
	if !msgEqual(m, want) {
		t.Errorf("got %s, want %s", formatMsg(m), formatMsg(want))
	}
	// A message with every field set, then a PING: the PING is clean.
	m = Msg{Version: 1, ClientID: 2, Game: 3, User: 4, Seq: 5, Changed: true, Count: 6, Index: 7,
		Liked: []bool{true}, Counts: []uint64{1}, Stats: []byte("x"), Err: Error{Code: 1, Message: "m"}}
	if _, err := DecodeInto(AppendEmpty(nil, TypePing, 8), &m); err != nil {
		t.Fatal(err)
	}
	if want := (Msg{Type: TypePing, ID: 8}); !msgEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

// TestDecodeCopiesStats checks Decode's promise that its result does not
// alias buf, and DecodeInto's that it does (no copy on the hot path).
func TestDecodeCopiesStats(t *testing.T) {
	frame := AppendStatsResp(nil, 1, []byte(`{"a":1}`))
	m, _, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var into Msg
	if _, err := DecodeInto(frame, &into); err != nil {
		t.Fatal(err)
	}
	clear(frame)
	if string(m.Stats) != `{"a":1}` {
		t.Errorf("Decode's Stats changed with buf: %q", m.Stats)
	}
	if string(into.Stats) != "\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("DecodeInto's Stats does not alias buf: %q", into.Stats)
	}
}
