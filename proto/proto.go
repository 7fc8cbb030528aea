package proto

import (
	"encoding/binary"
	"fmt"
)

// Version is the protocol version this package speaks. MinVersion is the
// oldest it still accepts. A HELLO names the newest version the client
// speaks; the server answers with the version both will use.
const (
	Version    uint16 = 1
	MinVersion uint16 = 1
)

// Magic opens every HELLO body, so a stray connection (an HTTP client, a Redis
// client) is told apart from a likes client on its first frame.
const Magic = "LIKE"

// Limits of the protocol itself. A server may announce lower limits in its
// HELLO response; it never accepts more.
const (
	// HeaderSize is the fixed part of every frame: length, type, flags, id.
	HeaderSize = 10
	// MaxFrameSize bounds length+4, the whole frame. 1 MiB holds a full
	// MaxBatch page of COUNT_MANY with room to spare; larger frames would
	// let one request monopolise a connection's buffers.
	MaxFrameSize = 1 << 20
	// MaxBatch bounds the games in one HAS_MANY or COUNT_MANY: one page of
	// a game list. It fits the u16 count field.
	MaxBatch = 4096
)

// MsgType is the type byte of a frame.
type MsgType uint8

// Request types. A response has type 0x80|request type, or TypeError.
const (
	TypeHello     MsgType = 0x01
	TypePing      MsgType = 0x02
	TypeLike      MsgType = 0x03
	TypeUnlike    MsgType = 0x04
	TypeHas       MsgType = 0x05
	TypeCount     MsgType = 0x06
	TypeHasMany   MsgType = 0x07
	TypeCountMany MsgType = 0x08
	TypeStats     MsgType = 0x09
	TypeError     MsgType = 0x7F

	// ResponseBit marks a response frame.
	ResponseBit MsgType = 0x80
)

// IsResponse reports whether t is a response type (including TypeError).
func (t MsgType) IsResponse() bool { return t&ResponseBit != 0 || t == TypeError }

// isRead reports whether t is a read request, the only kind that may set
// flags (the consistency bits).
func (t MsgType) isRead() bool {
	switch t {
	case TypeHas, TypeCount, TypeHasMany, TypeCountMany:
		return true
	}
	return false
}

// Request returns the request type a response type answers.
func (t MsgType) Request() MsgType { return t &^ ResponseBit }

// Response returns the response type that answers request type t.
func (t MsgType) Response() MsgType { return t | ResponseBit }

func (t MsgType) String() string {
	if t == TypeError {
		return "ERROR"
	}
	name := ""
	switch t.Request() {
	case TypeHello:
		name = "HELLO"
	case TypePing:
		name = "PING"
	case TypeLike:
		name = "LIKE"
	case TypeUnlike:
		name = "UNLIKE"
	case TypeHas:
		name = "HAS"
	case TypeCount:
		name = "COUNT"
	case TypeHasMany:
		name = "HAS_MANY"
	case TypeCountMany:
		name = "COUNT_MANY"
	case TypeStats:
		name = "STATS"
	default:
		return fmt.Sprintf("TYPE_0x%02x", uint8(t))
	}
	if t&ResponseBit != 0 {
		name += "_RESP"
	}
	return name
}

// Consistency is the read consistency a read request asks for, carried in
// bits 0-2 of the flags byte. Version 1 servers serve every read from the
// local in-memory state of the shard's leader, which on a single node is the
// latest applied state; the other levels are reserved so that replicated
// clusters can add them without a new frame layout.
type Consistency uint8

const (
	// ConsistencyDefault lets the server choose; in version 1 it is a read of
	// the local state of the leader.
	ConsistencyDefault Consistency = 0
	// Reserved for later versions; a version 1 server answers BAD_REQUEST.
	ConsistencyLinearizable  Consistency = 1
	ConsistencyLeader        Consistency = 2
	ConsistencyReadYourWrite Consistency = 3
	ConsistencyStale         Consistency = 4

	consistencyMask = 0x07
)

