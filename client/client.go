package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/likes/likes/proto"
)

// Client is a connection pool to likes servers. It is safe for concurrent
// use by any number of goroutines; see the package doc for its rules.
type Client struct {
	opts  Options
	addrs []string
	id    uint64
	log   *slog.Logger

	window   *writeWindow // hands out write sequence numbers
	conns    []*conn
	rr       atomic.Uint32 // round-robin cursor over conns
	pageSize atomic.Int64  // games per HAS_MANY/COUNT_MANY page, from the last HELLO

	lastDialErr atomic.Pointer[error] // the last failed re-dial, for errors while down

	readyMu sync.Mutex
	readyCh chan struct{} // closed and replaced whenever a session comes up

	ctx    context.Context // cancelled by Close; bounds background dials
	cancel context.CancelFunc
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup // supervisors, readers, writers
}

// WriteResult is the outcome of a Like or Unlike.
type WriteResult struct {
	// Changed is false when the write found the state it asked for already
	// (liking a liked game, unliking an unliked one).
	Changed bool
	// Count is the game's like count right after the write.
	Count uint64
	// Index is the Raft log index that applied the write; later reads that
	// reflect the write see index at least this.
	Index uint64
}

// Dial connects to the likes servers at addrs with DefaultOptions; see
// DialOptions.
func Dial(ctx context.Context, addrs ...string) (*Client, error) {
	return DialOptions(ctx, DefaultOptions(), addrs...)
}

// DialOptions connects to the likes servers at addrs ("host:port"). It
// returns once one connection has answered HELLO; it tries each address once,
// each attempt bounded by opts.DialTimeout and all by ctx, and fails with an
// error wrapping ErrUnavailable (unreachable) or ErrVersion (incompatible)
// when none answers. The client's other connections are dialled now too, or
// in the background if they fail; later failures are repaired in the
// background. ctx bounds only the dialling, not the Client's life.
func DialOptions(ctx context.Context, opts Options, addrs ...string) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("client: Dial needs at least one address")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("client: invalid Options: %w", err)
	}
	opts = opts.withDefaults()
	id := opts.ClientID
	for id == 0 {
		var b [8]byte
		rand.Read(b[:])
		id = binary.LittleEndian.Uint64(b[:])
	}
	c := &Client{
		opts:    opts,
		addrs:   append([]string(nil), addrs...),
		id:      id,
		log:     opts.Logger,
		readyCh: make(chan struct{}),
		closed:  make(chan struct{}),
		window:  newWriteWindow(opts.WriteWindow),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.pageSize.Store(proto.MaxBatch)
	c.conns = make([]*conn, opts.Conns)
	for i := range c.conns {
		c.conns[i] = &conn{c: c, idx: i}
	}

	var first *session
	var errs multiError
	for i, addr := range c.addrs {
		s, err := c.dialOne(ctx, addr)
		if err == nil {
			first = s
			for _, cn := range c.conns {
				cn.next = i
			}
			break
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		c.cancel()
		return nil, fmt.Errorf("client: no likes server answered at %s: %w", strings.Join(c.addrs, ", "), errs)
	}
	c.conns[0].publish(first)
	for _, cn := range c.conns[1:] {
		if s, err := c.dialOne(ctx, c.addrs[cn.next]); err == nil {
			cn.publish(s)
		}
	}
	for _, cn := range c.conns {
		c.wg.Add(1)
		go cn.run()
	}
	return c, nil
}

// dialOne makes one attempt to open a session with addr, bounded by
// DialTimeout.
func (c *Client) dialOne(ctx context.Context, addr string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	return dialSession(ctx, addr, c.id, c.opts.IOTimeout)
}

// ClientID returns the id this client announces in HELLO (Options.ClientID,
// or the random one picked for it).
func (c *Client) ClientID() uint64 { return c.id }

// Close closes the client's connections and fails the calls in flight with
// ErrClosed (a write in flight may or may not have been applied). It waits
// for the client's goroutines to exit. Later calls fail with ErrClosed.
// Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.cancel()
		for _, cn := range c.conns {
			cn.mu.Lock()
			s := cn.sess.Load()
			cn.mu.Unlock()
			if s != nil {
				s.fail(ErrClosed)
			}
		}
		c.wg.Wait()
	})
	return nil
}

