package client

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// MaxConns bounds Options.Conns. Pipelining makes a few connections enough;
// more only cost server memory and file descriptors.
const MaxConns = 64

// Options configure a Client. The zero value of a field takes its default
// (DefaultOptions); Validate reports the fields that are out of range.
type Options struct {
	// Conns is the number of connections the client keeps open. Requests are
	// pipelined, so one connection carries many requests at once; a second
	// one keeps the client serving while the other reconnects, and spreads
	// the work over two server reader goroutines. More connections add
	// parallelism on the server at the cost of smaller write batches (fewer
	// requests per syscall on both sides) and server resources. Default 2.
	Conns int

	// ClientID identifies this client to the server for exactly-once writes:
	// the server de-duplicates writes by (client id, sequence number). Zero
	// picks a random id (crypto/rand), which is right for almost everyone.
	// Set it only to resume a client's identity, and never share one id
	// between two live clients: their sequence numbers would collide and one
	// client's write would be answered with the other's result.
	ClientID uint64

	// DialTimeout bounds one connection attempt to one address: the TCP
	// connect and the HELLO exchange. Short values fail fast over to the next
	// address and let Dial report a down node quickly; too short a value
	// fails against a slow or distant but healthy server. Default 2s.
	DialTimeout time.Duration

	// IOTimeout declares a connection dead when it has requests in flight and
	// reads nothing for this long, or cannot finish a write for this long;
	// its calls are then retried on a new connection. It catches servers
	// that hang and network paths that die silently. It must exceed the
	// slowest honest response (a write waits for replication and fsync), or
	// healthy connections are torn down under load. Default 10s; negative
	// disables the check (calls then wait for their ctx).
	IOTimeout time.Duration

	// RetryBackoff is the first pause before retrying a failed call or
	// re-dialling a broken connection; each further attempt doubles it, up to
	// MaxRetryBackoff, and every pause is jittered (a random value between
	// half and all of it) so that clients do not retry in lockstep. Short
	// pauses recover faster but hammer a struggling server. Default 5ms.
	RetryBackoff time.Duration

	// MaxRetryBackoff caps the pause between attempts. Lower values find a
	// recovered server sooner; higher values shed more load from an
	// overloaded one. Default 500ms; at least RetryBackoff.
	MaxRetryBackoff time.Duration

	// WriteWindow bounds how far apart the sequence numbers of the client's
	// unfinished writes may be: a new Like or Unlike waits (within its ctx)
	// until the oldest unfinished write is within WriteWindow of it. It must
	// not exceed the server's de-duplication window (1024 by default), or a
	// write delayed behind many newer ones can be refused as SEQ_EXPIRED
	// without having been applied. It also caps the client's writes in
	// flight: larger allows deeper write pipelines (bigger group commits
	// from one client), smaller keeps a slow write from holding many others
	// back. Default DefaultWriteWindow (512); at most MaxWriteWindow.
	WriteWindow int

	// Logger receives connection events (connected, lost, re-dial failures).
	// Calls themselves never log; they return errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultOptions returns the options Dial uses.
func DefaultOptions() Options {
	return Options{
		Conns:           2,
		DialTimeout:     2 * time.Second,
		IOTimeout:       10 * time.Second,
		RetryBackoff:    5 * time.Millisecond,
		MaxRetryBackoff: 500 * time.Millisecond,
		WriteWindow:     DefaultWriteWindow,
		Logger:          slog.Default(),
	}
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.Conns = cmp.Or(o.Conns, d.Conns)
	o.DialTimeout = cmp.Or(o.DialTimeout, d.DialTimeout)
	o.IOTimeout = cmp.Or(o.IOTimeout, d.IOTimeout)
	o.RetryBackoff = cmp.Or(o.RetryBackoff, d.RetryBackoff)
	o.MaxRetryBackoff = cmp.Or(o.MaxRetryBackoff, max(d.MaxRetryBackoff, o.RetryBackoff))
	o.WriteWindow = cmp.Or(o.WriteWindow, d.WriteWindow)
	o.Logger = cmp.Or(o.Logger, d.Logger)
	return o
}

// Validate reports every field out of range at once (errors.Join). Zero
// fields are valid: they take their defaults.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Conns < 1 || o.Conns > MaxConns {
		errs = append(errs, fmt.Errorf("Conns is %d, want 1 to %d", o.Conns, MaxConns))
	}
	if o.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("DialTimeout is %v, want > 0", o.DialTimeout))
	}
	if o.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("RetryBackoff is %v, want > 0", o.RetryBackoff))
	}
	if o.MaxRetryBackoff < o.RetryBackoff {
		errs = append(errs, fmt.Errorf("MaxRetryBackoff is %v, want at least RetryBackoff (%v)", o.MaxRetryBackoff, o.RetryBackoff))
	}
	if o.WriteWindow < 1 || o.WriteWindow > MaxWriteWindow {
		errs = append(errs, fmt.Errorf("WriteWindow is %d, want 1 to %d", o.WriteWindow, MaxWriteWindow))
	}
	return errors.Join(errs...)
}
