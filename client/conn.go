package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one of the client's Options.Conns connection slots. Its supervisor
// goroutine (run) keeps a session in it: it watches the live session and,
// when it fails, dials a new one, trying the addresses in turn with jittered
// backoff.
type conn struct {
	c    *Client
	idx  int
	sess atomic.Pointer[session] // the current session; nil before the first
	next int                     // index into c.addrs of the address to dial next; supervisor only

	mu sync.Mutex // serialises publishing a session with Client.Close
}

// publish makes s the slot's session and starts it, unless the client is
// closed, in which case s is discarded. It reports whether s was published.
func (cn *conn) publish(s *session) bool {
	c := cn.c
	cn.mu.Lock()
	select {
	case <-c.closed:
		cn.mu.Unlock()
		s.fail(ErrClosed)
		return false
	default:
	}
	s.start(&c.wg)
	cn.sess.Store(s)
	cn.mu.Unlock()
	c.log.Info("likes client connected", "addr", s.addr, "conn", cn.idx,
		"max_in_flight", s.lim.maxInFlight, "max_batch", s.lim.maxBatch)
	c.setPageSize(s.lim.pageSize())
	c.signalReady()
	return true
}

// run is the supervisor goroutine.
func (cn *conn) run() {
	c := cn.c
	defer c.wg.Done()
	for {
		if s := cn.sess.Load(); s != nil {
			if !cn.watch(s) {
				return
			}
			c.log.Warn("likes client connection lost", "addr", s.addr, "conn", cn.idx, "err", s.failed())
		}
		s := cn.redial()
		if s == nil || !cn.publish(s) {
			return
		}
	}
}

// watch waits for s to fail, declaring it dead if it has requests in flight
// and reads nothing for IOTimeout. It returns false when the client closes.
func (cn *conn) watch(s *session) bool {
	c := cn.c
	var tick <-chan time.Time
	const checks = 4 // per IOTimeout
	if s.timeout > 0 {
		t := time.NewTicker(s.timeout / checks)
		defer t.Stop()
		tick = t.C
	}
	silent, lastReads := 0, s.reads.Load()
	for {
		select {
		case <-s.done:
			return true
		case <-c.closed:
			s.fail(ErrClosed)
			return false
		case <-tick:
			reads := s.reads.Load()
			if reads == lastReads && s.inFlight() > 0 {
				silent++
			} else {
				silent = 0
			}
			lastReads = reads
			if silent >= checks {
				s.fail(&connError{addr: s.addr, err: fmt.Errorf("no response for %v with requests in flight", s.timeout)})
			}
		}
	}
}

// redial dials until a session is up or the client closes (nil).
func (cn *conn) redial() *session {
	c := cn.c
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if !c.sleep(c.ctx, attempt-1) {
				return nil
			}
		}
		addr := c.addrs[cn.next]
		s, err := c.dialOne(c.ctx, addr)
		if err == nil {
			return s
		}
		select {
		case <-c.closed:
			return nil
		default:
		}
		c.lastDialErr.Store(&err)
		lvl := c.log.Debug
		if attempt == 0 {
			lvl = c.log.Warn
		}
		lvl("likes client dial failed", "addr", addr, "conn", cn.idx, "attempt", attempt+1, "err", err)
		cn.next = (cn.next + 1) % len(c.addrs)
	}
}

// backoff returns the jittered pause before retry number attempt (from 0):
// RetryBackoff doubled per attempt, capped at MaxRetryBackoff, then a random
// value between half and all of it.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.RetryBackoff
	for i := 0; i < attempt && d < c.opts.MaxRetryBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxRetryBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep pauses for backoff(attempt). It returns false, early, when ctx is
// done or the client closes.
func (c *Client) sleep(ctx context.Context, attempt int) bool {
	t := time.NewTimer(c.backoff(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.closed:
		return false
	}
}
