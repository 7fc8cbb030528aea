package client

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/likes/likes/proto"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// quiet returns options for tests: a discarded log and short backoffs.
func quiet() Options {
	o := DefaultOptions()
	o.Logger = slog.New(slog.DiscardHandler)
	o.RetryBackoff = time.Millisecond
	o.MaxRetryBackoff = 20 * time.Millisecond
	return o
}

func dial(t testing.TB, f *fake, opts Options) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialOptions(ctx, opts, f.addr)
	if err != nil {
		t.Fatalf("DialOptions: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond (no fixed sleeps: it returns as soon as cond holds).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// sessions returns the client's live sessions.
func (c *Client) sessions() []*session {
	var ss []*session
	for _, cn := range c.conns {
		if s := cn.sess.Load(); s != nil && !s.dead.Load() {
			ss = append(ss, s)
		}
	}
	return ss
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("DefaultOptions().Validate() = %v", err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: Validate() = %v; zero fields take defaults", err)
	}
	bad := Options{Conns: MaxConns + 1, DialTimeout: -1, RetryBackoff: -time.Second, MaxRetryBackoff: -2 * time.Second, WriteWindow: MaxWriteWindow + 1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, field := range []string{"Conns", "DialTimeout", "RetryBackoff is", "MaxRetryBackoff", "WriteWindow"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate error %q does not report %s", err, field)
		}
	}
	if _, err := DialOptions(context.Background(), bad, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "Conns") {
		t.Errorf("DialOptions with bad options: %v", err)
	}
	if _, err := Dial(context.Background()); err == nil {
		t.Error("Dial with no address succeeded")
	}
}

func TestBasicOps(t *testing.T) {
	f := newFake(t).start()
	c := dial(t, f, quiet())
	ctx := ctxT(t)

	res, err := c.Like(ctx, 7, 100)
	if err != nil || res != (WriteResult{Changed: true, Count: 1, Index: 1}) {
		t.Fatalf("Like = %+v, %v", res, err)
	}
	if res, err = c.Like(ctx, 7, 100); err != nil || res.Changed || res.Count != 1 {
		t.Fatalf("second Like = %+v, %v; want unchanged, count 1", res, err)
	}
	if res, err = c.Like(ctx, 7, 101); err != nil || !res.Changed || res.Count != 2 {
		t.Fatalf("Like other user = %+v, %v", res, err)
	}
	if liked, err := c.HasLiked(ctx, 7, 100); err != nil || !liked {
		t.Errorf("HasLiked(7,100) = %v, %v", liked, err)
	}
	if liked, err := c.HasLiked(ctx, 7, 999); err != nil || liked {
		t.Errorf("HasLiked(7,999) = %v, %v", liked, err)
	}
	if n, err := c.Count(ctx, 7); err != nil || n != 2 {
		t.Errorf("Count(7) = %d, %v", n, err)
	}
	if res, err = c.Unlike(ctx, 7, 100); err != nil || !res.Changed || res.Count != 1 {
		t.Errorf("Unlike = %+v, %v", res, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if st, err := c.Stats(ctx); err != nil || string(st) != `{"fake":true}` {
		t.Errorf("Stats = %s, %v", st, err)
	}
	liked, err := c.HasLikedMany(ctx, 101, []uint64{1, 7, 8})
	if err != nil || !slices.Equal(liked, []bool{false, true, false}) {
		t.Errorf("HasLikedMany = %v, %v", liked, err)
	}
	counts, err := c.CountMany(ctx, []uint64{7, 8})
	if err != nil || !slices.Equal(counts, []uint64{1, 0}) {
		t.Errorf("CountMany = %v, %v", counts, err)
	}
}

func TestSeqAndClientID(t *testing.T) {
	f := newFake(t).start()
	o := quiet()
	o.ClientID = 42
	c := dial(t, f, o)
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := c.Like(ctx, uint64(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	c.HasLiked(ctx, 1, 1) // reads take no sequence number
	c.Unlike(ctx, 0, 1)
	_, seqs, ids, _, _ := f.snapshot()
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4}) {
		t.Errorf("write seqs = %v, want 1 2 3 4", seqs)
	}
	if len(ids) != o.Conns || slices.ContainsFunc(ids, func(id uint64) bool { return id != 42 }) {
		t.Errorf("HELLO client ids = %v, want %d × 42", ids, o.Conns)
	}

	c2 := dial(t, f, quiet())
	if c2.ClientID() == 0 || c2.ClientID() == 42 {
		t.Errorf("random client id = %d", c2.ClientID())
	}
	_, _, ids, _, _ = f.snapshot()
	if ids[len(ids)-1] != c2.ClientID() {
		t.Errorf("HELLO carried %d, ClientID() = %d", ids[len(ids)-1], c2.ClientID())
	}
}

// TestConcurrentCallers checks many goroutines against a reference model,
// with responses reordered and sometimes dribbled a byte at a time.
func TestConcurrentCallers(t *testing.T) {
	for _, dribble := range []bool{false, true} {
		t.Run(map[bool]string{false: "batched", true: "dribble"}[dribble], func(t *testing.T) {
			f := newFake(t)
			f.reorder, f.dribble = true, dribble
			f.maxBatch = 3
			f.start()
			c := dial(t, f, quiet())
			ctx := ctxT(t)
			seed := testSeed(t)
			const workers, ops, games, users = 16, 200, 6, 4
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					base := uint64(w) * 1000 // each worker owns its games: the model is exact
					liked := map[[2]uint64]bool{}
					count := map[uint64]uint64{}
					for range ops {
						g, u := base+rng.Uint64N(games), rng.Uint64N(users)
						switch rng.IntN(6) {
						case 0, 1:
							like := rng.IntN(2) == 0
							var res WriteResult
							var err error
							if like {
								res, err = c.Like(ctx, g, u)
							} else {
								res, err = c.Unlike(ctx, g, u)
							}
							k := [2]uint64{g, u}
							changed := liked[k] != like
							if changed {
								liked[k] = like
								if like {
									count[g]++
								} else {
									count[g]--
								}
							}
							if err != nil || res.Changed != changed || res.Count != count[g] {
								t.Errorf("write(%d,%d,like=%v) = %+v, %v; want changed %v count %d", g, u, like, res, err, changed, count[g])
								return
							}
						case 2:
							if got, err := c.HasLiked(ctx, g, u); err != nil || got != liked[[2]uint64{g, u}] {
								t.Errorf("HasLiked(%d,%d) = %v, %v", g, u, got, err)
								return
							}
						case 3:
							if got, err := c.Count(ctx, g); err != nil || got != count[g] {
								t.Errorf("Count(%d) = %d, %v; want %d", g, got, err, count[g])
								return
							}
						case 4:
							gs := make([]uint64, 1+rng.IntN(10))
							want := make([]bool, len(gs))
							for i := range gs {
								gs[i] = base + rng.Uint64N(games)
								want[i] = liked[[2]uint64{gs[i], u}]
							}
							if got, err := c.HasLikedMany(ctx, u, gs); err != nil || !slices.Equal(got, want) {
								t.Errorf("HasLikedMany(%d, %v) = %v, %v; want %v", u, gs, got, err, want)
								return
							}
						case 5:
							gs := make([]uint64, 1+rng.IntN(10))
							want := make([]uint64, len(gs))
							for i := range gs {
								gs[i] = base + rng.Uint64N(games)
								want[i] = count[gs[i]]
							}
							if got, err := c.CountMany(ctx, gs); err != nil || !slices.Equal(got, want) {
								t.Errorf("CountMany(%v) = %v, %v; want %v", gs, got, err, want)
								return
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestPipeliningBatches checks that concurrent calls share socket writes on
// the client and socket reads on the server.
func TestPipeliningBatches(t *testing.T) {
	f := newFake(t)
	f.delay = time.Millisecond // responses come back in bunches, so requests do too
	f.start()
	o := quiet()
	o.Conns = 1
	c := dial(t, f, o)
	ctx := ctxT(t)
	const workers, ops = 64, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				if _, err := c.HasLiked(ctx, uint64(w), uint64(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := c.sessions()[0]
	frames, writes := s.frames.Load(), s.writes.Load()
	t.Logf("client: %d frames in %d writes; fake: %d frames in %d reads", frames, writes, f.frames.Load(), f.reads.Load())
	if frames != workers*ops {
		t.Errorf("client queued %d frames, want %d", frames, workers*ops)
	}
	if writes*4 > frames {
		t.Errorf("client made %d writes for %d frames: want at least 4 frames per write", writes, frames)
	}
	if f.reads.Load()*4 > f.frames.Load() {
		t.Errorf("fake read %d times for %d frames: want at least 4 frames per read", f.reads.Load(), f.frames.Load())
	}
}

// TestMaxInFlight checks that the client keeps to the server's in-flight
// limit: the fake answers each read's frames before reading again, so a read
// can only hold more frames than the limit if the client exceeded it.
func TestMaxInFlight(t *testing.T) {
	f := newFake(t)
	f.maxInFlight = 4
	f.delay = time.Millisecond
	f.start()
	o := quiet()
	o.Conns = 1
	c := dial(t, f, o)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := c.Count(ctx, uint64(w*10+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	_, _, _, _, maxFrames := f.snapshot()
	if maxFrames > 4 {
		t.Errorf("fake got %d requests in one read; the limit is 4 in flight", maxFrames)
	}
	if maxFrames < 2 {
		t.Errorf("fake got at most %d requests per read: no pipelining", maxFrames)
	}
	if n := c.sessions()[0].inFlight(); n != 0 {
		t.Errorf("%d in-flight slots still taken", n)
	}
}

// TestWriteExactlyOnce breaks the connection around a write, before and
// after the fake applied it: the retry carries the same seq and the write is
// applied once.
func TestWriteExactlyOnce(t *testing.T) {
	for _, act := range []fakeAction{actDropBefore, actDropAfter} {
		t.Run(map[fakeAction]string{actDropBefore: "before", actDropAfter: "after"}[act], func(t *testing.T) {
			f := newFake(t).start()
			var n atomic.Int32
			f.setHook(func(m *proto.Msg) fakeReply {
				if m.Type == proto.TypeLike && n.Add(1) == 1 {
					return fakeReply{act: act}
				}
				return fakeReply{}
			})
			o := quiet()
			o.Conns = 1
			c := dial(t, f, o)
			ctx := ctxT(t)
			res, err := c.Like(ctx, 5, 9)
			if err != nil || res != (WriteResult{Changed: true, Count: 1, Index: 1}) {
				t.Fatalf("Like = %+v, %v; want the first (only) application", res, err)
			}
			applied, seqs, _, _, _ := f.snapshot()
			if applied != 1 || !slices.Equal(seqs, []uint64{1, 1}) {
				t.Errorf("applied %d times, seqs %v; want once, seqs [1 1]", applied, seqs)
			}
			if f.accepted.Load() != 2 {
				t.Errorf("fake accepted %d connections, want 2 (a reconnect)", f.accepted.Load())
			}
			// A new write is a new seq.
			if res, err := c.Like(ctx, 5, 9); err != nil || res.Changed {
				t.Errorf("second Like = %+v, %v", res, err)
			}
			if applied, seqs, _, _, _ := f.snapshot(); applied != 2 || seqs[len(seqs)-1] != 2 {
				t.Errorf("after second Like: applied %d, seqs %v", applied, seqs)
			}
		})
	}
}

// TestRetryableServerErrors: UNAVAILABLE, OVERLOADED, NOT_LEADER are retried
// with the same seq until the server serves the write.
func TestRetryableServerErrors(t *testing.T) {
	for _, code := range []proto.Code{proto.CodeUnavailable, proto.CodeOverloaded, proto.CodeNotLeader} {
		t.Run(code.String(), func(t *testing.T) {
			f := newFake(t).start()
			var n atomic.Int32
			f.setHook(func(m *proto.Msg) fakeReply {
				if n.Add(1) <= 3 {
					return fakeReply{act: actError, code: code, leader: "127.0.0.1:1"}
				}
				return fakeReply{}
			})
			c := dial(t, f, quiet())
			ctx := ctxT(t)
			if res, err := c.Unlike(ctx, 1, 2); err != nil || res.Changed {
				t.Fatalf("Unlike = %+v, %v", res, err)
			}
			applied, seqs, _, _, _ := f.snapshot()
			if applied != 1 || !slices.Equal(seqs, []uint64{1, 1, 1, 1}) {
				t.Errorf("applied %d, seqs %v; want 1, [1 1 1 1]", applied, seqs)
			}
			// A read is retried too.
			n.Store(0)
			if _, err := c.Count(ctx, 1); err != nil {
				t.Errorf("Count: %v", err)
			}
			// Until ctx ends: then the error wraps both.
			n.Store(-1 << 30)
			short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			_, err := c.Count(short, 1)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, code.Err()) {
				t.Errorf("Count past its deadline: %v; want it to wrap DeadlineExceeded and %v", err, code.Err())
			}
		})
	}
}

// TestFatalServerErrors: errors not worth retrying come back at once.
func TestFatalServerErrors(t *testing.T) {
	for _, code := range []proto.Code{proto.CodeBadRequest, proto.CodeTooLarge, proto.CodeSeqExpired, proto.CodeInternal, proto.CodeVersion} {
		t.Run(code.String(), func(t *testing.T) {
			f := newFake(t).start()
			f.setHook(func(m *proto.Msg) fakeReply { return fakeReply{act: actError, code: code} })
			c := dial(t, f, quiet())
			ctx := ctxT(t)
			_, err := c.Like(ctx, 1, 2)
			var pe *proto.Error
			if !errors.Is(err, code.Err()) || !errors.As(err, &pe) || pe.Code != code || pe.Message != "fake says so" {
				t.Errorf("Like: %v; want a *proto.Error with code %v", err, code)
			}
			if _, err := c.HasLiked(ctx, 1, 2); !errors.Is(err, code.Err()) {
				t.Errorf("HasLiked: %v; want %v", err, code.Err())
			}
			if _, seqs, _, _, _ := f.snapshot(); len(seqs) != 1 {
				t.Errorf("write sent %d times, want once", len(seqs))
			}
			if got := f.frames.Load(); got != 2 {
				t.Errorf("fake saw %d requests, want 2 (no retries)", got)
			}
		})
	}
}

func TestDialVersion(t *testing.T) {
	f := newFake(t)
	f.helloCode = proto.CodeVersion
	f.start()
	_, err := DialOptions(ctxT(t), quiet(), f.addr)
	if !errors.Is(err, ErrVersion) || !errors.Is(err, proto.ErrVersion) {
		t.Fatalf("Dial: %v; want ErrVersion", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("Dial: %v; a version mismatch is not unavailability", err)
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialClosedPort(t *testing.T) {
	addr := closedPort(t)
	start := time.Now()
	o := quiet()
	_, err := DialOptions(context.Background(), o, addr)
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	if el := time.Since(start); el >= o.DialTimeout {
		t.Errorf("Dial took %v: a refused connection should fail at once", el)
	}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), addr) {
		t.Errorf("Dial: %v; want ErrUnavailable, ECONNREFUSED and the address", err)
	}
	t.Logf("the error: %v", err)

	// The next address is tried.
	f := newFake(t).start()
	c, err := DialOptions(ctxT(t), o, addr, f.addr)
	if err != nil {
		t.Fatalf("Dial(closed, live): %v", err)
	}
	defer c.Close()
	if err := c.Ping(ctxT(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestDialSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept, never answer
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
		}
	}()
	o := quiet()
	o.DialTimeout = 50 * time.Millisecond
	_, err = DialOptions(context.Background(), o, ln.Addr().String())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial to a silent server: %v; want ErrUnavailable and DeadlineExceeded", err)
	}
}

// TestMalformedFrame: a frame that does not decode breaks the connection;
// the client reconnects and the call is retried.
func TestMalformedFrame(t *testing.T) {
	f := newFake(t).start()
	var n atomic.Int32
	f.setHook(func(m *proto.Msg) fakeReply {
		if n.Add(1) == 1 {
			return fakeReply{act: actMalformed}
		}
		return fakeReply{}
	})
	o := quiet()
	o.Conns = 1
	c := dial(t, f, o)
	if n, err := c.Count(ctxT(t), 3); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if f.accepted.Load() != 2 {
		t.Errorf("fake accepted %d connections, want 2", f.accepted.Load())
	}
}

// TestProtocolViolations: answers that decode but break the protocol (the
// wrong type, the wrong number of results, an id not in flight, an ERROR
// about the whole connection) end the connection; the client reconnects
// and the read is retried and answered.
func TestProtocolViolations(t *testing.T) {
	games := []uint64{3, 4, 5}
	for name, raw := range map[string]func(id uint32) []byte{
		"wrong type": func(id uint32) []byte { return proto.AppendEmpty(nil, proto.TypePing.Response(), id) },
		"wrong count": func(id uint32) []byte {
			return proto.AppendCountManyResp(nil, id, []uint64{1})
		},
		"id not in flight": func(id uint32) []byte { return proto.AppendCountManyResp(nil, id+1000, make([]uint64, len(games))) },
		"connection error": func(id uint32) []byte {
			return proto.AppendError(nil, 0, proto.CodeOf(proto.ErrInternal), "", "going down")
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t).start()
			var n atomic.Int32
			f.setHook(func(m *proto.Msg) fakeReply {
				if n.Add(1) == 1 {
					return fakeReply{act: actRaw, raw: raw}
				}
				return fakeReply{}
			})
			o := quiet()
			o.Conns = 1
			c := dial(t, f, o)
			counts, err := c.CountMany(ctxT(t), games)
			if err != nil || len(counts) != len(games) {
				t.Fatalf("CountMany = %v, %v", counts, err)
			}
			if f.accepted.Load() != 2 {
				t.Errorf("fake accepted %d connections, want 2 (the violation must end the first)", f.accepted.Load())
			}
		})
	}
}

func TestContextDeadline(t *testing.T) {
	f := newFake(t).start()
	f.setHook(func(m *proto.Msg) fakeReply { return fakeReply{act: actStall} })
	o := quiet()
	o.IOTimeout = -1
	c := dial(t, f, o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Like(ctx, 1, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Like: %v; want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Like returned %v after its deadline", el)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.HasLiked(ctx, 1, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("HasLiked with a cancelled ctx: %v", err)
	}
}

// TestLateResponseDiscarded: the response to a call that gave up arrives
// later, is discarded, and frees its in-flight slot without harming the
// connection.
func TestLateResponseDiscarded(t *testing.T) {
	f := newFake(t)
	f.delay = 50 * time.Millisecond
	f.maxInFlight = 1
	f.start()
	o := quiet()
	o.Conns = 1
	c := dial(t, f, o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := c.Like(ctx, 1, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Like: %v; want DeadlineExceeded", err)
	}
	// The only slot is held until the late response comes; this call waits for it.
	if n, err := c.Count(ctxT(t), 1); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1 (the abandoned Like was applied)", n, err)
	}
	if f.accepted.Load() != 1 {
		t.Errorf("fake accepted %d connections, want 1", f.accepted.Load())
	}
	if n := c.sessions()[0].inFlight(); n != 0 {
		t.Errorf("%d in-flight slots still taken", n)
	}
}

// TestIOTimeout: a connection that stops answering is replaced and its
// calls retried, a write with its seq.
func TestIOTimeout(t *testing.T) {
	f := newFake(t).start()
	var n atomic.Int32
	f.setHook(func(m *proto.Msg) fakeReply {
		if n.Add(1) == 1 {
			return fakeReply{act: actStall}
		}
		return fakeReply{}
	})
	o := quiet()
	o.Conns = 1
	o.IOTimeout = 40 * time.Millisecond
	c := dial(t, f, o)
	if res, err := c.Like(ctxT(t), 2, 3); err != nil || !res.Changed {
		t.Fatalf("Like = %+v, %v", res, err)
	}
	applied, seqs, _, _, _ := f.snapshot()
	if applied != 1 || !slices.Equal(seqs, []uint64{1, 1}) || f.accepted.Load() != 2 {
		t.Errorf("applied %d, seqs %v, %d connections; want 1, [1 1], 2", applied, seqs, f.accepted.Load())
	}
}

// TestReconnectAfterRestart stops the server and starts it again on the
// same address: calls made meanwhile wait and then succeed.
func TestReconnectAfterRestart(t *testing.T) {
	f := newFake(t).start()
	c := dial(t, f, quiet())
	ctx := ctxT(t)
	if _, err := c.Like(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	f.stop()
	waitFor(t, "the client to see its connections die", func() bool { return len(c.sessions()) == 0 })

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Count(short, 1); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Count while down: %v; want DeadlineExceeded and ErrUnavailable", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.Like(ctx, 1, 2)
		done <- err
	}()
	f.start()
	if err := <-done; err != nil {
		t.Fatalf("Like across the restart: %v", err)
	}
	if n, err := c.Count(ctx, 1); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if applied, _, _, _, _ := f.snapshot(); applied != 2 {
		t.Errorf("applied %d writes, want 2", applied)
	}
	waitFor(t, "all connections back", func() bool { return len(c.sessions()) == 2 })
}

// TestManyPaging: long lists are split into pages of the server's max batch
// and results keep the caller's order even when pages are answered out of
// order.
func TestManyPaging(t *testing.T) {
	f := newFake(t)
	f.maxBatch = 7
	f.reorder = true
	f.start()
	c := dial(t, f, quiet())
	ctx := ctxT(t)
	const user = 9
	games := make([]uint64, 50)
	wantLiked := make([]bool, len(games))
	wantCounts := make([]uint64, len(games))
	for i := range games {
		games[i] = uint64(1000 - i*3)
		if i%3 == 0 {
			if _, err := c.Like(ctx, games[i], user); err != nil {
				t.Fatal(err)
			}
			wantLiked[i], wantCounts[i] = true, 1
		}
		if i%5 == 0 {
			if _, err := c.Like(ctx, games[i], user+1); err != nil {
				t.Fatal(err)
			}
			wantCounts[i]++
		}
	}
	liked, err := c.HasLikedMany(ctx, user, games)
	if err != nil || !slices.Equal(liked, wantLiked) {
		t.Errorf("HasLikedMany = %v, %v\nwant %v", liked, err, wantLiked)
	}
	counts, err := c.CountMany(ctx, games)
	if err != nil || !slices.Equal(counts, wantCounts) {
		t.Errorf("CountMany = %v, %v\nwant %v", counts, err, wantCounts)
	}
	_, _, _, pages, _ := f.snapshot()
	want := []int{7, 7, 7, 7, 7, 7, 7, 1}
	if len(pages) != 16 || !slices.Equal(sorted(pages[:8]), sorted(want)) || !slices.Equal(sorted(pages[8:]), sorted(want)) {
		t.Errorf("page sizes %v; want two rounds of %v", pages, want)
	}

	// Empty lists cost no request.
	before := f.frames.Load()
	if l, err := c.HasLikedMany(ctx, user, nil); err != nil || len(l) != 0 {
		t.Errorf("HasLikedMany(nil) = %v, %v", l, err)
	}
	if n, err := c.CountMany(ctx, []uint64{}); err != nil || len(n) != 0 {
		t.Errorf("CountMany([]) = %v, %v", n, err)
	}
	if f.frames.Load() != before {
		t.Error("empty lists sent requests")
	}
}

func sorted(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestManyPageFails: when one page fails for good the call fails, and the
// other pages' calls are cleaned up (the client keeps working).
func TestManyPageFails(t *testing.T) {
	f := newFake(t)
	f.maxBatch = 2
	f.start()
	var n atomic.Int32
	f.setHook(func(m *proto.Msg) fakeReply {
		if m.Type == proto.TypeCountMany && n.Add(1) == 2 {
			return fakeReply{act: actError, code: proto.CodeInternal}
		}
		return fakeReply{}
	})
	c := dial(t, f, quiet())
	ctx := ctxT(t)
	if _, err := c.CountMany(ctx, []uint64{1, 2, 3, 4, 5, 6, 7}); !errors.Is(err, ErrInternal) {
		t.Errorf("CountMany: %v; want ErrInternal", err)
	}
	if got, err := c.CountMany(ctx, []uint64{1, 2, 3, 4, 5}); err != nil || len(got) != 5 {
		t.Errorf("CountMany after a failure = %v, %v", got, err)
	}
}

func TestClose(t *testing.T) {
	f := newFake(t).start()
	f.setHook(func(m *proto.Msg) fakeReply {
		if m.Type == proto.TypeHas {
			return fakeReply{act: actStall}
		}
		return fakeReply{}
	})
	c := dial(t, f, quiet())
	done := make(chan error, 1)
	go func() {
		_, err := c.HasLiked(context.Background(), 1, 1)
		done <- err
	}()
	waitFor(t, "the request to reach the fake", func() bool { return f.frames.Load() == 1 })
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("call in flight at Close: %v; want ErrClosed", err)
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close: %v; want ErrClosed", err)
	}
	if _, err := c.Like(context.Background(), 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Like after Close: %v; want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseWhileDown: Close is prompt while connections are being re-dialled.
func TestCloseWhileDown(t *testing.T) {
	f := newFake(t).start()
	o := quiet()
	o.RetryBackoff, o.MaxRetryBackoff = time.Hour, time.Hour
	c := dial(t, f, o)
	f.stop()
	waitFor(t, "connections to die", func() bool { return len(c.sessions()) == 0 })
	done := make(chan error, 1)
	go func() { done <- c.Ping(context.Background()) }()
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Ping waiting for a connection at Close: %v", err)
	}
}
