package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// rawGet returns a copy of the value stored under key.
func rawGet(t *testing.T, db *SnapshotDB, key []byte) []byte {
	t.Helper()
	v, c, err := db.db.Get(key)
	if err != nil {
		t.Fatalf("get %x: %v", key, err)
	}
	defer c.Close()
	return bytes.Clone(v)
}

func rawSet(t *testing.T, db *SnapshotDB, key, val []byte) {
	t.Helper()
	if err := db.db.Set(key, val, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotCorruptionDetected(t *testing.T) {
	const chunk, chunks = 64, 5
	type damage func(t *testing.T, db *SnapshotDB, shard uint32, id snapshotID)
	chunkKey := func(shard uint32, id snapshotID, n uint32) []byte { return appendChunkKey(nil, shard, id, n) }
	cases := []struct {
		name string
		// first chunk whose bytes must not be delivered (chunks means all
		// data may be delivered but the final Read must fail)
		badChunk uint32
		damage   damage
	}{
		{"flip data byte", 2, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			v := rawGet(t, db, chunkKey(sh, id, 2))
			v[10] ^= 0x40
			rawSet(t, db, chunkKey(sh, id, 2), v)
		}},
		{"flip checksum byte", 4, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			v := rawGet(t, db, chunkKey(sh, id, 4))
			v[len(v)-1] ^= 1
			rawSet(t, db, chunkKey(sh, id, 4), v)
		}},
		{"delete middle chunk", 1, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			if err := db.db.Delete(chunkKey(sh, id, 1), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete last chunk", chunks, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			if err := db.db.Delete(chunkKey(sh, id, chunks-1), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncate chunk with valid checksum", 0, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			k := chunkKey(sh, id, 0)
			v := rawGet(t, db, k)
			data := v[:chunk/2]
			rawSet(t, db, k, binary.BigEndian.AppendUint32(bytes.Clone(data), chunkCRC(k, data)))
		}},
		{"extra chunk", chunks, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			k := chunkKey(sh, id, chunks)
			rawSet(t, db, k, binary.BigEndian.AppendUint32([]byte("x"), chunkCRC(k, []byte("x"))))
		}},
		{"chunk moved to another key", 1, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			rawSet(t, db, chunkKey(sh, id, 1), rawGet(t, db, chunkKey(sh, id, 3)))
		}},
		// Rewritten with a matching chunk checksum (a bug, or a misdirected
		// write that happens to checksum): only the whole-data checksum can
		// tell, so the bytes arrive but the final Read fails instead of EOF.
		{"data rewritten with chunk checksum", chunks, func(t *testing.T, db *SnapshotDB, sh uint32, id snapshotID) {
			k := chunkKey(sh, id, 2)
			v := rawGet(t, db, k)
			data := v[:len(v)-crcLen]
			data[0] ^= 0xff
			rawSet(t, db, k, binary.BigEndian.AppendUint32(data, chunkCRC(k, data)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng, _ := testRNG(t)
			db := openMem(t, SnapshotOptions{ChunkSize: chunk})
			s := db.Store(2)
			data := randomBytes(rng, chunks*chunk-7)
			id := writeSnapshot(t, s, rng, 1, 10, data)
			tc.damage(t, db, 2, mustParseID(t, id))

			meta, rc, err := s.Open(id)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			// Read the way an FSM would: exactly meta.Size bytes, then
			// expect EOF.
			got := make([]byte, meta.Size)
			n, err := io.ReadFull(rc, got)
			if err == nil {
				var one [1]byte
				_, err = rc.Read(one[:])
			}
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("read error %v, want ErrCorruptSnapshot", err)
			}
			if max := int(tc.badChunk) * chunk; n > max && tc.badChunk < chunks {
				t.Fatalf("delivered %d bytes, damage starts at byte %d", n, max)
			}
			if tc.badChunk < chunks && !bytes.Equal(got[:n], data[:n]) {
				t.Fatal("delivered bytes differ from the written ones")
			}
			// The error is sticky.
			if _, err := rc.Read(make([]byte, 10)); !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("second read = %v", err)
			}
		})
	}
}

func TestSnapshotCorruptMeta(t *testing.T) {
	rng, _ := testRNG(t)
	db := openMem(t, SnapshotOptions{ChunkSize: 64})
	s := db.Store(2)
	id := writeSnapshot(t, s, rng, 1, 10, randomBytes(rng, 100))
	key := appendMetaKey(nil, 2, mustParseID(t, id))
	v := rawGet(t, db, key)
	v[20] ^= 1
	rawSet(t, db, key, v)
	if _, _, err := s.Open(id); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Open = %v, want ErrCorruptSnapshot", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("List = %v, want ErrCorruptSnapshot", err)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := &snapshotMeta{version: 1, index: 1 << 40, term: 7, configurationIndex: 99, size: 1000,
		chunks: 4, chunkSize: 256, dataCRC: 0xdeadbeef}
	m.configuration = appendConfig(t)
	buf := appendMeta([]byte("prefix"), m)
	got, err := decodeMeta(buf[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if got.index != m.index || got.term != m.term || got.configurationIndex != m.configurationIndex ||
		got.size != m.size || got.chunks != m.chunks || got.chunkSize != m.chunkSize || got.dataCRC != m.dataCRC ||
		!bytes.Equal(got.configuration, m.configuration) || len(got.decoded.Servers) != 2 {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
	// Every single-byte change and every truncation is caught.
	body := buf[len("prefix"):]
	for i := range body {
		c := bytes.Clone(body)
		c[i] ^= 0x10
		if _, err := decodeMeta(c); err == nil {
			t.Fatalf("flip at byte %d not detected", i)
		}
		if _, err := decodeMeta(body[:i]); err == nil {
			t.Fatalf("truncation to %d bytes not detected", i)
		}
	}
}
