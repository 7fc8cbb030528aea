package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/likes/likes/proto"
	"github.com/likes/likes/raftfsm"
	"github.com/likes/likes/storage"
)

// shard is one Raft group on this node: its state machine, its log and the
// group committer that turns queued writes into log entries.
//
// Concurrency: reads call fsm directly from connection goroutines (the FSM
// is safe for that). Writes enter through submit from any goroutine; the
// proposer goroutine alone calls raft.Apply, the completer goroutine alone
// waits on the futures and runs the writes' callbacks, in log order.
type shard struct {
	id   int
	fsm  *raftfsm.FSM
	raft *raft.Raft
	logs *storage.LogStore
	m    *metrics
	cfg  *Config

	ready    atomic.Bool // leader and caught up: may serve reads and writes
	queue    chan pendingWrite
	props    chan proposal
	stopping chan struct{}
	done     sync.WaitGroup // proposer, completer, leadership watcher
}

// pendingWrite is a write waiting for the group committer. done runs on the
// completer goroutine; it must not block.
type pendingWrite struct {
	op   raftfsm.Op
	done func(raftfsm.Result, error)
}

// proposal is one log entry handed to Raft and the writes it carries.
type proposal struct {
	f      raft.ApplyFuture
	writes []pendingWrite
	start  time.Time
}

