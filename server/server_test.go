package server_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likes/likes/client"
	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
	"github.com/likes/likes/server"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, n *server.Node) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), n.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestLikeUnlikeHasCount(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	const game, user = 42, 1 << 40 // ids beyond 32 bits
	r, err := c.Like(ctx, game, user)
	if err != nil || !r.Changed || r.Count != 1 || r.Index == 0 {
		t.Fatalf("first like = %+v, %v; want changed, count 1, an index", r, err)
	}
	r2, err := c.Like(ctx, game, user)
	if err != nil || r2.Changed || r2.Count != 1 {
		t.Fatalf("second like = %+v, %v; want unchanged, count 1", r2, err)
	}
	if liked, err := c.HasLiked(ctx, game, user); err != nil || !liked {
		t.Fatalf("HasLiked = %v, %v; want true", liked, err)
	}
	if liked, err := c.HasLiked(ctx, game, user+1); err != nil || liked {
		t.Fatalf("HasLiked(other user) = %v, %v; want false", liked, err)
	}
	if _, err := c.Like(ctx, game, 7); err != nil {
		t.Fatal(err)
	}
	if cnt, err := c.Count(ctx, game); err != nil || cnt != 2 {
		t.Fatalf("Count = %d, %v; want 2", cnt, err)
	}
	r, err = c.Unlike(ctx, game, 999) // never liked: no change, current state
	if err != nil || r.Changed || r.Count != 2 {
		t.Fatalf("unlike of a never-liked game = %+v, %v; want unchanged, count 2", r, err)
	}
	r, err = c.Unlike(ctx, game, user)
	if err != nil || !r.Changed || r.Count != 1 {
		t.Fatalf("unlike = %+v, %v; want changed, count 1", r, err)
	}
	liked, err := c.HasLikedMany(ctx, 7, []uint64{game, 43, game})
	if err != nil || len(liked) != 3 || !liked[0] || liked[1] || !liked[2] {
		t.Fatalf("HasLikedMany = %v, %v; want [true false true]", liked, err)
	}
	counts, err := c.CountMany(ctx, []uint64{43, game})
	if err != nil || len(counts) != 2 || counts[0] != 0 || counts[1] != 1 {
		t.Fatalf("CountMany = %v, %v; want [0 1]", counts, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestManyGamesAcrossShards writes concurrently through one client to games
// on every shard and checks every count and membership.
func TestManyGamesAcrossShards(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	const games, users = 50, 40
	var wg sync.WaitGroup
	errc := make(chan error, games)
	for g := uint64(0); g < games; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := uint64(0); u < users; u++ {
				if u%(g%5+1) != 0 {
					continue
				}
				if _, err := c.Like(ctx, g, u); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	all := make([]uint64, games)
	for g := range all {
		all[g] = uint64(g)
	}
	counts, err := c.CountMany(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for g, cnt := range counts {
		want := uint64(0)
		for u := uint64(0); u < users; u++ {
			if u%uint64(g%5+1) == 0 {
				want++
			}
		}
		if cnt != want {
			t.Errorf("game %d: count %d, want %d", g, cnt, want)
		}
	}
	liked, err := c.HasLikedMany(ctx, 3, all)
	if err != nil {
		t.Fatal(err)
	}
	for g, l := range liked {
		if want := 3%(g%5+1) == 0; l != want {
			t.Errorf("user 3 game %d: liked %v, want %v", g, l, want)
		}
	}
}

// TestRestartKeepsState shuts a node down gracefully and starts it again on
// the same data: every acknowledged write is there.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	cfg := testnode.Config(t, dir)
	n := testnode.Start(t, cfg)
	c := dial(t, n)
	ctx := ctxT(t)
	for u := uint64(0); u < 300; u++ {
		if _, err := c.Like(ctx, u%7, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Unlike(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	n2 := testnode.Start(t, cfg)
	c2 := dial(t, n2)
	for g := uint64(0); g < 7; g++ {
		want := uint64(300 / 7)
		if g < 300%7 {
			want++
		}
		if g == 0 {
			want--
		}
		if cnt, err := c2.Count(ctx, g); err != nil || cnt != want {
			t.Errorf("after restart game %d: count %d, %v; want %d", g, cnt, err, want)
		}
	}
	if liked, _ := c2.HasLiked(ctx, 0, 0); liked {
		t.Error("unlike lost across restart")
	}
	if liked, _ := c2.HasLiked(ctx, 1, 1); !liked {
		t.Error("like lost across restart")
	}
}

func TestMalformedInput(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	healthy := dial(t, n)
	ctx := ctxT(t)
	if _, err := healthy.Like(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}

	t.Run("no hello first", func(t *testing.T) {
		r := openWire(t, n, 0)
		r.send(proto.AppendCount(nil, 5, 0, 1))
		wantErr(t, r.next(), 5, proto.ErrBadRequest)
		r.closed()
	})
	t.Run("old version", func(t *testing.T) {
		r := openWire(t, n, 0)
		r.send(proto.AppendHello(nil, 1, 0, 1))
		wantErr(t, r.next(), 1, proto.ErrVersion)
		r.closed()
	})
	t.Run("bad magic", func(t *testing.T) {
		r := openWire(t, n, 0)
		b := proto.AppendHello(nil, 3, proto.Version, 1)
		copy(b[proto.HeaderSize:], "HTTP")
		r.send(b)
		wantErr(t, r.next(), 3, proto.ErrBadRequest)
		r.closed()
	})
	t.Run("garbage", func(t *testing.T) {
		r := openWire(t, n, 77)
		r.send([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		m := r.next()
		if m.Type != proto.TypeError {
			t.Fatalf("got %v", m.Type)
		}
		r.closed()
	})
	t.Run("frame too large", func(t *testing.T) {
		r := openWire(t, n, 77)
		var b [proto.HeaderSize]byte
		binary.BigEndian.PutUint32(b[:], proto.MaxFrameSize) // length+4 > limit
		b[4] = byte(proto.TypeCount)
		binary.BigEndian.PutUint32(b[6:], 9)
		r.send(b[:])
		wantErr(t, r.next(), 9, proto.ErrTooLarge)
		r.closed()
	})
	t.Run("trailing bytes", func(t *testing.T) {
		r := openWire(t, n, 77)
		b := proto.AppendCount(nil, 11, 0, 1)
		b = append(b, 0)
		binary.BigEndian.PutUint32(b, binary.BigEndian.Uint32(b)+1)
		r.send(b)
		wantErr(t, r.next(), 11, proto.ErrBadRequest)
		r.closed()
	})
	t.Run("unsupported consistency keeps the connection", func(t *testing.T) {
		r := openWire(t, n, 77)
		r.send(proto.AppendCount(nil, 12, proto.ConsistencyLinearizable, 1))
		wantErr(t, r.next(), 12, proto.ErrBadRequest)
		r.send(proto.AppendCount(nil, 13, proto.ConsistencyDefault, 1))
		if m := r.next(); m.Type != proto.TypeCount|proto.ResponseBit || m.ID != 13 || m.Count != 1 {
			t.Fatalf("after an argument error: %+v", m)
		}
	})
	t.Run("response type from client", func(t *testing.T) {
		r := openWire(t, n, 77)
		r.send(proto.AppendCountResp(nil, 14, 1))
		wantErr(t, r.next(), 14, proto.ErrBadRequest)
		r.closed()
	})
	t.Run("second hello", func(t *testing.T) {
		r := openWire(t, n, 77)
		r.send(proto.AppendHello(nil, 15, proto.Version, 1))
		wantErr(t, r.next(), 15, proto.ErrBadRequest)
		r.send(proto.AppendEmpty(nil, proto.TypePing, 16))
		if m := r.next(); m.Type != proto.TypePing|proto.ResponseBit || m.ID != 16 {
			t.Fatalf("ping after second hello: %+v", m)
		}
	})
	// The well-behaved client never noticed.
	if cnt, err := healthy.Count(ctx, 1); err != nil || cnt != 1 {
		t.Fatalf("healthy client after the abuse: %d, %v", cnt, err)
	}
}

func TestBatchLimit(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	cfg.MaxBatch = 8
	n := testnode.Start(t, cfg)
	r := openWire(t, n, 77)
	r.send(proto.AppendCountMany(nil, 2, 0, make([]uint64, 9)))
	wantErr(t, r.next(), 2, proto.ErrTooLarge)
	// The client pages by the server's limit and keeps order.
	c := dial(t, n)
	ctx := ctxT(t)
	games := make([]uint64, 20)
	for i := range games {
		games[i] = uint64(i)
		if i%3 == 0 {
			if _, err := c.Like(ctx, uint64(i), 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	liked, err := c.HasLikedMany(ctx, 5, games)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range liked {
		if l != (i%3 == 0) {
			t.Errorf("game %d: %v", i, l)
		}
	}
}

func TestTooManyConns(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	cfg.MaxConns = 2
	n := testnode.Start(t, cfg)
	openWire(t, n, 77)
	openWire(t, n, 77)
	r := openWire(t, n, 0)
	wantErr(t, r.next(), 0, proto.ErrOverloaded)
	r.closed()
}

// TestExactlyOnce retries a write with the same client id and sequence
// number on another connection, after other writes of the same client and
// user came in between: it returns its first result and is not applied again.
func TestExactlyOnce(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	a := openWire(t, n, 77) // client id 77
	a.send(proto.AppendWrite(nil, proto.TypeLike, 2, 9, 100, 1))
	first := a.next()
	if first.Type != proto.TypeLike|proto.ResponseBit || !first.Changed || first.Count != 1 {
		t.Fatalf("first like: %+v", first)
	}
	a.send(proto.AppendWrite(nil, proto.TypeUnlike, 3, 9, 100, 2)) // the user unlikes in between
	if m := a.next(); !m.Changed || m.Count != 0 {
		t.Fatalf("unlike: %+v", m)
	}
	b := openWire(t, n, 77) // same client id, new connection: a reconnect
	b.send(proto.AppendWrite(nil, proto.TypeLike, 4, 9, 100, 1))
	retry := b.next()
	if retry.Type != first.Type || retry.Changed != first.Changed || retry.Count != first.Count || retry.Index != first.Index {
		t.Fatalf("retry answered %+v, want the first result %+v", retry, first)
	}
	b.send(proto.AppendCount(nil, 5, 0, 9))
	if m := b.next(); m.Count != 0 {
		t.Fatalf("count after the retry = %d, want 0: the retry was applied again", m.Count)
	}
}

func TestAdminEndpoints(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	c := dial(t, n)
	ctx := ctxT(t)
	for u := uint64(0); u < 10; u++ {
		if _, err := c.Like(ctx, 1, u); err != nil {
			t.Fatal(err)
		}
	}
	c.HasLiked(ctx, 1, 1)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + n.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`likes_requests_total{op="like"} 10`,
		`likes_requests_total{op="has"} 1`,
		"likes_request_duration_seconds_bucket",
		"likes_write_batch_ops_bucket",
		"likes_raft_commit_seconds_bucket",
		"likes_raft_apply_seconds_bucket",
		"likes_likes 10",
		"likes_games 1",
		"likes_heap_bytes_per_like",
		"likes_snapshot_persist_seconds",
		"likes_raft_log_store_entries_bucket",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Ten acknowledged likes, one at a time: at least ten log appends timed.
	if m := regexp.MustCompile(`(?m)^likes_raft_log_store_seconds_count (\d+)$`).FindStringSubmatch(metrics); m == nil {
		t.Errorf("/metrics lacks likes_raft_log_store_seconds_count")
	} else if n, _ := strconv.Atoi(m[1]); n < 10 {
		t.Errorf("likes_raft_log_store_seconds_count = %d after 10 sequential likes, want >= 10", n)
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ = %d", code)
	}
	raw, err := c.Stats(ctx)
	if err != nil || !strings.Contains(string(raw), `"likes":10`) {
		t.Errorf("STATS = %s, %v", raw, err)
	}
}

// TestGracefulShutdown shuts the node down under write load: every write
// acknowledged before or during the drain is there after a restart, and no
// write is answered with anything but success or a retryable error.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := testnode.Config(t, dir)
	n := testnode.Start(t, cfg)
	c := dial(t, n)
	ctx := ctxT(t)
	var mu sync.Mutex
	acked := map[uint64]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := uint64(0); w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := w<<32 | i
				wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				_, err := c.Like(wctx, 5, user)
				cancel()
				if err == nil {
					mu.Lock()
					acked[user] = true
					mu.Unlock()
				} else if !errors.Is(err, proto.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, client.ErrClosed) {
					t.Errorf("write failed with a non-retryable error: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let load build up; the assertions do not depend on timing
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	close(stop)
	wg.Wait()
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before shutdown")
	}
	n2 := testnode.Start(t, cfg)
	c2 := dial(t, n2)
	users := make([]uint64, 0, len(acked))
	for u := range acked {
		users = append(users, u)
	}
	for _, u := range users {
		if l, err := c2.HasLiked(ctx, 5, u); err != nil || !l {
			t.Fatalf("acknowledged like of user %x lost: %v %v", u, l, err)
		}
	}
	if cnt, _ := c2.Count(ctx, 5); cnt < uint64(len(acked)) {
		t.Fatalf("count %d < %d acknowledged likes", cnt, len(acked))
	}
	t.Logf("%d writes acknowledged before shutdown", len(acked))
}

func TestConfigValidate(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Shards = -1
	cfg.MaxBatch = proto.MaxBatch + 1
	cfg.MaxInFlight = -5
	err := cfg.Validate()
	if !errors.Is(err, server.ErrBadConfig) {
		t.Fatalf("Validate = %v, want ErrBadConfig", err)
	}
	for _, want := range []string{"shards", "max batch", "max in-flight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %q: %v", want, err)
		}
	}
	if err := server.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestSecondNodeOnSameDataFails(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	testnode.Start(t, cfg)
	if n, err := server.Start(cfg); err == nil {
		n.Shutdown(context.Background())
		t.Fatal("a second node started on the same data directory")
	}
}

func TestSlotTableDecides(t *testing.T) {
	// Shards is read on first start only; the slot table on disk wins after.
	dir := t.TempDir()
	cfg := testnode.Config(t, dir)
	cfg.Shards = 3
	n := testnode.Start(t, cfg)
	n.Shutdown(context.Background())
	cfg.Shards = 5
	n = testnode.Start(t, cfg)
	if got := len(n.Stats().Shards); got != 3 {
		t.Fatalf("restart with --shards 5 runs %d shards, want the 3 on disk", got)
	}
}
