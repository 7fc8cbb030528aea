package client

import (
	"errors"

	"github.com/likes/likes/proto"
)

// Errors returned by the client. Every error a call returns wraps one of
// these (or ctx.Err()), so test them with errors.Is. The wire errors are
// package proto's sentinels re-exported, so errors.Is(err, client.ErrX) and
// errors.Is(err, proto.ErrX) agree. An error the server sent is a
// *proto.Error (errors.As gives its Code, Leader and Message) and unwraps to
// the sentinel of its code.
var (
	// ErrBadRequest: the server found the request invalid. Not retried.
	ErrBadRequest = proto.ErrBadRequest
	// ErrTooLarge: a frame or batch exceeded the server's limits. Not retried.
	ErrTooLarge = proto.ErrTooLarge
	// ErrNotLeader: the server does not lead the game's shard. Retried with
	// backoff until ctx is done.
	ErrNotLeader = proto.ErrNotLeader
	// ErrUnavailable: the server cannot serve now, or no server could be
	// reached (a broken, refused or silent connection wraps it too). Retried
	// with backoff until ctx is done; Dial returns it when no address
	// answers.
	ErrUnavailable = proto.ErrUnavailable
	// ErrOverloaded: the server refused work to protect itself. Retried with
	// backoff until ctx is done.
	ErrOverloaded = proto.ErrOverloaded
	// ErrInternal: the server failed. Not retried.
	ErrInternal = proto.ErrInternal
	// ErrSeqExpired: a retried write came after the server forgot its
	// sequence number, so whether it was applied is unknown. Not retried.
	ErrSeqExpired = proto.ErrSeqExpired
	// ErrVersion: client and server share no protocol version. Dial fails
	// with it; not retried.
	ErrVersion = proto.ErrVersion

	// ErrClosed: the Client was closed (before or during the call).
	ErrClosed = errors.New("client closed")
)

// connError reports a connection that broke, timed out or broke the
// protocol. It is what calls in flight on that connection fail with
// internally; it unwraps to ErrUnavailable and to its cause, and calls retry
// it.
type connError struct {
	addr string
	err  error
}

func (e *connError) Error() string { return "connection to " + e.addr + ": " + e.err.Error() }

func (e *connError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// retryable reports whether a call that failed with err may be sent again
// (with the same sequence number, for a write).
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOverloaded) || errors.Is(err, ErrNotLeader)
}

// multiError is errors.Join on one line, for Dial's error that names every
// address tried.
type multiError []error

func (m multiError) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

func (m multiError) Unwrap() []error { return m }
