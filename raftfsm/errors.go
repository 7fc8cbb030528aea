package raftfsm

import "errors"

// Sentinel errors of package raftfsm. Each maps one to one to a wire error
// code in package proto; check them with errors.Is, since they are usually
// wrapped with detail.
var (
	// ErrSeqExpired is set in Result.Err for an op whose (ClientID, Seq) is
	// older than the client's dedup window (Seq <= highest Seq - window). The
	// FSM cannot prove whether it was applied before, so it is not applied.
	ErrSeqExpired = errors.New("raftfsm: sequence number below dedup window")
	// ErrBadOp is set in Result.Err for an op the FSM refuses to apply
	// (unknown OpKind). DecodeBatch already rejects these, so it only shows
	// up for entries written by a newer encoder that this FSM cannot apply.
	ErrBadOp = errors.New("raftfsm: invalid op")
	// ErrBadEntry is returned by DecodeBatch, and by Apply instead of a
	// []Result, for a log entry payload that is not a valid batch.
	ErrBadEntry = errors.New("raftfsm: malformed log entry")
	// ErrUnknownVersion reports a batch or snapshot whose format version this
	// code does not know.
	ErrUnknownVersion = errors.New("raftfsm: unknown format version")
	// ErrCorruptSnapshot is returned by Restore for a snapshot stream that is
	// torn, fails a checksum, or whose totals do not add up. The FSM keeps its
	// previous state.
	ErrCorruptSnapshot = errors.New("raftfsm: corrupt snapshot")
	// ErrSnapshotInProgress is returned by Snapshot while an earlier snapshot
	// has not been released. hashicorp/raft never does this; it is a guard.
	ErrSnapshotInProgress = errors.New("raftfsm: snapshot already in progress")
	// ErrInvalidOptions wraps every problem Options.Validate finds.
	ErrInvalidOptions = errors.New("raftfsm: invalid options")
)