func openShard(cfg *Config, id int, snapDB *storage.SnapshotDB, m *metrics) (_ *shard, err error) {
	s := &shard{
		id:       id,
		cfg:      cfg,
		m:        m,
		queue:    make(chan pendingWrite, cfg.MaxQueuedWrites),
		props:    make(chan proposal, cfg.MaxProposals),
		stopping: make(chan struct{}),
	}
	s.fsm, err = raftfsm.New(raftfsm.DefaultOptions())
	if err != nil {
		return nil, err
	}
	s.logs, err = storage.OpenLogStore(filepath.Join(cfg.DataDir, "raft", fmt.Sprintf("shard-%04d.db", id)), storage.LogStoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("shard %d: open raft log: %w", id, err)
	}
	defer func() {
		if err != nil {
			s.logs.Close()
		}
	}()
	snaps := snapDB.Store(uint32(id))
	if _, err := storage.CheckRecoverable(snaps, s.logs); err != nil {
		return nil, fmt.Errorf("shard %d: %w", id, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = newRaftLogger(cfg.Logger, id)
	rc.HeartbeatTimeout = cfg.ElectionTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.ElectionTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// Let Raft gather up to MaxAppendEntries queued entries into one
	// StoreLogs call, i.e. one fsync: the second level of group commit.
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 128
	notify := make(chan bool, 16)
	rc.NotifyCh = notify

	addr := raft.ServerAddress(fmt.Sprintf("%s/shard-%d", cfg.NodeID, id))
	_, trans := raft.NewInmemTransport(addr)
	existing, err := raft.HasExistingState(s.logs, s.logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("shard %d: %w", id, err)
	}
	if !existing {
		conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(rc, s.logs, s.logs, snaps, trans, conf); err != nil {
			return nil, fmt.Errorf("shard %d: bootstrap: %w", id, err)
		}
	}
	s.raft, err = raft.NewRaft(rc, &instrumentedFSM{FSM: s.fsm, m: m}, instrumentedLogStore{s.logs, m}, s.logs, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("shard %d: start raft: %w", id, err)
	}
	s.done.Add(3)
	go s.watchLeadership(notify)
	go s.propose()
	go s.complete()
	return s, nil
}

// watchLeadership marks the shard ready once it leads and has applied every
// entry of its log (a Barrier), so that reads after a restart never see a
// state older than the last acknowledged write.
func (s *shard) watchLeadership(notify <-chan bool) {
	defer s.done.Done()
	for {
		select {
		case <-s.stopping:
			return
		case leader := <-notify:
			if !leader {
				s.ready.Store(false)
				continue
			}
			if err := s.raft.Barrier(0).Error(); err != nil {
				s.cfg.Logger.Warn("barrier after election failed", "shard", s.id, "err", err)
				continue
			}
			s.ready.Store(true)
			s.cfg.Logger.Info("shard ready", "shard", s.id, "applied_index", s.fsm.AppliedIndex())
		}
	}
}

// submit queues a write for the group committer. It blocks while the queue
// is full (back-pressure on the submitting connection). done is called
// exactly once, on the completer goroutine, or here if the shard is stopping.
func (s *shard) submit(w pendingWrite) {
	if !s.ready.Load() {
		w.done(raftfsm.Result{}, ErrShardNotReady)
		return
	}
	select {
	case s.queue <- w:
	case <-s.stopping:
		w.done(raftfsm.Result{}, ErrShuttingDown)
	}
}

// propose is the group committer: it takes whatever writes are queued when
// the previous entry has been handed to Raft (up to MaxOpsPerEntry), encodes
// them as one entry and hands it to Raft. There is no timer: at low load an
// entry carries one write and adds no latency; under load entries grow while
// Raft is busy with the previous ones.
func (s *shard) propose() {
	defer s.done.Done()
	defer close(s.props)
	ops := make([]raftfsm.Op, 0, s.cfg.MaxOpsPerEntry)
	for {
		var first pendingWrite
		select {
		case first = <-s.queue:
		case <-s.stopping:
			// Drain what was queued before the stop; nothing new arrives
			// because connections are drained before shards stop.
			select {
			case first = <-s.queue:
			default:
				return
			}
		}
		writes := make([]pendingWrite, 1, 16)
		writes[0] = first
	gather:
		for len(writes) < s.cfg.MaxOpsPerEntry {
			select {
			case w := <-s.queue:
				writes = append(writes, w)
			default:
				break gather
			}
		}
		ops = ops[:0]
		for _, w := range writes {
			ops = append(ops, w.op)
		}
		data := raftfsm.AppendBatch(make([]byte, 0, 16+len(ops)*48), ops)
		s.m.batchOps.Observe(float64(len(ops)))
		p := proposal{f: s.raft.Apply(data, 0), writes: writes, start: time.Now()}
		s.props <- p
	}
}

// complete waits for each proposal in order and answers its writes.
func (s *shard) complete() {
	defer s.done.Done()
	for p := range s.props {
		err := p.f.Error()
		var results []raftfsm.Result
		if err == nil {
			s.m.commitSeconds.Observe(time.Since(p.start).Seconds())
			var ok bool
			results, ok = p.f.Response().([]raftfsm.Result)
			if !ok || len(results) != len(p.writes) {
				err = fmt.Errorf("%w: state machine returned %T for %d writes", proto.ErrInternal, p.f.Response(), len(p.writes))
			}
		} else {
			err = raftError(err)
		}
		for i, w := range p.writes {
			if err != nil {
				w.done(raftfsm.Result{}, err)
				continue
			}
			r := results[i]
			if r.Err != nil {
				w.done(r, fsmError(r.Err))
				continue
			}
			w.done(r, nil)
		}
	}
}

// raftError maps a Raft apply error to the wire error a client acts on.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", proto.ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShuttingDown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", proto.ErrOverloaded, err)
	}
	return fmt.Errorf("%w: raft: %v", proto.ErrInternal, err)
}

// fsmError maps a per-write refusal of the state machine to its wire error.
func fsmError(err error) error {
	if errors.Is(err, raftfsm.ErrSeqExpired) {
		return fmt.Errorf("%w: %v", proto.ErrSeqExpired, err)
	}
	return fmt.Errorf("%w: %v", proto.ErrInternal, err)
}

// stop ends the shard: no more writes are taken; queued ones are proposed and
// answered; a final snapshot shortens the next start; Raft and the log close.
func (s *shard) stop() error {
	s.ready.Store(false)
	close(s.stopping)
	s.done.Wait()
	var errs []error
	if err := s.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		errs = append(errs, fmt.Errorf("shard %d: final snapshot: %w", s.id, err))
	}
	if err := s.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("shard %d: raft shutdown: %w", s.id, err))
	}
	if err := s.logs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("shard %d: close log: %w", s.id, err))
	}
	return errors.Join(errs...)
}
