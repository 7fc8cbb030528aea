package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/likes/likes/proto"
)

// defaultMaxInFlight is used when a server announces no in-flight limit (0).
const defaultMaxInFlight = 1024

// readBufSize is the initial read buffer of a connection; it grows to hold
// the largest frame received (at most proto.MaxFrameSize).
const readBufSize = 64 << 10

// helloID is the request id of the HELLO; calls use ids after it.
const helloID = 1

func protoErrorf(format string, args ...any) error {
	return fmt.Errorf("protocol violation: "+format, args...)
}

// limits are what a server announced in its HELLO response, clamped to the
// protocol's own limits.
type limits struct {
	maxFrame    int
	maxInFlight int
	maxBatch    int
}

// pageSize is the number of games one HAS_MANY or COUNT_MANY page may carry:
// the batch limit, lowered if the frame limit is smaller still.
func (l limits) pageSize() int {
	// The largest page request: header, user, count, games.
	byFrame := (l.maxFrame - proto.HeaderSize - 8 - 2) / 8
	return max(1, min(l.maxBatch, byFrame))
}

// session is one live connection after a successful HELLO, with its reader
// and writer goroutines. When it breaks it is not repaired: fail ends it and
// the conn dials a new one.
type session struct {
	nc      net.Conn
	addr    string
	lim     limits
	timeout time.Duration // Options.IOTimeout; <= 0 disables the checks

	// slots holds one token per request in flight: taken before a request is
	// queued, given back when its response (even a discarded one) is read.
	slots chan struct{}
	wake  chan struct{} // one token: the writer has work
	done  chan struct{} // closed by fail
	dead  atomic.Bool   // set by fail, for lock-free checks

	mu      sync.Mutex
	err     error            // why the session failed; nil while live
	pending map[uint32]*call // nil value: a tombstone of an abandoned call
	lastID  uint32
	wbuf    []byte // frames queued for the writer

	// Counters, for the watchdog and for tests.
	reads  atomic.Uint64 // socket reads that returned data
	writes atomic.Uint64 // socket writes
	frames atomic.Uint64 // request frames queued
}

// dialSession connects to addr and exchanges HELLO, all within ctx (the
// caller bounds it by DialTimeout). It returns a session whose goroutines
// are not started yet.
func dialSession(ctx context.Context, addr string, clientID uint64, ioTimeout time.Duration) (*session, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &connError{addr: addr, err: ctxOr(ctx, err)}
	}
	s, err := hello(ctx, nc, addr, clientID)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.timeout = ioTimeout
	return s, nil
}

// hello sends HELLO on nc and reads the response, within ctx.
func hello(ctx context.Context, nc net.Conn, addr string, clientID uint64) (*session, error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	// Cancellation interrupts the exchange by moving the deadline to now.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := nc.Write(proto.AppendHello(nil, helloID, proto.Version, clientID)); err != nil {
		return nil, &connError{addr: addr, err: fmt.Errorf("sending HELLO: %w", ctxOr(ctx, err))}
	}
	buf := make([]byte, 0, 512)
	var m proto.Msg
	for {
		_, err := proto.DecodeInto(buf, &m)
		if err == nil {
			break
		}
		if !errors.Is(err, proto.ErrIncomplete) {
			return nil, &connError{addr: addr, err: fmt.Errorf("HELLO response: %w", err)}
		}
		if n, ok := proto.FrameLen(buf); ok && n > cap(buf) {
			buf = append(make([]byte, 0, n), buf...)
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return nil, &connError{addr: addr, err: fmt.Errorf("awaiting HELLO response: %w", ctxOr(ctx, err))}
		}
	}
	switch {
	case m.Type == proto.TypeError:
		e := m.Err
		return nil, fmt.Errorf("%s refused HELLO: %w", addr, &e)
	case m.Type != proto.TypeHello.Response():
		return nil, &connError{addr: addr, err: protoErrorf("%v in answer to HELLO", m.Type)}
	case m.Version < proto.MinVersion || m.Version > proto.Version:
		return nil, fmt.Errorf("%s answered HELLO with protocol version %d, this client speaks %d to %d: %w",
			addr, m.Version, proto.MinVersion, proto.Version, ErrVersion)
	}
	nc.SetDeadline(time.Time{})
	lim := limits{maxFrame: proto.MaxFrameSize, maxInFlight: defaultMaxInFlight, maxBatch: proto.MaxBatch}
	if m.MaxFrame > proto.HeaderSize && m.MaxFrame < proto.MaxFrameSize {
		lim.maxFrame = int(m.MaxFrame)
	}
	if m.MaxInFlight > 0 {
		lim.maxInFlight = int(m.MaxInFlight)
	}
	if m.MaxBatch > 0 && m.MaxBatch < proto.MaxBatch {
		lim.maxBatch = int(m.MaxBatch)
	}
	return &session{
		nc:      nc,
		addr:    addr,
		lim:     lim,
		slots:   make(chan struct{}, lim.maxInFlight),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: make(map[uint32]*call, min(lim.maxInFlight, 1024)),
		lastID:  helloID,
	}, nil
}

// ctxOr returns ctx's error if ctx is done (a deadline we set to interrupt
// I/O shows up as an i/o timeout otherwise), else err.
func ctxOr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded // the socket deadline fired first
	}
	if cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// start runs the session's reader and writer; wg tracks them.
