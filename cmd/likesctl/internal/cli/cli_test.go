package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/likes/likes/cmd/likesctl/internal/cli"
	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
)

// run runs one likesctl command line in-process and returns its output.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errw bytes.Buffer
	err = cli.Run(ctx, args, &out, &errw)
	return out.String(), errw.String(), err
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := run(t, args...)
	if err != nil {
		t.Fatalf("likesctl %s: %v (stderr %q)", strings.Join(args, " "), err, stderr)
	}
	return out
}

// decodeJSON decodes the single JSON value a --json command printed into v,
// refusing trailing output.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("--json output %q does not end in a newline", out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("--json output %q holds more than one value", out)
	}
}

// deadAddr returns a loopback address with nothing listening on it.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

type writeJSON struct {
	Game    uint64 `json:"game"`
	User    uint64 `json:"user"`
	Changed bool   `json:"changed"`
	Count   uint64 `json:"count"`
	Index   uint64 `json:"index"`
}

type hasJSON struct {
	Game  uint64 `json:"game"`
	User  uint64 `json:"user"`
	Liked bool   `json:"liked"`
}

type countJSON struct {
	Game  uint64 `json:"game"`
	Count uint64 `json:"count"`
}

// TestCommands runs every command against one real node, in human and JSON
// form, and checks the answers against the state the commands built.
func TestCommands(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	addr := "--addr=" + n.Addr()
	const maxID = "18446744073709551615" // 2^64-1: ids are full unsigned 64-bit

	t.Run("like", func(t *testing.T) {
		if out, want := mustRun(t, addr, "like", "42", "1001"), "user 1001 liked game 42; it has 1 likes\n"; out != want {
			t.Errorf("first like printed %q, want %q", out, want)
		}
		if out, want := mustRun(t, addr, "like", "42", "1001"), "user 1001 liked game 42; it has 1 likes (no change)\n"; out != want {
			t.Errorf("second like printed %q, want %q", out, want)
		}
	})
	t.Run("like json", func(t *testing.T) {
		var first, again writeJSON
		decodeJSON(t, mustRun(t, addr, "--json", "like", "42", "7"), &first)
		if first.Game != 42 || first.User != 7 || !first.Changed || first.Count != 2 || first.Index == 0 {
			t.Errorf("first like = %+v; want game 42 user 7 changed count 2 and an index", first)
		}
		decodeJSON(t, mustRun(t, addr, "--json", "like", "42", "7"), &again)
		if again.Changed || again.Count != 2 || again.Game != 42 || again.User != 7 {
			t.Errorf("repeated like = %+v; want unchanged, count still 2", again)
		}
		if again.Index < first.Index {
			t.Errorf("repeated like at index %d, before the first at %d", again.Index, first.Index)
		}
		var big writeJSON
		decodeJSON(t, mustRun(t, addr, "--json", "like", maxID, maxID), &big)
		if big.Game != 1<<64-1 || big.User != 1<<64-1 || !big.Changed || big.Count != 1 {
			t.Errorf("like of the largest ids = %+v; want them exact, changed, count 1", big)
		}
	})
	t.Run("has", func(t *testing.T) {
		if out, want := mustRun(t, addr, "has", "42", "1001"), "user 1001 has liked game 42\n"; out != want {
			t.Errorf("has printed %q, want %q", out, want)
		}
		if out, want := mustRun(t, addr, "has", "42", "5"), "user 5 has not liked game 42\n"; out != want {
			t.Errorf("has printed %q, want %q", out, want)
		}
		var h hasJSON
		decodeJSON(t, mustRun(t, addr, "--json", "has", "42", "7"), &h)
		if h != (hasJSON{Game: 42, User: 7, Liked: true}) {
			t.Errorf("has --json = %+v; want liked", h)
		}
		decodeJSON(t, mustRun(t, addr, "--json", "has", "43", "7"), &h)
		if h != (hasJSON{Game: 43, User: 7, Liked: false}) {
			t.Errorf("has --json of an unliked game = %+v", h)
		}
		decodeJSON(t, mustRun(t, addr, "--json", "has", maxID, maxID), &h)
		if h != (hasJSON{Game: 1<<64 - 1, User: 1<<64 - 1, Liked: true}) {
			t.Errorf("has --json of the largest ids = %+v", h)
		}
	})
	t.Run("count", func(t *testing.T) {
		// Several games, one unknown, one repeated: in the order asked.
		out := mustRun(t, addr, "count", "42", "999", maxID, "42")
		want := "game 42: 2 likes\ngame 999: 0 likes\ngame " + maxID + ": 1 likes\ngame 42: 2 likes\n"
		if out != want {
			t.Errorf("count printed %q, want %q", out, want)
		}
		var rows []countJSON
		decodeJSON(t, mustRun(t, addr, "--json", "count", "42", "999", maxID), &rows)
		wantRows := []countJSON{{42, 2}, {999, 0}, {1<<64 - 1, 1}}
		if len(rows) != len(wantRows) {
			t.Fatalf("count --json = %+v, want %+v", rows, wantRows)
		}
		for i := range rows {
			if rows[i] != wantRows[i] {
				t.Errorf("count --json row %d = %+v, want %+v", i, rows[i], wantRows[i])
			}
		}
	})
	t.Run("unlike", func(t *testing.T) {
		if out, want := mustRun(t, addr, "unlike", "42", "1001"), "user 1001 unliked game 42; it has 1 likes\n"; out != want {
			t.Errorf("unlike printed %q, want %q", out, want)
		}
		if out, want := mustRun(t, addr, "unlike", "42", "1001"), "user 1001 unliked game 42; it has 1 likes (no change)\n"; out != want {
			t.Errorf("second unlike printed %q, want %q", out, want)
		}
		var w writeJSON
		decodeJSON(t, mustRun(t, addr, "--json", "unlike", "42", "7"), &w)
		if w.Game != 42 || w.User != 7 || !w.Changed || w.Count != 0 || w.Index == 0 {
			t.Errorf("unlike --json = %+v; want changed, count 0", w)
		}
		if out, want := mustRun(t, addr, "has", "42", "7"), "user 7 has not liked game 42\n"; out != want {
			t.Errorf("has after unlike printed %q, want %q", out, want)
		}
		if out, want := mustRun(t, addr, "count", "42"), "game 42: 0 likes\n"; out != want {
			t.Errorf("count after unlikes printed %q, want %q", out, want)
		}
	})
	t.Run("stats", func(t *testing.T) {
		type shard struct {
			ID    int  `json:"id"`
			Ready bool `json:"ready"`
		}
		type stats struct {
			Node     string  `json:"node"`
			Protocol int     `json:"protocol"`
			Games    uint64  `json:"games"`
			Likes    uint64  `json:"likes"`
			Shards   []shard `json:"shards"`
		}
		check := func(form, out string) {
			var st stats
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("stats (%s) printed %q: %v", form, out, err)
			}
			// Left: game maxID with one like; game 42 has none but is known.
			if st.Node != "node-1" || st.Protocol != int(proto.Version) || st.Likes != 1 || len(st.Shards) != 2 {
				t.Errorf("stats (%s) = %+v; want node-1, protocol %d, 1 like, 2 shards", form, st, proto.Version)
			}
			for _, s := range st.Shards {
				if !s.Ready {
					t.Errorf("stats (%s): shard %d not ready", form, s.ID)
				}
			}
		}
		human := mustRun(t, addr, "stats")
		if !strings.Contains(human, "\n  \"") {
			t.Errorf("stats printed %q, want indented JSON for people", human)
		}
		check("human", human)
		js := mustRun(t, addr, "--json", "stats")
		if strings.Count(strings.TrimSpace(js), "\n") != 0 {
			t.Errorf("stats --json printed %q, want one line", js)
		}
		check("json", js)
	})
	t.Run("ping", func(t *testing.T) {
		out := mustRun(t, addr, "ping")
		d, ok := strings.CutPrefix(strings.TrimSuffix(out, "\n"), "pong in ")
		if !ok {
			t.Fatalf("ping printed %q, want \"pong in <duration>\"", out)
		}
		if rtt, err := time.ParseDuration(d); err != nil || rtt < 0 || rtt > 30*time.Second {
			t.Errorf("ping printed round trip %q (%v, %v)", d, rtt, err)
		}
		var p struct {
			OK  bool    `json:"ok"`
			RTT float64 `json:"rtt_seconds"`
		}
		decodeJSON(t, mustRun(t, addr, "--json", "ping"), &p)
		if !p.OK || p.RTT <= 0 || p.RTT > 30 {
			t.Errorf("ping --json = %+v; want ok and a round trip in seconds", p)
		}
	})
	t.Run("several addresses", func(t *testing.T) {
		// The first address is down: the CLI goes on to the next one.
		out := mustRun(t, "--addr", deadAddr(t)+","+n.Addr(), "count", "42")
		if out != "game 42: 0 likes\n" {
			t.Errorf("count via a second address printed %q", out)
		}
	})
}

