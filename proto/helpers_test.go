package proto

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// allTypes lists every message type of version 1, requests then responses.
var allTypes = []MsgType{
	TypeHello, TypePing, TypeLike, TypeUnlike, TypeHas, TypeCount, TypeHasMany, TypeCountMany, TypeStats,
	TypeHello | ResponseBit, TypePing | ResponseBit, TypeLike | ResponseBit, TypeUnlike | ResponseBit,
	TypeHas | ResponseBit, TypeCount | ResponseBit, TypeHasMany | ResponseBit, TypeCountMany | ResponseBit,
	TypeStats | ResponseBit, TypeError,
}

// isRead reports whether t is a read request, the only kind that may set
// flags. The tests keep their own list on purpose, as an oracle for
// MsgType.isRead.
func isRead(t MsgType) bool {
	switch t {
	case TypeHas, TypeCount, TypeHasMany, TypeCountMany:
		return true
	}
	return false
}

// normalize makes empty slices nil so that messages compare with DeepEqual
// whether they were built by hand or decoded.
func normalize(m Msg) Msg {
	if len(m.Games) == 0 {
		m.Games = nil
	}
	if len(m.Liked) == 0 {
		m.Liked = nil
	}
	if len(m.Counts) == 0 {
		m.Counts = nil
	}
	if len(m.Stats) == 0 {
		m.Stats = nil
	}
	return m
}

func msgEqual(a, b Msg) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

// formatMsg prints the meaningful fields of m, for golden-file comments and
// test failures.
func formatMsg(m Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v id=%d", m.Type, m.ID)
	if m.Flags != 0 {
		fmt.Fprintf(&b, " flags=0x%02x", m.Flags)
	}
	switch m.Type {
	case TypeHello:
		fmt.Fprintf(&b, " version=%d client_id=0x%016x", m.Version, m.ClientID)
	case TypeHello | ResponseBit:
		fmt.Fprintf(&b, " version=%d max_frame=%d max_in_flight=%d max_batch=%d", m.Version, m.MaxFrame, m.MaxInFlight, m.MaxBatch)
	case TypeLike, TypeUnlike:
		fmt.Fprintf(&b, " game=%d user=%d seq=%d", m.Game, m.User, m.Seq)
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		fmt.Fprintf(&b, " changed=%v count=%d index=%d", m.Changed, m.Count, m.Index)
	case TypeHas:
		fmt.Fprintf(&b, " game=%d user=%d", m.Game, m.User)
	case TypeHas | ResponseBit:
		fmt.Fprintf(&b, " liked=%v", m.Liked)
	case TypeCount:
		fmt.Fprintf(&b, " game=%d", m.Game)
	case TypeCount | ResponseBit:
		fmt.Fprintf(&b, " count=%d", m.Count)
	case TypeHasMany:
		fmt.Fprintf(&b, " user=%d games=%s", m.User, short(m.Games))
	case TypeCountMany:
		fmt.Fprintf(&b, " games=%s", short(m.Games))
	case TypeHasMany | ResponseBit:
		fmt.Fprintf(&b, " liked=%s", short(m.Liked))
	case TypeCountMany | ResponseBit:
		fmt.Fprintf(&b, " counts=%s", short(m.Counts))
	case TypeStats | ResponseBit:
		fmt.Fprintf(&b, " stats=%s", shortStr(string(m.Stats)))
	case TypeError:
		fmt.Fprintf(&b, " code=%v leader=%s message=%s", m.Err.Code, shortStr(m.Err.Leader), shortStr(m.Err.Message))
	}
	return b.String()
}

// short prints a slice, eliding the middle of long ones.
func short[T any](s []T) string {
	if len(s) <= 8 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v...%v(%d)", s[:4], s[len(s)-2:], len(s))
}

// shortStr quotes s, eliding the middle of long strings.
func shortStr(s string) string {
	if len(s) <= 64 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...%q(%d bytes)", s[:32], s[len(s)-16:], len(s))
}