// Like records that user likes game, exactly once however often it is
// retried. It returns when the write is durable, or with an error; after an
// error wrapping ctx.Err() the write may or may not have been applied, and
// after ErrSeqExpired it is unknown too.
func (c *Client) Like(ctx context.Context, game, user uint64) (WriteResult, error) {
	return c.write(ctx, proto.TypeLike, game, user)
}

// Unlike removes user's like of game; otherwise as Like.
func (c *Client) Unlike(ctx context.Context, game, user uint64) (WriteResult, error) {
	return c.write(ctx, proto.TypeUnlike, game, user)
}

func (c *Client) write(ctx context.Context, t proto.MsgType, game, user uint64) (WriteResult, error) {
	cl := getCall(t)
	defer putCall(cl)
	cl.game, cl.user = game, user
	seq, err := c.window.acquire(ctx, c.closed)
	if err != nil {
		return WriteResult{}, fmt.Errorf("client: %v game %d user %d: waiting for the write window: %w", t, game, user, err)
	}
	defer c.window.release(seq)
	cl.seq = seq // once: every retry resends this number
	if err := c.run(ctx, cl, false); err != nil {
		return WriteResult{}, fmt.Errorf("client: %v game %d user %d (seq %d): %w", t, game, user, cl.seq, err)
	}
	return WriteResult{Changed: cl.changed, Count: cl.count, Index: cl.index}, nil
}

// HasLiked reports whether user likes game.
func (c *Client) HasLiked(ctx context.Context, game, user uint64) (bool, error) {
	cl := getCall(proto.TypeHas)
	defer putCall(cl)
	cl.game, cl.user = game, user
	if err := c.run(ctx, cl, false); err != nil {
		return false, fmt.Errorf("client: HAS game %d user %d: %w", game, user, err)
	}
	return cl.liked, nil
}

// Count returns the number of users who like game.
func (c *Client) Count(ctx context.Context, game uint64) (uint64, error) {
	cl := getCall(proto.TypeCount)
	defer putCall(cl)
	cl.game = game
	if err := c.run(ctx, cl, false); err != nil {
		return 0, fmt.Errorf("client: COUNT game %d: %w", game, err)
	}
	return cl.count, nil
}

// HasLikedMany reports, for each of games in order, whether user likes it.
// Long lists are split into pages of the server's batch limit, sent at once
// on the pipelined connections.
func (c *Client) HasLikedMany(ctx context.Context, user uint64, games []uint64) ([]bool, error) {
	out := make([]bool, len(games))
	if err := c.many(ctx, proto.TypeHasMany, user, games, out, nil); err != nil {
		return nil, fmt.Errorf("client: HAS_MANY user %d, %d games: %w", user, len(games), err)
	}
	return out, nil
}

// CountMany returns the like count of each of games, in order, paged as
// HasLikedMany.
func (c *Client) CountMany(ctx context.Context, games []uint64) ([]uint64, error) {
	out := make([]uint64, len(games))
	if err := c.many(ctx, proto.TypeCountMany, 0, games, nil, out); err != nil {
		return nil, fmt.Errorf("client: COUNT_MANY %d games: %w", len(games), err)
	}
	return out, nil
}

