package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
)

// NumSlots is the number of hash slots game ids map to. It is fixed for the
// life of a cluster: a slot is the unit that later moves between shards, so
// there must be many more slots than shards will ever be (16384, as Redis
// Cluster, gives 1/16384 granularity for rebalancing and still fits a u16).
const NumSlots = 16384

// SlotOf returns the slot of a game: xxhash64 of the id's 8 big-endian bytes,
// modulo NumSlots. Every client and node must compute it identically; it is
// part of the protocol's contract for cluster-aware clients (PROTOCOL.md).
func SlotOf(game uint64) uint16 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], game)
	return uint16(xxhash.Sum64(b[:]) % NumSlots)
}

// SlotTable maps every slot to the shard that owns it. It is data, not
// arithmetic, so that a slot can move to another shard by rewriting one
// entry. It is immutable once built: a move publishes a new table.
type SlotTable struct {
	shard [NumSlots]uint16
}

// NewSlotTable spreads the slots over n shards in contiguous ranges, the
// layout a fresh node starts with.
func NewSlotTable(n int) *SlotTable {
	t := &SlotTable{}
	for s := range t.shard {
		t.shard[s] = uint16(s * n / NumSlots)
	}
	return t
}

// Shard returns the shard that owns slot s.
func (t *SlotTable) Shard(s uint16) uint16 { return t.shard[s] }

// ShardOf returns the shard that owns a game.
func (t *SlotTable) ShardOf(game uint64) uint16 { return t.shard[SlotOf(game)] }

// NumShards returns 1 + the highest shard id the table names.
func (t *SlotTable) NumShards() int {
	m := uint16(0)
	for _, s := range t.shard {
		m = max(m, s)
	}
	return int(m) + 1
}

// The slot table file, all big-endian:
//
//	magic "LKSL" | version u16 (1) | slots u16 (16384) | slots × shard u16 | crc32c u32
//
// The CRC covers everything before it.
const (
	slotFileMagic   = "LKSL"
	slotFileVersion = 1
	slotFileSize    = 4 + 2 + 2 + 2*NumSlots + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the table in the slot file format.
func (t *SlotTable) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, slotFileSize)
	b = append(b, slotFileMagic...)
	b = binary.BigEndian.AppendUint16(b, slotFileVersion)
	b = binary.BigEndian.AppendUint16(b, NumSlots)
	for _, s := range t.shard {
		b = binary.BigEndian.AppendUint16(b, s)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary decodes a slot file, checking magic, version and CRC.
func (t *SlotTable) UnmarshalBinary(b []byte) error {
	if len(b) != slotFileSize || string(b[:4]) != slotFileMagic {
		return fmt.Errorf("%w: not a slot table (%d bytes)", ErrCorruptMeta, len(b))
	}
	if crc32.Checksum(b[:len(b)-4], castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("%w: slot table checksum mismatch", ErrCorruptMeta)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != slotFileVersion {
		return fmt.Errorf("%w: slot table version %d, this build reads %d", ErrCorruptMeta, v, slotFileVersion)
	}
	if n := binary.BigEndian.Uint16(b[6:]); n != NumSlots {
		return fmt.Errorf("%w: slot table has %d slots, want %d", ErrCorruptMeta, n, NumSlots)
	}
	for i := range t.shard {
		t.shard[i] = binary.BigEndian.Uint16(b[8+2*i:])
	}
	return nil
}

// writeFileAtomic writes data to path so that a crash leaves either the old
// file or the new one: write a temporary file, fsync it, rename it over path,
// fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadOrCreateSlots reads the slot table from path, or creates one for n
// shards when the file does not exist (a fresh node).
func loadOrCreateSlots(path string, n int) (t *SlotTable, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t = NewSlotTable(n)
		data, _ := t.MarshalBinary()
		if err := writeFileAtomic(path, data); err != nil {
			return nil, false, fmt.Errorf("write slot table: %w", err)
		}
		return t, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	t = &SlotTable{}
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return t, false, nil
}
