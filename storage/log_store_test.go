package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func TestLogStoreRoundTripAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft", "shard-1.db")
	s, err := OpenLogStore(path, LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenLogStore(path, LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 6 || last != 20 {
		t.Fatalf("log %d..%d after reopen, want 6..20", first, last)
	}
	var l raft.Log
	if err := s.GetLog(7, &l); err != nil || l.Term != 2 || !bytes.Equal(l.Data, []byte{7}) {
		t.Fatalf("GetLog(7) = %+v, %v", l, err)
	}
	if err := s.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(3) = %v, want ErrLogNotFound", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
}

func TestLogStoreOptionsValidate(t *testing.T) {
	err := LogStoreOptions{OpenTimeout: -1, FreelistType: "tree"}.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v", err)
	}
	for _, s := range []string{"OpenTimeout", "FreelistType"} {
		if !bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Errorf("error lacks %s: %v", s, err)
		}
	}
	if _, err := OpenLogStore(filepath.Join(t.TempDir(), "x.db"), LogStoreOptions{OpenTimeout: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("OpenLogStore with bad options = %v", err)
	}
}
