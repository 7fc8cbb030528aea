//go:build redis

// The Redis target's tests need a real redis-server, so they are built only
// with -tags redis: the README's test command (go test -race ./...) then
// works on a machine with only Go, and .ci/run, which installs
// redis-server, runs these too (go test -race -tags redis ./bench).

package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// startRedis starts a real redis-server on a free loopback port with its
// files in a temporary directory, and stops it when the test ends.
func startRedis(t *testing.T, extra ...string) (addr string, pid int) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (%v): the bench's Redis target is tested against a real one; install it with `apt-get install -y redis-server` (.ci/run does)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir,
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, cmd.Process.Pid
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server at %s never answered: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunRedis(t *testing.T) {
	addr, pid := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := shortOptions()
	tg, err := DialRedis(ctx, addr, o.Conns)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, ex, err := run(ctx, o, tg, Env{Logger: quietLogger(), ServerPID: pid})
	if err != nil {
		t.Fatal(err)
	}
	assertRun(t, res, o)
	if res.Memory.UsedBytes <= res.Memory.BaselineBytes || res.Memory.HeldBytes < res.Memory.UsedBytes {
		t.Errorf("used_memory did not grow with the preload, or allocator_active (held) is below it: %+v", res.Memory)
	}

	// The script's semantics: liking twice counts once, unliking an absent
	// pair changes nothing, and the counter follows the set.
	g := ex.games[0]
	before := exec1(ctx, t, tg, Op{Kind: OpCount, Game: g}).Count
	steps := []struct {
		kind    OpKind
		changed bool
		count   uint64
	}{{OpLike, true, before + 1}, {OpLike, false, before + 1}, {OpUnlike, true, before}, {OpUnlike, false, before}}
	for i, s := range steps {
		r := exec1(ctx, t, tg, Op{Kind: s.kind, Game: g, User: 1<<40 + 7})
		if r.Changed != s.changed || r.Count != s.count {
			t.Errorf("step %d %v: changed %v count %d, want %v %d", i, s.kind, r.Changed, r.Count, s.changed, s.count)
		}
	}
	// A planted discrepancy (the counter moved without the set) is caught.
	if err := tg.rdb.Incr(ctx, counterKey(g)).Err(); err != nil {
		t.Fatal(err)
	}
	cr := check(ctx, o.withDefaults(), tg, ex)
	if cr.OK || cr.Mismatches != 1 {
		t.Errorf("planted counter drift: check said %+v", cr)
	}
}

func exec1(ctx context.Context, t *testing.T, tg Target, op Op) OpResult {
	t.Helper()
	res := make([]OpResult, 1)
	tg.Exec(ctx, []Op{op}, res)
	if res[0].Err != nil {
		t.Fatalf("%v: %v", op.Kind, res[0].Err)
	}
	return res[0]
}