// TestUsageErrors checks every mistake a user can make on the command line:
// a *cli.UsageError naming the problem, nothing on stdout, and no dialling
// (the address has nothing listening, so a dial would fail differently).
func TestUsageErrors(t *testing.T) {
	addr := "--addr=" + deadAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of the message
	}{
		{"no command", []string{addr}, []string{"no command"}},
		{"no command, only flags", []string{addr, "--json"}, []string{"no command"}},
		{"unknown command", []string{addr, "frobnicate", "1"}, []string{`"frobnicate"`, "unknown command"}},
		{"unknown flag", []string{"--bogus", "ping"}, []string{"bogus"}},
		{"bad timeout", []string{"--timeout", "soon", "ping"}, []string{"soon"}},
		{"like without user", []string{addr, "like", "1"}, []string{"like", "2 arguments", "got 1"}},
		{"like with three ids", []string{addr, "like", "1", "2", "3"}, []string{"like", "2 arguments", "got 3"}},
		{"unlike without args", []string{addr, "unlike"}, []string{"unlike", "2 arguments", "got 0"}},
		{"has with one id", []string{addr, "has", "1"}, []string{"has", "2 arguments", "got 1"}},
		{"count without games", []string{addr, "count"}, []string{"count", "at least one GAME"}},
		{"stats with an argument", []string{addr, "stats", "1"}, []string{"stats", "0 arguments", "got 1"}},
		{"ping with an argument", []string{addr, "ping", "x"}, []string{"ping", "0 arguments", "got 1"}},
		{"non-numeric game", []string{addr, "like", "abc", "1"}, []string{`GAME "abc"`}},
		{"non-numeric user", []string{addr, "has", "1", "bob"}, []string{`USER "bob"`}},
		{"negative game", []string{addr, "unlike", "-1", "1"}, []string{`GAME "-1"`}},
		{"negative user", []string{addr, "like", "1", "-5"}, []string{`USER "-5"`}},
		{"game above 2^64-1", []string{addr, "like", "18446744073709551616", "1"}, []string{`GAME "18446744073709551616"`}},
		{"user above 2^64-1", []string{addr, "has", "1", "99999999999999999999999"}, []string{`USER "99999999999999999999999"`}},
		{"fractional id", []string{addr, "has", "1.5", "1"}, []string{`GAME "1.5"`}},
		{"hex id", []string{addr, "has", "0x10", "1"}, []string{`GAME "0x10"`}},
		{"empty id", []string{addr, "has", "", "1"}, []string{`GAME ""`}},
		{"bad game among good ones", []string{addr, "count", "1", "2", "x3"}, []string{`GAME "x3"`}},
		{"bench unknown flag", []string{"bench", "--bogus"}, []string{"bench: ", "bogus"}},
		{"bench unknown mix", []string{"bench", "--mix", "nope"}, []string{"bench: ", `"nope"`, "read-only"}},
		{"bench unknown pipelining", []string{"bench", "--likes-pipelining", "threads"}, []string{"bench: ", "threads"}},
		{"bench argument", []string{"bench", "extra"}, []string{"bench: ", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, tc.args...)
			var u *cli.UsageError
			if !errors.As(err, &u) {
				t.Fatalf("likesctl %q = %v (%T), want a *cli.UsageError", tc.args, err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("usage error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "cannot reach") {
				t.Errorf("usage error %q: the command line was not checked before dialling", err)
			}
			if out != "" {
				t.Errorf("stdout %q on a usage error, want nothing", out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-h"} {
		out, stderr, err := run(t, flag)
		if !errors.Is(err, cli.ErrHelp) {
			t.Fatalf("likesctl %s = %v, want cli.ErrHelp", flag, err)
		}
		var u *cli.UsageError
		if errors.As(err, &u) {
			t.Errorf("likesctl %s returned a usage error (exit status 2)", flag)
		}
		if out != "" {
			t.Errorf("likesctl %s wrote %q to stdout", flag, out)
		}
		for _, w := range []string{"Usage: likesctl", "like GAME USER", "unlike GAME USER", "has GAME USER", "count GAME...", "stats", "ping", "-addr", "-json", "-timeout"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("likesctl %s usage lacks %q:\n%s", flag, w, stderr)
			}
		}
	}
}

// TestNodeDown dials an address with nothing listening: a plain error (exit
// status 1, not 2) that says the node cannot be reached, well within the
// timeout.
func TestNodeDown(t *testing.T) {
	addr := deadAddr(t)
	for _, args := range [][]string{
		{"ping"},
		{"--json", "like", "1", "2"},
		{"count", "1", "2"},
	} {
		const timeout = 3 * time.Second
		start := time.Now()
		out, _, err := run(t, append([]string{"--addr", addr, "--timeout", timeout.String()}, args...)...)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("likesctl %q against a dead address succeeded: %q", args, out)
		}
		var u *cli.UsageError
		if errors.As(err, &u) || errors.Is(err, cli.ErrHelp) {
			t.Errorf("likesctl %q: %v is a usage error, want a node error", args, err)
		}
		if !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), addr) {
			t.Errorf("likesctl %q: error %q does not say it cannot reach %s", args, err, addr)
		}
		if !errors.Is(err, proto.ErrUnavailable) {
			t.Errorf("likesctl %q: error %v does not wrap ErrUnavailable", args, err)
		}
		if took > timeout+time.Second {
			t.Errorf("likesctl %q took %v, want it within the %v timeout", args, took, timeout)
		}
		if out != "" {
			t.Errorf("stdout %q when the node is down", out)
		}
	}
}

