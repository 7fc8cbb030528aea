package proto

import (
	"errors"
	"fmt"
)

// Code is an error code on the wire. Each code maps one to one to a sentinel
// error below; Code.Err and CodeOf convert between them.
type Code uint16

// Wire error codes. Never renumber: they are part of the protocol.
const (
	CodeBadRequest  Code = 1 // malformed frame or body, invalid argument, wrong state (no HELLO)
	CodeTooLarge    Code = 2 // frame or batch above the limit
	CodeNotLeader   Code = 3 // this node does not lead the shard; Error.Leader names the leader when known
	CodeUnavailable Code = 4 // the shard cannot serve now (no leader yet, shutting down, replaying its log)
	CodeOverloaded  Code = 5 // a limit on connections or queued work was hit; retry later
	CodeInternal    Code = 6 // a bug or storage failure on the server
	CodeSeqExpired  Code = 7 // a retried write older than the server's de-duplication window
	CodeVersion     Code = 8 // the server does not speak the client's protocol version
)

// Sentinel errors, one per wire code. Errors returned by decoders, by the
// server and by the client wrap one of these, so callers test them with
// errors.Is whatever side of the wire the error was raised on.
var (
	// ErrBadRequest: the peer sent something that is not valid protocol.
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge: a frame exceeds MaxFrameSize or a batch exceeds MaxBatch.
	ErrTooLarge = errors.New("too large")
	// ErrNotLeader: the request reached a replica that cannot serve it.
	ErrNotLeader = errors.New("not leader")
	// ErrUnavailable: the shard or node is not able to serve at the moment.
	// Safe to retry; a write may or may not have been applied (retry it with
	// the same sequence number to find out exactly once).
	ErrUnavailable = errors.New("unavailable")
	// ErrOverloaded: the server refused work to protect itself. Retry later.
	ErrOverloaded = errors.New("overloaded")
	// ErrInternal: the server failed; the report is in its log.
	ErrInternal = errors.New("internal error")
	// ErrSeqExpired: a write was retried after its sequence number fell out of
	// the server's de-duplication window, so the server cannot tell whether it
	// was applied and refused to apply it again. Read the state to find out.
	ErrSeqExpired = errors.New("sequence number expired")
	// ErrVersion: the protocol versions of client and server do not overlap.
	ErrVersion = errors.New("unsupported protocol version")

	// ErrIncomplete is not a wire error: Decode returns it when buf holds only
	// the start of a frame. Read more bytes and call Decode again.
	ErrIncomplete = errors.New("incomplete frame")
)

var codeErrs = [...]error{
	CodeBadRequest:  ErrBadRequest,
	CodeTooLarge:    ErrTooLarge,
	CodeNotLeader:   ErrNotLeader,
	CodeUnavailable: ErrUnavailable,
	CodeOverloaded:  ErrOverloaded,
	CodeInternal:    ErrInternal,
	CodeSeqExpired:  ErrSeqExpired,
	CodeVersion:     ErrVersion,
}

// Err returns the sentinel error of c; unknown codes (from a newer peer) map
// to ErrInternal.
func (c Code) Err() error {
	if int(c) < len(codeErrs) && codeErrs[c] != nil {
		return codeErrs[c]
	}
	return ErrInternal
}

// String names the code as in PROTOCOL.md.
func (c Code) String() string {
	switch c {
	case CodeBadRequest:
		return "BAD_REQUEST"
	case CodeTooLarge:
		return "TOO_LARGE"
	case CodeNotLeader:
		return "NOT_LEADER"
	case CodeUnavailable:
		return "UNAVAILABLE"
	case CodeOverloaded:
		return "OVERLOADED"
	case CodeInternal:
		return "INTERNAL"
	case CodeSeqExpired:
		return "SEQ_EXPIRED"
	case CodeVersion:
		return "VERSION"
	}
	return fmt.Sprintf("CODE_%d", uint16(c))
}

// CodeOf returns the wire code for err: the code of the first sentinel it
// wraps, or CodeInternal.
func CodeOf(err error) Code {
	for c, e := range codeErrs {
		if e != nil && errors.Is(err, e) {
			return Code(c)
		}
	}
	return CodeInternal
}

// Error is an error response as it arrived from the peer. It unwraps to the
// sentinel of its code, so errors.Is(err, ErrNotLeader) works on it.
type Error struct {
	Code    Code
	Leader  string // client address of the shard's leader, when Code is CodeNotLeader and it is known
	Message string
}

func (e *Error) Error() string {
	s := e.Code.Err().Error()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Leader != "" {
		s += " (leader " + e.Leader + ")"
	}
	return s
}

// Unwrap returns the sentinel error of e's code.
func (e *Error) Unwrap() error { return e.Code.Err() }

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
}
