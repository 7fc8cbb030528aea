package cli_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/likes/likes/cmd/likesctl/internal/cli"
	"github.com/likes/likes/internal/testnode"
)

// TestFlagsAfterCommand: flags may follow the command and its arguments, a
// negative number among them is still a bad id (not an unknown flag), and
// a command prints nothing on stderr when it succeeds.
func TestFlagsAfterCommand(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	addr := "--addr=" + n.Addr()

	out, stderr, err := run(t, "like", "7", "8", "--json", addr)
	if err != nil {
		t.Fatalf("like 7 8 --json --addr: %v (stderr %q)", err, stderr)
	}
	var w writeJSON
	decodeJSON(t, out, &w)
	if w.Game != 7 || w.User != 8 || !w.Changed || w.Count != 1 {
		t.Fatalf("like answered %+v", w)
	}
	if stderr != "" {
		t.Errorf("a successful command wrote to stderr: %q", stderr)
	}

	out, _, err = run(t, addr, "has", "--json", "7", "8")
	if err != nil {
		t.Fatal(err)
	}
	var h hasJSON
	decodeJSON(t, out, &h)
	if !h.Liked {
		t.Fatalf("has answered %+v", h)
	}

	_, _, err = run(t, addr, "has", "7", "-3", "--json")
	var u *cli.UsageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), `USER "-3"`) {
		t.Fatalf("has 7 -3: %v, want a usage error naming USER \"-3\"", err)
	}
}

// TestTimeoutMustBePositive: --timeout 0 or negative is bad usage, not a
// node that cannot be reached.
func TestTimeoutMustBePositive(t *testing.T) {
	for _, v := range []string{"0s", "-1s"} {
		_, _, err := run(t, "--timeout", v, "--addr", deadAddr(t), "ping")
		var u *cli.UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "--timeout") {
			t.Errorf("--timeout %s: %v, want a usage error about --timeout", v, err)
		}
	}
}
