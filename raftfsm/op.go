package raftfsm

import (
	"encoding/binary"
	"fmt"
)

// OpKind says what an Op does.
type OpKind uint8

const (
	// OpLike adds User to Game's set (a checked add).
	OpLike OpKind = 1
	// OpUnlike removes User from Game's set (a checked remove).
	OpUnlike OpKind = 2
)

// String returns "like", "unlike" or "OpKind(n)".
func (k OpKind) String() string {
	switch k {
	case OpLike:
		return "like"
	case OpUnlike:
		return "unlike"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one write. ClientID+Seq identify it for exactly-once retries; Seq 0
// means "no dedup" (the op is applied every time it appears in the log).
type Op struct {
	Kind     OpKind
	Game     uint64
	User     uint64
	ClientID uint64
	Seq      uint64
}

// Result of one Op. Changed reports that membership changed; Count is the
// like count of the game after the op; Index is the raft log index of the
// entry that (first) applied it. Err is non-nil only for ops the FSM refused
// (ErrSeqExpired, ErrBadOp); then Changed is false, Count is the game's
// current count and Index the index of the refusing entry.
type Result struct {
	Changed bool
	Count   uint64
	Index   uint64
	Err     error
}

// BatchVersion is the format version byte that AppendBatch writes first.
const BatchVersion = 1

// minOpBytes is the smallest encoding of one op: kind + four 1-byte uvarints.
const minOpBytes = 5

// AppendBatch appends the log entry payload encoding of ops to dst and returns
// the extended slice. It allocates only if dst lacks capacity. Format:
//
//	batch = version:u8(=1) count:uvarint op*count
//	op    = kind:u8 game:uvarint user:uvarint client:uvarint seq:uvarint
func AppendBatch(dst []byte, ops []Op) []byte {
	dst = append(dst, BatchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for i := range ops {
		op := &ops[i]
		dst = append(dst, byte(op.Kind))
		dst = binary.AppendUvarint(dst, op.Game)
		dst = binary.AppendUvarint(dst, op.User)
		dst = binary.AppendUvarint(dst, op.ClientID)
		dst = binary.AppendUvarint(dst, op.Seq)
	}
	return dst
}

// DecodeBatch decodes a payload written by AppendBatch, appending the ops to
// dst[:0] and returning it. Errors wrap ErrBadEntry or ErrUnknownVersion; a
// payload with trailing bytes or an unknown OpKind is rejected whole.
func DecodeBatch(buf []byte, dst []Op) ([]Op, error) {
	dst = dst[:0]
	if len(buf) == 0 {
		return dst, fmt.Errorf("%w: empty payload", ErrBadEntry)
	}
	if buf[0] != BatchVersion {
		return dst, fmt.Errorf("%w: batch version %d", ErrUnknownVersion, buf[0])
	}
	p := buf[1:]
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return dst, fmt.Errorf("%w: bad op count", ErrBadEntry)
	}
	p = p[k:]
	if n > uint64(len(p)/minOpBytes) {
		return dst, fmt.Errorf("%w: op count %d exceeds payload", ErrBadEntry, n)
	}
	if uint64(cap(dst)) < n {
		dst = make([]Op, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		if len(p) == 0 {
			return dst, fmt.Errorf("%w: truncated op %d", ErrBadEntry, i)
		}
		op := Op{Kind: OpKind(p[0])}
		if op.Kind != OpLike && op.Kind != OpUnlike {
			return dst, fmt.Errorf("%w: op %d: unknown kind %d", ErrBadEntry, i, p[0])
		}
		p = p[1:]
		for _, f := range [...]*uint64{&op.Game, &op.User, &op.ClientID, &op.Seq} {
			v, k := binary.Uvarint(p)
			if k <= 0 {
				return dst, fmt.Errorf("%w: op %d: bad uvarint", ErrBadEntry, i)
			}
			*f = v
			p = p[k:]
		}
		dst = append(dst, op)
	}
	if len(p) != 0 {
		return dst, fmt.Errorf("%w: %d trailing bytes", ErrBadEntry, len(p))
	}
	return dst, nil
}
