// Package client is the thin Go library that app servers use to talk to likes.
//
// A Client holds a few pipelined TCP connections (Options.Conns) to the
// servers named at Dial. Any number of goroutines may call its methods at
// once: each call encodes one request frame into the queue of a connection and
// waits for the response with that frame's request id. Responses may arrive in
// any order. There is no goroutine per request.
//
//	c, err := client.Dial(ctx, "10.0.0.1:7070")
//	res, err := c.Like(ctx, game, user)      // exactly once, retried on failure
//	liked, err := c.HasLiked(ctx, game, user)
//
// # Failures and retries
//
// A call returns when its response arrives, when it fails with an error not
// worth retrying (ErrBadRequest, ErrTooLarge, ErrSeqExpired, ErrVersion,
// ErrInternal, ErrClosed), or when its ctx is done. Everything else is retried
// with jittered exponential backoff (Options.RetryBackoff up to
// Options.MaxRetryBackoff) until ctx is done: a connection that breaks or goes
// silent for Options.IOTimeout, and the server errors ErrUnavailable,
// ErrOverloaded and ErrNotLeader. A call whose ctx ends while it was retrying
// returns an error that wraps both ctx.Err() and the last failure, so
// errors.Is(err, context.DeadlineExceeded) and errors.Is(err, ErrUnavailable)
// are both true when no server could be reached.
//
// Like and Unlike take a sequence number once, from a per-client counter
// starting at 1, and send it with every retry. The server remembers the result
// of each (client id, sequence number) for a while and answers a retry with the
// first result instead of applying the write again, so a write is applied
// exactly once even when the connection broke after the server applied it.
// A retry that comes too late for the server's memory fails with
// ErrSeqExpired; read the state to find out whether the write happened.
//
// # Connections
//
// Every connection opens with HELLO (protocol version and client id). The
// server's answer sets the connection's limits: the number of requests in
// flight on it (a call waits, within its ctx, for a free slot rather than
// exceed it) and the games per HasLikedMany/CountMany page. A broken
// connection fails its calls internally (they are retried elsewhere or after
// the reconnect) and is re-dialled in the background, trying the addresses in
// turn with jittered backoff.
//
// # Concurrency rules
//
// Each connection slot (conn) has one supervisor goroutine that dials,
// watches and re-dials it. Each live connection (session) has exactly two
// more goroutines:
//
//   - the writer is the only goroutine that writes to the socket. Callers
//     append encoded frames to session.wbuf under session.mu; the writer swaps
//     that buffer for an empty one under session.mu and writes the whole batch
//     with one Write outside the lock, so frames queued while a write is in
//     progress go out together in the next one.
//   - the reader is the only goroutine that reads the socket. It owns the read
//     buffer and the decoded proto.Msg, which it reuses for every frame; it
//     removes the call of each response from session.pending under
//     session.mu and completes it outside the lock.
//
// A call struct is owned by the calling goroutine except between being put in
// session.pending and being completed: then the goroutine that removes it
// from pending (the reader, or session.fail) owns its result fields until it
// signals call.done. A caller whose ctx ends replaces its pending entry with
// a nil tombstone, so the late response is read, its in-flight slot released
// and the response discarded; if the entry is already gone the caller waits
// for call.done, which is imminent. Only then does a call go back to its
// sync.Pool.
//
// Locks: conn.mu guards publishing a session against Client.Close;
// session.mu guards pending, wbuf and the session's error; Client.readyMu
// guards the channel that wakes callers waiting for any connection. No
// goroutine holds two of them at once, so there is no lock order to keep.
// Close may be called from any goroutine, once or more; it fails every call
// in flight with ErrClosed and waits for the client's goroutines to end.
package client
