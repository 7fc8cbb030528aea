package proto

import (
	"encoding/binary"
	"fmt"
)

// Encoders append one whole frame to dst and return the extended slice. They
// never allocate when dst has the capacity. They do not check limits: the
// caller passes at most MaxBatch games and messages under MaxFrameSize
// (AppendMsg checks, for tests and tools).

// header appends a frame header for a body of bodyLen bytes.
func header(dst []byte, t MsgType, flags uint8, id uint32, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(HeaderSize-4+bodyLen))
	dst = append(dst, byte(t), flags)
	return binary.BigEndian.AppendUint32(dst, id)
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendHello appends the HELLO that opens a connection.
func AppendHello(dst []byte, id uint32, version uint16, clientID uint64) []byte {
	dst = header(dst, TypeHello, 0, id, 4+2+8)
	dst = append(dst, Magic...)
	dst = binary.BigEndian.AppendUint16(dst, version)
	return binary.BigEndian.AppendUint64(dst, clientID)
}

// AppendHelloResp appends the server's answer to HELLO: the version both
// sides use and the server's limits.
func AppendHelloResp(dst []byte, id uint32, version uint16, maxFrame, maxInFlight, maxBatch uint32) []byte {
	dst = header(dst, TypeHello|ResponseBit, 0, id, 2+4+4+4)
	dst = binary.BigEndian.AppendUint16(dst, version)
	dst = binary.BigEndian.AppendUint32(dst, maxFrame)
	dst = binary.BigEndian.AppendUint32(dst, maxInFlight)
	return binary.BigEndian.AppendUint32(dst, maxBatch)
}

// AppendEmpty appends a frame with no body: PING, PONG (TypePing|ResponseBit), STATS.
func AppendEmpty(dst []byte, t MsgType, id uint32) []byte {
	return header(dst, t, 0, id, 0)
}

// AppendWrite appends a LIKE or UNLIKE (t) request.
func AppendWrite(dst []byte, t MsgType, id uint32, game, user, seq uint64) []byte {
	dst = header(dst, t, 0, id, 24)
	dst = binary.BigEndian.AppendUint64(dst, game)
	dst = binary.BigEndian.AppendUint64(dst, user)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// AppendWriteResp appends the answer to a LIKE or UNLIKE (t is the request type).
func AppendWriteResp(dst []byte, t MsgType, id uint32, changed bool, count, index uint64) []byte {
	dst = header(dst, t|ResponseBit, 0, id, 17)
	dst = appendBool(dst, changed)
	dst = binary.BigEndian.AppendUint64(dst, count)
	return binary.BigEndian.AppendUint64(dst, index)
}

// AppendHas appends a HAS request.
func AppendHas(dst []byte, id uint32, c Consistency, game, user uint64) []byte {
	dst = header(dst, TypeHas, uint8(c), id, 16)
	dst = binary.BigEndian.AppendUint64(dst, game)
	return binary.BigEndian.AppendUint64(dst, user)
}

// AppendHasResp appends the answer to HAS.
func AppendHasResp(dst []byte, id uint32, liked bool) []byte {
	dst = header(dst, TypeHas|ResponseBit, 0, id, 1)
	return appendBool(dst, liked)
}

// AppendCount appends a COUNT request.
func AppendCount(dst []byte, id uint32, c Consistency, game uint64) []byte {
	dst = header(dst, TypeCount, uint8(c), id, 8)
	return binary.BigEndian.AppendUint64(dst, game)
}

// AppendCountResp appends the answer to COUNT.
func AppendCountResp(dst []byte, id uint32, count uint64) []byte {
	dst = header(dst, TypeCount|ResponseBit, 0, id, 8)
	return binary.BigEndian.AppendUint64(dst, count)
}

// AppendHasMany appends a HAS_MANY request: has user liked each of games?
func AppendHasMany(dst []byte, id uint32, c Consistency, user uint64, games []uint64) []byte {
	dst = header(dst, TypeHasMany, uint8(c), id, 8+2+8*len(games))
	dst = binary.BigEndian.AppendUint64(dst, user)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(games)))
	for _, g := range games {
		dst = binary.BigEndian.AppendUint64(dst, g)
	}
	return dst
}

// AppendHasManyResp appends the answer to HAS_MANY, one flag per game asked.
func AppendHasManyResp(dst []byte, id uint32, liked []bool) []byte {
	dst = header(dst, TypeHasMany|ResponseBit, 0, id, 2+len(liked))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(liked)))
	for _, v := range liked {
		dst = appendBool(dst, v)
	}
	return dst
}

// AppendCountMany appends a COUNT_MANY request.
func AppendCountMany(dst []byte, id uint32, c Consistency, games []uint64) []byte {
	dst = header(dst, TypeCountMany, uint8(c), id, 2+8*len(games))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(games)))
	for _, g := range games {
		dst = binary.BigEndian.AppendUint64(dst, g)
	}
	return dst
}

