package raftfsm

import (
	"errors"
	"fmt"
)

// Limits on Options fields.
const (
	// MaxDedupWindow bounds Options.DedupWindow: memory per client grows with it.
	MaxDedupWindow = 1 << 16
	// MaxDedupClients bounds Options.MaxDedupClients.
	MaxDedupClients = 1 << 20
	// stripeCount is the number of lock stripes (power of two).
	stripeCount = 256
)

// Options configure an FSM. Every replica of a shard must use the same
// dedup options, since they decide which retries are answered from the dedup
// table and which are refused or re-applied: Apply is a pure function of the
// log only for fixed options.
type Options struct {
	// MaxDedupClients is how many client ids the dedup table remembers. When
	// a new client arrives at the limit, the client whose last write has the
	// lowest log index is evicted (ties: earlier in the log first). A retry
	// from an evicted client is applied as new: that is the at-least-once
	// edge past this bound. Memory: ~96 B per client plus its window.
	// Larger keeps more retries exactly-once, costs memory and snapshot size.
	MaxDedupClients int
	// DedupWindow is how many seqs below a client's highest seq still return
	// their first result on retry. Older retries get ErrSeqExpired. It must
	// be a power of two and cover the deepest client pipeline. Memory: up to
	// 32 B × DedupWindow per client (the ring grows lazily, so clients that
	// pipeline shallowly pay less). Larger tolerates deeper pipelines and
	// later retries, costs MaxDedupClients × 32 B × DedupWindow worst case.
	DedupWindow int
}

// DefaultOptions returns the defaults: 4096 clients × window 1024, at most
// 128 MiB of dedup state in the worst case (all clients pipelining 1024 deep),
// typically a few MiB.
func DefaultOptions() Options {
	return Options{MaxDedupClients: 4096, DedupWindow: 1024}
}

// Validate reports every problem with o at once, each wrapping
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	if o.MaxDedupClients < 1 || o.MaxDedupClients > MaxDedupClients {
		errs = append(errs, fmt.Errorf("%w: MaxDedupClients %d not in [1, %d]", ErrInvalidOptions, o.MaxDedupClients, MaxDedupClients))
	}
	if o.DedupWindow < 1 || o.DedupWindow > MaxDedupWindow || o.DedupWindow&(o.DedupWindow-1) != 0 {
		errs = append(errs, fmt.Errorf("%w: DedupWindow %d not a power of two in [1, %d]", ErrInvalidOptions, o.DedupWindow, MaxDedupWindow))
	}
	return errors.Join(errs...)
}