// TestTimeout: a listener that accepts but never answers HELLO; the command
// gives up at --timeout with a node error.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c // hold it open, say nothing
		}
	}()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, _, err = run(t, "--addr", l.Addr().String(), "--timeout", timeout.String(), "ping")
	took := time.Since(start)
	var u *cli.UsageError
	if err == nil || errors.As(err, &u) {
		t.Fatalf("ping of a silent server = %v, want a node error", err)
	}
	if !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("error %q does not say it cannot reach the node", err)
	}
	if took < timeout/2 || took > timeout+2*time.Second {
		t.Errorf("ping of a silent server took %v, want about the %v timeout", took, timeout)
	}
}

// TestIDsRoundTrip: the ids printed are the ids given, at the edges of uint64.
func TestIDsRoundTrip(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	for _, id := range []uint64{0, 1, 1<<53 + 1, 1<<63 + 1, 1<<64 - 1} {
		s := strconv.FormatUint(id, 10)
		var w writeJSON
		decodeJSON(t, mustRun(t, "--addr", n.Addr(), "--json", "like", s, s), &w)
		if w.Game != id || w.User != id || !w.Changed {
			t.Errorf("like %s %s = %+v", s, s, w)
		}
	}
}

// TestBenchHelpAndDeadTarget: likesctl bench --help is help (exit 0), and a
// bench against a node that is not there is an error about the node, not
// a usage error.
func TestBenchHelpAndDeadTarget(t *testing.T) {
	if _, _, err := run(t, "bench", "--help"); !errors.Is(err, cli.ErrHelp) {
		t.Errorf("bench --help = %v, want cli.ErrHelp", err)
	}
	_, _, err := run(t, "bench", "--target", "likes", "--likes-addr", deadAddr(t), "--duration", "100ms", "--preload", "-1")
	var u *cli.UsageError
	if err == nil || errors.As(err, &u) {
		t.Fatalf("bench against a dead node = %v (%T), want an error that is not a usage error", err, err)
	}
	if !strings.Contains(err.Error(), "likes") {
		t.Errorf("bench against a dead node: %q does not name the target", err)
	}
}