// AppendCountManyResp appends the answer to COUNT_MANY, one count per game asked.
func AppendCountManyResp(dst []byte, id uint32, counts []uint64) []byte {
	dst = header(dst, TypeCountMany|ResponseBit, 0, id, 2+8*len(counts))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(counts)))
	for _, c := range counts {
		dst = binary.BigEndian.AppendUint64(dst, c)
	}
	return dst
}

// AppendStatsResp appends the answer to STATS: a JSON object.
func AppendStatsResp(dst []byte, id uint32, json []byte) []byte {
	dst = header(dst, TypeStats|ResponseBit, 0, id, len(json))
	return append(dst, json...)
}

// AppendError appends an ERROR frame answering request id (0 when the error
// is about the connection, not one request). leader and msg are cut to
// 65535 bytes.
func AppendError(dst []byte, id uint32, code Code, leader, msg string) []byte {
	leader, msg = leader[:min(len(leader), 0xFFFF)], msg[:min(len(msg), 0xFFFF)]
	dst = header(dst, TypeError, 0, id, 2+2+len(leader)+2+len(msg))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(leader)))
	dst = append(dst, leader...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}

// AppendMsg appends any message from its decoded form, the inverse of
// Decode. It is for tests and tools; the hot paths call the typed encoders.
// It returns an error wrapping ErrBadRequest or ErrTooLarge for a message
// that Decode would refuse.
func AppendMsg(dst []byte, m *Msg) ([]byte, error) {
	start := len(dst)
	// The typed encoders take no flags outside the read requests and cut
	// batch lengths to 16 bits: refuse what they would silently change.
	if !m.Type.isRead() && m.Flags != 0 {
		return dst, badf("flags 0x%02x set on a %v message, which takes none", m.Flags, m.Type)
	}
	n := 0
	switch m.Type {
	case TypeHasMany, TypeCountMany:
		n = len(m.Games)
	case TypeHasMany | ResponseBit:
		n = len(m.Liked)
	case TypeCountMany | ResponseBit:
		n = len(m.Counts)
	}
	if n > MaxBatch {
		return dst, fmt.Errorf("%w: batch of %d exceeds the limit of %d", ErrTooLarge, n, MaxBatch)
	}
	switch m.Type {
	case TypeHello:
		dst = AppendHello(dst, m.ID, m.Version, m.ClientID)
	case TypeHello | ResponseBit:
		dst = AppendHelloResp(dst, m.ID, m.Version, m.MaxFrame, m.MaxInFlight, m.MaxBatch)
	case TypePing, TypePing | ResponseBit, TypeStats:
		dst = AppendEmpty(dst, m.Type, m.ID)
	case TypeLike, TypeUnlike:
		dst = AppendWrite(dst, m.Type, m.ID, m.Game, m.User, m.Seq)
	case TypeLike | ResponseBit, TypeUnlike | ResponseBit:
		dst = AppendWriteResp(dst, m.Type.Request(), m.ID, m.Changed, m.Count, m.Index)
	case TypeHas:
		dst = AppendHas(dst, m.ID, Consistency(m.Flags), m.Game, m.User)
	case TypeHas | ResponseBit:
		if len(m.Liked) != 1 {
			return dst, badf("HAS response carries %d results, want 1", len(m.Liked))
		}
		dst = AppendHasResp(dst, m.ID, m.Liked[0])
	case TypeCount:
		dst = AppendCount(dst, m.ID, Consistency(m.Flags), m.Game)
	case TypeCount | ResponseBit:
		dst = AppendCountResp(dst, m.ID, m.Count)
	case TypeHasMany:
		dst = AppendHasMany(dst, m.ID, Consistency(m.Flags), m.User, m.Games)
	case TypeHasMany | ResponseBit:
		dst = AppendHasManyResp(dst, m.ID, m.Liked)
	case TypeCountMany:
		dst = AppendCountMany(dst, m.ID, Consistency(m.Flags), m.Games)
	case TypeCountMany | ResponseBit:
		dst = AppendCountManyResp(dst, m.ID, m.Counts)
	case TypeStats | ResponseBit:
		dst = AppendStatsResp(dst, m.ID, m.Stats)
	case TypeError:
		dst = AppendError(dst, m.ID, m.Err.Code, m.Err.Leader, m.Err.Message)
	default:
		return dst, badf("unknown message type 0x%02x", uint8(m.Type))
	}
	// Validate by decoding what was written: one definition of "valid".
	var check Msg
	if _, err := DecodeInto(dst[start:], &check); err != nil {
		return dst[:start], err
	}
	return dst, nil
}
