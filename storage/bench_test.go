package storage

import (
	"io"
	"math/rand/v2"
	"testing"
)

// BenchmarkSnapshotWriteRead256MiB writes a 256 MiB snapshot in 64 KiB
// writes (Close syncs it) and reads it back verified, on the real file
// system with default options. MB/s counts the 256 MiB once per write+read.
//
//	go test -run '^$' -bench SnapshotWriteRead -benchtime 3x ./storage
func BenchmarkSnapshotWriteRead256MiB(b *testing.B) {
	const size, piece = 256 << 20, 64 << 10
	db, err := OpenSnapshotDB(b.TempDir(), SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := db.Store(1)
	buf := randomBytes(rand.New(rand.NewPCG(1, 2)), piece)
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		sink, err := s.Create(1, uint64(i+1), 1, testConfiguration(), 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		for range size / piece {
			if _, err := sink.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Close(); err != nil {
			b.Fatal(err)
		}
		_, rc, err := s.Open(sink.ID())
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, rc, make([]byte, piece))
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		if err := rc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