// fieldSizes splits the body of the valid message m into its fields, for a
// hex dump with one group per field.
func fieldSizes(m Msg) []int {
	switch m.Type {
	case TypeHello:
		return []int{4, 2, 8}
	case TypeHello | ResponseBit:
		return []int{2, 4, 4, 4}
	case TypeLike, TypeUnlike:
		return []int{8, 8, 8}
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		return []int{1, 8, 8}
	case TypeHas:
		return []int{8, 8}
	case TypeHas | ResponseBit:
		return []int{1}
	case TypeCount, TypeCount | ResponseBit:
		return []int{8}
	case TypeHasMany:
		return append([]int{8, 2}, repeat(8, len(m.Games))...)
	case TypeCountMany:
		return append([]int{2}, repeat(8, len(m.Games))...)
	case TypeHasMany | ResponseBit:
		return append([]int{2}, repeat(1, len(m.Liked))...)
	case TypeCountMany | ResponseBit:
		return append([]int{2}, repeat(8, len(m.Counts))...)
	case TypeStats | ResponseBit:
		return []int{len(m.Stats)}
	case TypeError:
		return []int{2, 2, len(m.Err.Leader), 2, len(m.Err.Message)}
	}
	return nil
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// dumpFrame renders a valid frame as hex: the header on the first line, split
// into length, type, flags and id; then the body, one space-separated group
// per field, wrapped at 8 groups a line.
func dumpFrame(frame []byte, m Msg) string {
	var b strings.Builder
	h := frame[:HeaderSize]
	fmt.Fprintf(&b, "%x %x %x %x\n", h[0:4], h[4:5], h[5:6], h[6:10])
	body := frame[HeaderSize:]
	n := 0
	for _, size := range fieldSizes(m) {
		if size == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(hex.EncodeToString(body[:size]))
		body = body[size:]
		if n++; n == 8 {
			b.WriteByte('\n')
			n = 0
		}
	}
	if n > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

// parseHex reads hex digits, ignoring white space and, on every line,
// everything from a '#'.
func parseHex(text string) ([]byte, error) {
	var digits strings.Builder
	for line := range strings.Lines(text) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	return hex.DecodeString(digits.String())
}

// randU64 favours the edges of the range, where encoding bugs live.
func randU64(r *rand.Rand) uint64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return ^uint64(0)
	case 2:
		return uint64(r.IntN(1000))
	case 3:
		return 1 << r.IntN(64)
	}
	return r.Uint64()
}

// randBatch picks a batch length in [1, MaxBatch], usually small.
func randBatch(r *rand.Rand) int {
	switch r.IntN(16) {
	case 0:
		return MaxBatch
	case 1:
		return 1 + r.IntN(MaxBatch)
	}
	return 1 + r.IntN(16)
}

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randString returns a random string for ERROR fields, now and then of the
// largest length the wire allows.
func randString(r *rand.Rand) string {
	if r.IntN(64) == 0 {
		return string(randBytes(r, 0xFFFF))
	}
	return string(randBytes(r, 40))
}

// randMsg returns a random valid message of type t.
func randMsg(r *rand.Rand, t MsgType) Msg {
	m := Msg{Type: t, ID: uint32(randU64(r))}
	if isRead(t) {
		m.Flags = uint8(r.IntN(int(ConsistencyStale) + 1))
	}
	switch t {
	case TypeHello:
		m.Version, m.ClientID = uint16(r.Uint32()), randU64(r)
	case TypeHello | ResponseBit:
		m.Version, m.MaxFrame, m.MaxInFlight, m.MaxBatch = uint16(r.Uint32()), r.Uint32(), r.Uint32(), r.Uint32()
	case TypeLike, TypeUnlike:
		m.Game, m.User, m.Seq = randU64(r), randU64(r), randU64(r)
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		m.Changed, m.Count, m.Index = r.IntN(2) == 1, randU64(r), randU64(r)
	case TypeHas:
		m.Game, m.User = randU64(r), randU64(r)
	case TypeHas | ResponseBit:
		m.Liked = []bool{r.IntN(2) == 1}
	case TypeCount:
		m.Game = randU64(r)
	case TypeCount | ResponseBit:
		m.Count = randU64(r)
	case TypeHasMany, TypeCountMany:
		if t == TypeHasMany {
			m.User = randU64(r)
		}
		m.Games = make([]uint64, randBatch(r))
		for i := range m.Games {
			m.Games[i] = randU64(r)
		}
	case TypeHasMany | ResponseBit:
		m.Liked = make([]bool, randBatch(r))
		for i := range m.Liked {
			m.Liked[i] = r.IntN(2) == 1
		}
	case TypeCountMany | ResponseBit:
		m.Counts = make([]uint64, randBatch(r))
		for i := range m.Counts {
			m.Counts[i] = randU64(r)
		}
	case TypeStats | ResponseBit:
		m.Stats = randBytes(r, 256)
	case TypeError:
		m.Err = Error{Code: Code(1 + r.IntN(0xFFFF)), Leader: randString(r), Message: randString(r)}
		if r.IntN(2) == 0 {
			m.Err.Code = Code(1 + r.IntN(int(CodeVersion)))
		}
	}
	return m
}

// mustAppend encodes a message the test knows to be valid.
func mustAppend(t testing.TB, dst []byte, m Msg) []byte {
	t.Helper()
	out, err := AppendMsg(dst, &m)
	if err != nil {
		t.Fatalf("AppendMsg(%s): %v", formatMsg(m), err)
	}
	return out
}