func (s *session) start(wg *sync.WaitGroup) {
	wg.Add(2)
	go func() { defer wg.Done(); s.readLoop() }()
	go func() { defer wg.Done(); s.writeLoop() }()
}

// fail ends the session: it records err (the first error wins), closes the
// socket, and completes every pending call with err. Safe from any
// goroutine, any number of times.
func (s *session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	s.dead.Store(true)
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	close(s.done)
	s.nc.Close()
	for _, cl := range pending {
		if cl != nil {
			cl.complete(err)
		}
	}
}

// failed returns the error the session failed with, or nil.
func (s *session) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// inFlight is the number of requests sent and not answered yet.
func (s *session) inFlight() int { return len(s.slots) }

// submit queues cl on s: it waits (within ctx) for an in-flight slot, gives
// cl a request id, registers it as pending and appends its frame to the
// write queue. On success cl is pending on s and the caller must wait for it
// or abandon it.
func (s *session) submit(ctx context.Context, cl *call) error {
	select {
	case s.slots <- struct{}{}:
	default:
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return s.failed()
		}
	}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	id := s.lastID
	for {
		id++
		if id == 0 || id == helloID {
			continue
		}
		if _, used := s.pending[id]; !used {
			break
		}
	}
	s.lastID = id
	s.pending[id] = cl
	idle := len(s.wbuf) == 0
	s.wbuf = cl.appendTo(s.wbuf, id)
	s.mu.Unlock()
	cl.sess, cl.id = s, id
	s.frames.Add(1)
	if idle {
		// The writer takes the whole queue when it wakes, so one token per
		// empty-to-non-empty transition is enough.
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// abandon withdraws a pending call whose caller stopped waiting. If the
// response has not been read, the entry becomes a tombstone and the late
// response will be discarded; otherwise its completion is in progress and
// abandon waits for it and reports true (cl.err and the results are then
// set). Afterwards the caller owns cl again.
func (cl *call) abandon() (completed bool) {
	s := cl.sess
	if s == nil {
		return false
	}
	s.mu.Lock()
	mine := s.pending != nil && s.pending[cl.id] == cl
	if mine {
		s.pending[cl.id] = nil
	}
	s.mu.Unlock()
	if !mine {
		<-cl.done
	}
	cl.sess = nil
	return !mine
}

// writeLoop is the session's only socket writer: it writes everything queued
// in one Write, then sleeps until more is queued.
func (s *session) writeLoop() {
	var spare []byte
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		// Callers woken by the same batch of responses are about to queue
		// their next requests: let them run first, so that one write
		// carries all of them instead of one system call each. Gosched
		// returns at once when nothing else is runnable, so an idle
		// client pays nothing for it.
		runtime.Gosched()
		s.mu.Lock()
		out := s.wbuf
		s.wbuf = spare[:0]
		s.mu.Unlock()
		if len(out) == 0 {
			spare = out
			continue
		}
		if s.timeout > 0 {
			s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
		}
		_, err := s.nc.Write(out)
		s.writes.Add(1)
		if err != nil {
			s.fail(&connError{addr: s.addr, err: fmt.Errorf("write: %w", err)})
			return
		}
		spare = out
	}
}

// readLoop is the session's only socket reader: it decodes every complete
// frame in its buffer and hands each to dispatch.
func (s *session) readLoop() {
	buf := make([]byte, readBufSize)
	var r, w int // unread bytes are buf[r:w]
	var m proto.Msg
	for {
		n, err := s.nc.Read(buf[w:])
		if n > 0 {
			s.reads.Add(1)
			w += n
		}
		for r < w {
			rest, derr := proto.DecodeInto(buf[r:w], &m)
			if errors.Is(derr, proto.ErrIncomplete) {
				break
			}
			if derr != nil {
				s.fail(&connError{addr: s.addr, err: fmt.Errorf("bad frame from server: %w", derr)})
				return
			}
			r = w - len(rest)
			if derr := s.dispatch(&m); derr != nil {
				s.fail(&connError{addr: s.addr, err: derr})
				return
			}
		}
		if err != nil {
			s.fail(&connError{addr: s.addr, err: fmt.Errorf("read: %w", err)})
			return
		}
		switch {
		case r == w:
			r, w = 0, 0
		case w == len(buf):
			// A partial frame at the end: make room for all of it.
			need, ok := proto.FrameLen(buf[r:w])
			if !ok || need <= len(buf) {
				copy(buf, buf[r:w])
			} else {
				nb := make([]byte, need)
				copy(nb, buf[r:w])
				buf = nb
			}
			r, w = 0, w-r
		}
	}
}

// dispatch completes the call that m answers.
func (s *session) dispatch(m *proto.Msg) error {
	if m.ID == 0 && m.Type == proto.TypeError {
		// An error about the connection as a whole.
		e := m.Err
		return fmt.Errorf("server closed the connection: %w", &e)
	}
	s.mu.Lock()
	if s.pending == nil { // failed meanwhile
		err := s.err
		s.mu.Unlock()
		return err
	}
	cl, ok := s.pending[m.ID]
	if ok {
		delete(s.pending, m.ID)
	}
	s.mu.Unlock()
	if !ok {
		return protoErrorf("%v for request id %d, which is not in flight", m.Type, m.ID)
	}
	<-s.slots
	if cl == nil {
		return nil // abandoned by its caller: discard
	}
	if err := cl.fill(m); err != nil {
		cl.complete(&connError{addr: s.addr, err: err})
		return err
	}
	return nil
}