// many sends the pages of a HAS_MANY or COUNT_MANY all at once, then waits
// for each in turn (retrying it if need be), writing results into liked or
// counts.
func (c *Client) many(ctx context.Context, t proto.MsgType, user uint64, games []uint64, liked []bool, counts []uint64) error {
	if len(games) == 0 {
		return nil
	}
	page := int(c.pageSize.Load())
	var small [8]*call
	calls := small[:0]
	defer func() {
		for _, cl := range calls {
			cl.abandon() // a no-op unless we return early
			putCall(cl)
		}
	}()
	for lo := 0; lo < len(games); lo += page {
		hi := min(lo+page, len(games))
		cl := getCall(t)
		cl.user, cl.games = user, games[lo:hi]
		if t == proto.TypeHasMany {
			cl.likedN = liked[lo:hi]
		} else {
			cl.counts = counts[lo:hi]
		}
		calls = append(calls, cl)
		if err := c.submit(ctx, cl); err != nil && !retryable(err) {
			return err
		} // a retryable failure leaves cl unsent; run sends it
	}
	for _, cl := range calls {
		if err := c.run(ctx, cl, cl.sess != nil); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks that a server answers.
func (c *Client) Ping(ctx context.Context) error {
	cl := getCall(proto.TypePing)
	defer putCall(cl)
	if err := c.run(ctx, cl, false); err != nil {
		return fmt.Errorf("client: PING: %w", err)
	}
	return nil
}

// Stats returns a server's statistics, a JSON object.
func (c *Client) Stats(ctx context.Context) (json.RawMessage, error) {
	cl := getCall(proto.TypeStats)
	defer putCall(cl)
	if err := c.run(ctx, cl, false); err != nil {
		return nil, fmt.Errorf("client: STATS: %w", err)
	}
	return json.RawMessage(cl.stats), nil
}

// run sends cl until it gets an answer not worth retrying or ctx ends; if
// submitted, cl is already pending and run starts by waiting for it. A
// write keeps its sequence number across attempts.
func (c *Client) run(ctx context.Context, cl *call, submitted bool) error {
	var last error
	for attempt := 0; ; attempt++ {
		var err error
		if !submitted {
			err = c.submit(ctx, cl)
		}
		submitted = false
		if err == nil {
			err = c.wait(ctx, cl)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) { // gave up
			if last != nil {
				return fmt.Errorf("%w (last error: %w)", err, last)
			}
			return err
		}
		if !retryable(err) {
			return err
		}
		last = err
		// A broken connection is retried at once (on another connection,
		// or when this one is back); anything else after a pause.
		var ce *connError
		if attempt > 0 || !errors.As(err, &ce) {
			if !c.sleep(ctx, attempt) {
				if ctx.Err() != nil {
					return fmt.Errorf("%w (last error: %w)", ctx.Err(), last)
				}
				return ErrClosed
			}
		}
	}
}

// submit puts cl on a live session, waiting for one if need be.
func (c *Client) submit(ctx context.Context, cl *call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	return s.submit(ctx, cl)
}

// wait waits for cl's response or ctx.
func (c *Client) wait(ctx context.Context, cl *call) error {
	select {
	case <-cl.done:
		cl.sess = nil
		return cl.err
	case <-ctx.Done():
		if cl.abandon() {
			return cl.err // answered while we gave up: keep the answer
		}
		return ctx.Err()
	}
}

// session returns a live session, round robin, waiting for one to come up
// if none is.
func (c *Client) session(ctx context.Context) (*session, error) {
	for {
		if s := c.pick(); s != nil {
			return s, nil
		}
		c.readyMu.Lock()
		ready := c.readyCh
		c.readyMu.Unlock()
		if s := c.pick(); s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (no connection: %w)", ctx.Err(), c.downErr())
		case <-c.closed:
			return nil, ErrClosed
		}
	}
}

// downErr explains why no connection is up: the last failed dial, or a
// generic error wrapping ErrUnavailable.
func (c *Client) downErr() error {
	if p := c.lastDialErr.Load(); p != nil {
		return *p
	}
	return &connError{addr: strings.Join(c.addrs, ", "), err: errors.New("not connected")}
}

func (c *Client) pick() *session {
	n := uint32(len(c.conns))
	start := c.rr.Add(1)
	for i := range n {
		if s := c.conns[(start+i)%n].sess.Load(); s != nil && !s.dead.Load() {
			return s
		}
	}
	return nil
}

// signalReady wakes the callers waiting for a live session.
func (c *Client) signalReady() {
	c.readyMu.Lock()
	close(c.readyCh)
	c.readyCh = make(chan struct{})
	c.readyMu.Unlock()
}

func (c *Client) setPageSize(n int) { c.pageSize.Store(int64(n)) }
