package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/hashicorp/raft"
)

// Byte formats of the snapshot database; see the package doc for drawings.
const (
	formatKeyPrefix = 'v'
	metaKeyPrefix   = 'm'
	chunkKeyPrefix  = 'd'

	// dbFormatVersion is stored under the format key.
	dbFormatVersion = 1
	// metaFormatVersion is the first byte of every meta record.
	metaFormatVersion = 1

	idLen          = 24                     // term u64 | index u64 | created u64
	shardPrefixLen = 1 + 4                  // prefix byte | shard
	idKeyLen       = shardPrefixLen + idLen // meta key, and chunk key without chunk number
	chunkKeyLen    = idKeyLen + 4
	crcLen         = 4
	metaFixedLen   = 50 // bytes before the configuration
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshotID is the binary snapshot id: it sorts by (term, index, created).
type snapshotID [idLen]byte

func makeSnapshotID(term, index uint64, created int64) snapshotID {
	var id snapshotID
	binary.BigEndian.PutUint64(id[0:], term)
	binary.BigEndian.PutUint64(id[8:], index)
	binary.BigEndian.PutUint64(id[16:], uint64(created))
	return id
}

func (id snapshotID) term() uint64  { return binary.BigEndian.Uint64(id[0:]) }
func (id snapshotID) index() uint64 { return binary.BigEndian.Uint64(id[8:]) }

// String is the id raft sees: fixed-width hex, so that string order is
// byte order.
func (id snapshotID) String() string {
	return fmt.Sprintf("%016x-%016x-%016x", id.term(), id.index(), binary.BigEndian.Uint64(id[16:]))
}

// parseSnapshotID is the inverse of snapshotID.String.
func parseSnapshotID(s string) (snapshotID, bool) {
	var id snapshotID
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return id, false
	}
	for i, p := range parts {
		if len(p) != 16 {
			return id, false
		}
		v, err := strconv.ParseUint(p, 16, 64)
		if err != nil {
			return id, false
		}
		binary.BigEndian.PutUint64(id[8*i:], v)
	}
	return id, true
}

func appendShardPrefix(dst []byte, prefix byte, shard uint32) []byte {
	dst = append(dst, prefix)
	return binary.BigEndian.AppendUint32(dst, shard)
}

func appendMetaKey(dst []byte, shard uint32, id snapshotID) []byte {
	return append(appendShardPrefix(dst, metaKeyPrefix, shard), id[:]...)
}

// appendChunkPrefix appends the prefix shared by all chunk keys of a snapshot.
func appendChunkPrefix(dst []byte, shard uint32, id snapshotID) []byte {
	return append(appendShardPrefix(dst, chunkKeyPrefix, shard), id[:]...)
}

func appendChunkKey(dst []byte, shard uint32, id snapshotID, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(appendChunkPrefix(dst, shard, id), chunk)
}

// prefixEnd returns the smallest key greater than every key starting with p,
// or nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// idFromKey extracts the snapshot id of a meta or chunk key.
func idFromKey(key []byte) (snapshotID, bool) {
	var id snapshotID
	if len(key) < idKeyLen {
		return id, false
	}
	copy(id[:], key[shardPrefixLen:idKeyLen])
	return id, true
}

// chunkCRC is the checksum stored after a chunk's data.
func chunkCRC(key, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, data)
}

// snapshotMeta is the decoded meta record.
type snapshotMeta struct {
	version            raft.SnapshotVersion
	index, term        uint64
	configurationIndex uint64
	size               uint64
	chunks             uint32
	chunkSize          uint32
	dataCRC            uint32
	configuration      []byte // raft.EncodeConfiguration
	decoded            raft.Configuration
}

// appendMeta appends the encoded meta record m to dst.
func appendMeta(dst []byte, m *snapshotMeta) []byte {
	start := len(dst)
	dst = append(dst, metaFormatVersion, byte(m.version))
	dst = binary.BigEndian.AppendUint64(dst, m.index)
	dst = binary.BigEndian.AppendUint64(dst, m.term)
	dst = binary.BigEndian.AppendUint64(dst, m.configurationIndex)
	dst = binary.BigEndian.AppendUint64(dst, m.size)
	dst = binary.BigEndian.AppendUint32(dst, m.chunks)
	dst = binary.BigEndian.AppendUint32(dst, m.chunkSize)
	dst = binary.BigEndian.AppendUint32(dst, m.dataCRC)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.configuration)))
	dst = append(dst, m.configuration...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeMeta decodes a meta record, checking its checksum and internal
// consistency. Errors wrap ErrCorruptSnapshot or ErrUnsupportedVersion.
func decodeMeta(buf []byte) (*snapshotMeta, error) {
	if len(buf) < metaFixedLen+crcLen {
		return nil, fmt.Errorf("%w: meta record is %d bytes, want at least %d", ErrCorruptSnapshot, len(buf), metaFixedLen+crcLen)
	}
	body, sum := buf[:len(buf)-crcLen], binary.BigEndian.Uint32(buf[len(buf)-crcLen:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: meta record checksum %08x, stored %08x", ErrCorruptSnapshot, got, sum)
	}
	if body[0] != metaFormatVersion {
		return nil, fmt.Errorf("%w: meta record format %d", ErrUnsupportedVersion, body[0])
	}
	m := &snapshotMeta{
		version:            raft.SnapshotVersion(body[1]),
		index:              binary.BigEndian.Uint64(body[2:]),
		term:               binary.BigEndian.Uint64(body[10:]),
		configurationIndex: binary.BigEndian.Uint64(body[18:]),
		size:               binary.BigEndian.Uint64(body[26:]),
		chunks:             binary.BigEndian.Uint32(body[34:]),
		chunkSize:          binary.BigEndian.Uint32(body[38:]),
		dataCRC:            binary.BigEndian.Uint32(body[42:]),
	}
	n := binary.BigEndian.Uint32(body[46:])
	if uint64(n) != uint64(len(body)-metaFixedLen) {
		return nil, fmt.Errorf("%w: meta record configuration length %d, record has %d bytes for it",
			ErrCorruptSnapshot, n, len(body)-metaFixedLen)
	}
	m.configuration = bytes.Clone(body[metaFixedLen:])
	var err error
	if m.decoded, err = decodeConfiguration(m.configuration); err != nil {
		return nil, err
	}
	if m.chunkSize == 0 || uint64(m.chunks) != (m.size+uint64(m.chunkSize)-1)/uint64(m.chunkSize) {
		return nil, fmt.Errorf("%w: meta record says %d bytes in %d chunks of %d",
			ErrCorruptSnapshot, m.size, m.chunks, m.chunkSize)
	}
	return m, nil
}

// raftMeta converts m to what raft sees.
func (m *snapshotMeta) raftMeta(id snapshotID) *raft.SnapshotMeta {
	return &raft.SnapshotMeta{
		Version:            m.version,
		ID:                 id.String(),
		Index:              m.index,
		Term:               m.term,
		Configuration:      m.decoded.Clone(),
		ConfigurationIndex: m.configurationIndex,
		Size:               int64(m.size),
	}
}

// decodeConfiguration is raft.DecodeConfiguration, which panics on bad input,
// turned into an error wrapping ErrCorruptSnapshot.
func decodeConfiguration(buf []byte) (c raft.Configuration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: meta record configuration: %v", ErrCorruptSnapshot, r)
		}
	}()
	return raft.DecodeConfiguration(buf), nil
}