// Msg is any frame, decoded. Only the fields of its Type are meaningful.
// Slices (Games, Liked, Counts, Stats, Leader/Message bytes) alias or reuse
// memory as documented on DecodeInto.
type Msg struct {
	Type  MsgType
	Flags uint8
	ID    uint32

	// HELLO request and response.
	Version     uint16
	ClientID    uint64 // request
	MaxFrame    uint32 // response
	MaxInFlight uint32 // response
	MaxBatch    uint32 // response

	// Requests.
	Game  uint64   // LIKE, UNLIKE, HAS, COUNT
	User  uint64   // LIKE, UNLIKE, HAS, HAS_MANY
	Seq   uint64   // LIKE, UNLIKE
	Games []uint64 // HAS_MANY, COUNT_MANY

	// Responses.
	Changed bool     // LIKE/UNLIKE
	Count   uint64   // LIKE/UNLIKE (after the write), COUNT
	Index   uint64   // LIKE/UNLIKE: Raft log index that applied the write
	Liked   []bool   // HAS (one element), HAS_MANY
	Counts  []uint64 // COUNT_MANY
	Stats   []byte   // STATS response: JSON
	Err     Error    // ERROR
}

// Consistency returns the read consistency named by m's flags.
func (m *Msg) Consistency() Consistency { return Consistency(m.Flags & consistencyMask) }

// Decode decodes the first frame in buf. It returns ErrIncomplete (and buf
// untouched) when buf holds only part of a frame, an error wrapping
// ErrTooLarge or ErrBadRequest when the frame is invalid, and otherwise the
// message and the bytes after the frame. The returned message's slices are
// freshly allocated and never alias buf; see DecodeInto for the
// allocation-free form. On an invalid frame the message carries the header
// fields as DecodeInto documents.
func Decode(buf []byte) (Msg, []byte, error) {
	var m Msg
	rest, err := DecodeInto(buf, &m)
	if m.Stats != nil {
		m.Stats = append([]byte{}, m.Stats...)
	}
	return m, rest, err
}

// FrameLen reports the total size of the frame at the start of buf, once at
// least 4 bytes are there; ok is false before that. Readers use it to size
// their buffers. It does not validate the length.
func FrameLen(buf []byte) (n int, ok bool) {
	if len(buf) < 4 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(buf)) + 4, true
}

// DecodeInto is Decode without allocation: it overwrites *m, reusing the
// capacity of m.Games, m.Liked and m.Counts, and m.Stats aliases buf (copy it
// if buf is reused before m is done with). Error strings are copied, so
// decoding an ERROR frame allocates.
//
// On ErrIncomplete, *m is untouched. On any other error, rest is buf and *m
// holds only the header fields (Type, Flags, ID) when buf holds the frame's
// whole 10-byte header, and zero ones otherwise, so that a server can answer
// the request id as PROTOCOL.md requires; the other fields are zero.
func DecodeInto(buf []byte, m *Msg) (rest []byte, err error) {
	return DecodeIntoMax(buf, m, MaxFrameSize)
}

// DecodeIntoMax is DecodeInto with a frame size limit below MaxFrameSize
// (a server before HELLO accepts only small frames): a larger frame fails
// with ErrTooLarge as soon as its length field is there.
func DecodeIntoMax(buf []byte, m *Msg, maxFrame int) (rest []byte, err error) {
	if len(buf) < 4 {
		return buf, ErrIncomplete
	}
	n := binary.BigEndian.Uint32(buf)
	if limit := uint64(min(maxFrame, MaxFrameSize)); uint64(n)+4 > limit {
		resetHeader(m, buf)
		return buf, fmt.Errorf("%w: frame of %d bytes exceeds the %d byte limit", ErrTooLarge, uint64(n)+4, limit)
	}
	if n < HeaderSize-4 {
		resetHeader(m, nil) // the bytes after the length are not a header
		return buf, badf("frame length %d below the %d byte header", n, HeaderSize-4)
	}
	if len(buf) < int(n)+4 {
		return buf, ErrIncomplete
	}
	frame, rest := buf[4:4+n], buf[4+n:]
	resetHeader(m, buf)
	if err := decodeBody(m, frame[6:]); err != nil {
		resetHeader(m, buf)
		return buf, fmt.Errorf("%v frame: %w", m.Type, err)
	}
	return rest, nil
}

// resetHeader zeroes *m, keeping the capacity of its slices, and fills in the
// header fields from buf when buf holds a whole header.
func resetHeader(m *Msg, buf []byte) {
	games, liked, counts := m.Games[:0], m.Liked[:0], m.Counts[:0]
	*m = Msg{Games: games, Liked: liked, Counts: counts}
	if len(buf) >= HeaderSize {
		m.Type, m.Flags, m.ID = MsgType(buf[4]), buf[5], binary.BigEndian.Uint32(buf[6:10])
	}
}

