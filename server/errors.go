package server

import (
	"errors"

	"github.com/likes/likes/proto"
)

// Sentinel errors of the server. Those a client can see wrap the proto
// sentinel of their wire code, so proto.CodeOf maps each to exactly one code;
// the rest are start-up errors reported to the operator.
var (
	// ErrTooManyConns: the node holds Config.MaxConns connections; the new one
	// gets an OVERLOADED error frame and is closed.
	ErrTooManyConns = wrap(proto.ErrOverloaded, "too many connections")
	// ErrShardNotReady: the shard is electing its leader or replaying its log
	// after a restart; clients retry (UNAVAILABLE).
	ErrShardNotReady = wrap(proto.ErrUnavailable, "shard not ready")
	// ErrShuttingDown: the node is draining; clients retry elsewhere or later.
	ErrShuttingDown = wrap(proto.ErrUnavailable, "node shutting down")
	// ErrNotHello: the first frame of a connection was not HELLO.
	ErrNotHello = wrap(proto.ErrBadRequest, "first frame must be HELLO")
	// ErrConsistency: a read asked for a consistency level this version does
	// not serve.
	ErrConsistency = wrap(proto.ErrBadRequest, "read consistency level not supported by this server")

	// ErrCorruptMeta: a node metadata file (slot table) failed its checks;
	// the node refuses to start rather than route games to the wrong shard.
	ErrCorruptMeta = errors.New("corrupt node metadata")
	// ErrBadConfig wraps every configuration problem found by Config.Validate.
	ErrBadConfig = errors.New("invalid configuration")
)

type wrapped struct {
	sentinel error
	msg      string
}

func wrap(sentinel error, msg string) error { return &wrapped{sentinel, msg} }
func (w *wrapped) Error() string            { return w.msg }
func (w *wrapped) Unwrap() error            { return w.sentinel }
