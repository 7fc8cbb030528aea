package main

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/likes/likes/internal/testnode"
)

// TestBinaryExitCodes builds the real likesctl and checks the exit statuses
// main.go promises: 0 on success and on --help, 1 when the node cannot be
// reached, 2 on bad usage.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "likesctl")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		noStdout bool
	}{
		{name: "like", args: []string{"--addr", n.Addr(), "like", "3", "4"}, code: 0, stdout: "user 4 liked game 3; it has 1 likes"},
		{name: "count json", args: []string{"--addr", n.Addr(), "--json", "count", "3"}, code: 0, stdout: `[{"game":3,"count":1}]`},
		{name: "help", args: []string{"--help"}, code: 0, stderr: "Usage: likesctl", noStdout: true},
		{name: "node down", args: []string{"--addr", dead, "--timeout", "2s", "ping"}, code: 1, stderr: "likesctl: cannot reach likes node at " + dead, noStdout: true},
		{name: "no command", args: nil, code: 2, stderr: "likesctl: no command given\nrun 'likesctl --help' for usage", noStdout: true},
		{name: "bad id", args: []string{"--addr", dead, "has", "1", "-2"}, code: 2, stderr: `USER "-2"`, noStdout: true},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "nope", noStdout: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("likesctl %q exited %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q lacks %q", &stdout, tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", &stderr, tc.stderr)
			}
			if tc.noStdout && stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", &stdout)
			}
		})
	}
}
