package main

import (
	"context"
	"flag"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/likes/likes/client"
)

var (
	crashRounds = flag.Int("crash.rounds", 3, "kill -9 rounds in TestCrashKill9")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed for TestCrashKill9 (0: from the clock; the test logs it)")
)

// buildLikesd compiles the daemon once per test binary run.
func buildLikesd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "likesd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// pairState is what the test knows of one (game, user): the state its last
// acknowledged write left, unless a later write was sent but not
// acknowledged, in which case either state is allowed.
type pairState struct {
	liked   bool
	unknown bool
}

// TestCrashKill9 runs likesd as a real process under concurrent likes and
// unlikes, kills it with SIGKILL at a random moment (snapshots are frequent,
// so kills land during them too), restarts it on the same data, and checks
// that every acknowledged write is there and that every game's count equals
// the size of its set. Replay a failure with -crash.seed.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real daemon; skipped with -short")
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./cmd/likesd -run TestCrashKill9 -crash.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bin := buildLikesd(t)
	dir := t.TempDir()
	addr := freePort(t)

	const games, writers, usersPerWriter = 16, 8, 1 << 20
	var mu sync.Mutex
	state := map[[2]uint64]*pairState{}

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--data", dir, "--listen", addr, "--admin", "off", "--shards", "3",
			"--snapshot-threshold", "32", "--snapshot-interval", "100ms", "--election-timeout", "50ms", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for round := 0; round < *crashRounds; round++ {
		cmd := start()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		c, err := client.Dial(ctx, addr)
		for i := 0; err != nil && i < 200; i++ {
			time.Sleep(25 * time.Millisecond)
			c, err = client.Dial(ctx, addr)
		}
		if err != nil {
			cancel()
			t.Fatalf("round %d: dial: %v", round, err)
		}
		verify(t, ctx, c, state, round)

		// Load, then kill at a random moment.
		killAt := time.Duration(50+rng.IntN(700)) * time.Millisecond
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wrng := rand.New(rand.NewPCG(seed+uint64(round*writers+w), 7))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					g := wrng.Uint64N(games)
					u := uint64(w)<<32 | wrng.Uint64N(usersPerWriter)%64 // few users: likes and unlikes collide
					key := [2]uint64{g, u}
					mu.Lock()
					ps := state[key]
					if ps == nil {
						ps = &pairState{}
						state[key] = ps
					}
					like := !ps.liked || ps.unknown && wrng.IntN(2) == 0
					mu.Unlock()
					wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
					var err error
					if like {
						_, err = c.Like(wctx, g, u)
					} else {
						_, err = c.Unlike(wctx, g, u)
					}
					wcancel()
					mu.Lock()
					if err == nil {
						ps.liked, ps.unknown = like, false
					} else {
						ps.unknown = true
					}
					mu.Unlock()
					if err != nil {
						return // the node is gone; this writer's pairs stay as recorded
					}
				}
			}()
		}
		time.Sleep(killAt)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		close(stop)
		c.Close()
		wg.Wait()
		cancel()
		t.Logf("round %d: killed after %v; %d pairs tracked", round, killAt, len(state))
	}
	// Final check on a clean start, then a graceful stop.
	cmd := start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr)
	for i := 0; err != nil && i < 200; i++ {
		time.Sleep(25 * time.Millisecond)
		c, err = client.Dial(ctx, addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ctx, c, state, *crashRounds)
	c.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("likesd exited badly after SIGTERM: %v", err)
	}
}

// verify checks every pair whose state is known and that each game's count
// equals the number of its users that HAS reports (no other users exist).
func verify(t *testing.T, ctx context.Context, c *client.Client, state map[[2]uint64]*pairState, round int) {
	t.Helper()
	perGame := map[uint64]uint64{}
	for key, ps := range state {
		liked, err := c.HasLiked(ctx, key[0], key[1])
		if err != nil {
			t.Fatalf("round %d: has: %v", round, err)
		}
		if !ps.unknown && liked != ps.liked {
			t.Fatalf("round %d: game %d user %x: liked=%v, but the last acknowledged write left %v", round, key[0], key[1], liked, ps.liked)
		}
		if liked {
			perGame[key[0]]++
		}
		// What the node says is now the truth for the next round.
		ps.liked, ps.unknown = liked, false
	}
	for g := uint64(0); g < 16; g++ {
		n, err := c.Count(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if n != perGame[g] {
			t.Fatalf("round %d: game %d: count %d but %d users have liked it", round, g, n, perGame[g])
		}
	}
}
