package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/likes/likes/client"
	"github.com/likes/likes/internal/testnode"
)

// shortOptions is a run small enough for go test.
func shortOptions() Options {
	return Options{
		Seed: 42, Games: 2000, Preload: 5000, PreloadDepth: 64,
		Concurrency: 4, Depth: 4, Conns: 2, BatchSize: 8,
		Mix:      Mix{Has: 40, HasMany: 10, Count: 10, Like: 25, Unlike: 15},
		Duration: 700 * time.Millisecond, Warmup: 150 * time.Millisecond,
		SampleGames: 16,
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// assertRun checks a short run's result: requests of every kind happened,
// none failed, and the read-back matched.
func assertRun(t *testing.T, res TargetResult, o Options) {
	t.Helper()
	if res.Ops < 100 {
		t.Errorf("only %d requests in %v", res.Ops, o.Duration)
	}
	if res.Errors != 0 || res.Preload.Errors != 0 {
		t.Errorf("%d request errors, %d preload errors: %v %s", res.Errors, res.Preload.Errors, res.ErrorExamples, res.Preload.FirstError)
	}
	if len(res.PerOp) != int(numOpKinds) {
		t.Errorf("figures for %d op kinds, want %d", len(res.PerOp), numOpKinds)
	}
	for _, s := range res.PerOp {
		if s.Ops == 0 || s.Latency.P50Micros <= 0 || s.Latency.P99Micros < s.Latency.P50Micros || s.Latency.MaxMicros < s.Latency.P99Micros {
			t.Errorf("%s: implausible figures %+v", s.Op, s)
		}
	}
	if res.Preload.Distinct == 0 || res.Preload.Distinct > uint64(o.Preload) {
		t.Errorf("preload: %d distinct likes of %d sent", res.Preload.Distinct, o.Preload)
	}
	if res.ServerCores <= 0 || res.BenchCores <= 0 {
		t.Errorf("CPU figures: server %v cores, bench %v cores", res.ServerCores, res.BenchCores)
	}
	if res.Memory.BytesPerLike <= 0 {
		t.Errorf("no bytes per like: %+v", res.Memory)
	}
	c := res.Check
	if !c.OK || c.Counts != o.SampleGames || c.Pairs < 100 || c.Mismatches != 0 {
		t.Errorf("check: %+v", c)
	}
}

func TestRunLikes(t *testing.T) {
	t.Run("goroutines", func(t *testing.T) { testRunLikes(t, Goroutines) })
	t.Run("batches", func(t *testing.T) { testRunLikes(t, Batches) })
}

func testRunLikes(t *testing.T, style Pipelining) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := shortOptions()
	tg, err := DialLikes(ctx, o.Conns, quietLogger(), n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Style = style
	res, ex, err := run(ctx, o, tg, Env{Logger: quietLogger(), ServerPID: os.Getpid()}) // the node runs in this process
	if err != nil {
		t.Fatal(err)
	}
	assertRun(t, res, o)
	if res.Pipelining != style.String() {
		t.Errorf("ran with %s pipelining, want %s", res.Pipelining, style)
	}
	if res.Memory.SetBytesPerLike <= 0 || res.Memory.Likes != res.Preload.Distinct || res.Memory.HeldBytes < res.Memory.UsedBytes {
		t.Errorf("likes memory figures: %+v, preload %+v", res.Memory, res.Preload)
	}

	// A second run against the same node must refuse: its games are not empty.
	if _, err := Run(ctx, o, tg, Env{Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "already has") {
		t.Errorf("rerun on a non-empty node: got %v, want an 'already has' error", err)
	}

	// Plant a discrepancy behind the bench's back: the check must see it.
	c, err := client.DialOptions(ctx, client.Options{Logger: quietLogger()}, n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	game := ex.games[len(ex.games)-1]
	if _, err := c.Like(ctx, game, 1<<40+12345); err != nil {
		t.Fatal(err)
	}
	cr := check(ctx, o.withDefaults(), tg, ex)
	if cr.OK || cr.Mismatches != 1 || len(cr.Examples) != 1 || !strings.Contains(cr.Examples[0], "COUNT game "+strconv.FormatUint(game, 10)) {
		t.Errorf("planted extra like in game %d: check said %+v", game, cr)
	}
	// An unlike of a pair the bench expects present is caught as a membership.
	// The victim is a pair the bench liked during the run: the check reads
	// every written pair back.
	var victim pair
	for p, st := range ex.final {
		if st == stateLiked {
			victim = p
			break
		}
	}
	if victim.game == 0 {
		t.Fatal("the run liked nothing in the sampled games")
	}
	if _, err := c.Unlike(ctx, victim.game, victim.user); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unlike(ctx, game, 1<<40+12345); err != nil {
		t.Fatal(err)
	}
	cr = check(ctx, o.withDefaults(), tg, ex)
	if cr.OK || cr.Mismatches != 2 {
		t.Errorf("planted missing like %v: check said %+v", victim, cr)
	}
}