// body is a cursor over a frame body. Every read checks the length; the first
// short read sets err and later reads return zero.
type body struct {
	b   []byte
	err error
}

func (d *body) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.err = badf("body ends inside %s", what)
		return false
	}
	return true
}

func (d *body) u8(what string) uint8 {
	if !d.need(1, what) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *body) u16(what string) uint16 {
	if !d.need(2, what) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *body) u32(what string) uint32 {
	if !d.need(4, what) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *body) u64(what string) uint64 {
	if !d.need(8, what) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *body) bool(what string) bool {
	v := d.u8(what)
	if d.err == nil && v > 1 {
		d.err = badf("%s is %d, want 0 or 1", what, v)
	}
	return v == 1
}

func (d *body) str(what string) string {
	n := int(d.u16(what + " length"))
	if !d.need(n, what) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a batch length and checks it against MaxBatch and the bytes
// left, so a lying count cannot make the decoder allocate.
func (d *body) count(elem int) int {
	n := int(d.u16("count"))
	if d.err != nil {
		return 0
	}
	if n > MaxBatch {
		d.err = fmt.Errorf("%w: batch of %d exceeds the limit of %d", ErrTooLarge, n, MaxBatch)
		return 0
	}
	if n == 0 {
		d.err = badf("empty batch")
		return 0
	}
	if !d.need(n*elem, "batch") {
		return 0
	}
	return n
}

func decodeBody(m *Msg, b []byte) error {
	d := body{b: b}
	t := m.Type
	// Only read requests may set flags, and only the consistency bits.
	switch {
	case t.isRead():
		if m.Flags&^consistencyMask != 0 {
			return badf("reserved flag bits 0x%02x set", m.Flags&^consistencyMask)
		}
		if m.Consistency() > ConsistencyStale {
			return badf("unknown consistency %d", m.Consistency())
		}
	case m.Flags != 0:
		return badf("flags 0x%02x set on a message that takes none", m.Flags)
	}
	switch t {
	case TypeHello:
		if d.need(4, "magic") && string(d.b[:4]) != Magic {
			return badf("HELLO magic %q, want %q", d.b[:4], Magic)
		}
		d.b = d.b[min(4, len(d.b)):]
		m.Version = d.u16("version")
		m.ClientID = d.u64("client id")
	case TypeHello | ResponseBit:
		m.Version = d.u16("version")
		m.MaxFrame = d.u32("max frame")
		m.MaxInFlight = d.u32("max in-flight")
		m.MaxBatch = d.u32("max batch")
	case TypePing, TypePing | ResponseBit, TypeStats:
	case TypeLike, TypeUnlike:
		m.Game = d.u64("game")
		m.User = d.u64("user")
		m.Seq = d.u64("seq")
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		m.Changed = d.bool("changed")
		m.Count = d.u64("count")
		m.Index = d.u64("index")
	case TypeHas:
		m.Game = d.u64("game")
		m.User = d.u64("user")
	case TypeHas | ResponseBit:
		m.Liked = append(m.Liked, d.bool("liked"))
	case TypeCount:
		m.Game = d.u64("game")
	case TypeCount | ResponseBit:
		m.Count = d.u64("count")
	case TypeHasMany, TypeCountMany:
		if t == TypeHasMany {
			m.User = d.u64("user")
		}
		n := d.count(8)
		for i := 0; i < n; i++ {
			m.Games = append(m.Games, d.u64("game"))
		}
	case TypeHasMany | ResponseBit:
		n := d.count(1)
		for i := 0; i < n; i++ {
			m.Liked = append(m.Liked, d.bool("liked"))
		}
	case TypeCountMany | ResponseBit:
		n := d.count(8)
		for i := 0; i < n; i++ {
			m.Counts = append(m.Counts, d.u64("count"))
		}
	case TypeStats | ResponseBit:
		m.Stats, d.b = d.b, nil
	case TypeError:
		m.Err.Code = Code(d.u16("code"))
		m.Err.Leader = d.str("leader")
		m.Err.Message = d.str("message")
		if d.err == nil && m.Err.Code == 0 {
			return badf("error code 0")
		}
	default:
		return badf("unknown message type 0x%02x", uint8(t))
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return badf("%d trailing bytes after the body", len(d.b))
	}
	return nil
}
