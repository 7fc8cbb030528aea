package server

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/likes/likes/storage"
)

// instrumentedLogStore is the raft.LogStore a shard hands to Raft: the
// shard's bbolt log (storage.LogStore) with its appends timed. The append,
// one bbolt commit with its two fdatasyncs, is the step that bounds write
// latency and most of a write's CPU (docs/benchmarks.md), so operators see
// it on its own: likes_raft_log_store_seconds and _entries.
//
// Only StoreLog and StoreLogs are wrapped; reads pass through. Safe for
// concurrent use, as storage.LogStore is.
type instrumentedLogStore struct {
	*storage.LogStore
	m *metrics
}

func (l instrumentedLogStore) StoreLog(log *raft.Log) error {
	return l.StoreLogs([]*raft.Log{log})
}

func (l instrumentedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := l.LogStore.StoreLogs(logs)
	l.m.storeSeconds.Observe(time.Since(start).Seconds())
	l.m.storeEntries.Observe(float64(len(logs)))
	return err
}
