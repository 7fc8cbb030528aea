package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/likes/likes/internal/testnode"
	"github.com/likes/likes/proto"
	"github.com/likes/likes/server"
)

// TestLargeFrameBeforeHello: before HELLO only a HELLO-sized frame is
// buffered; a connection announcing a large frame first gets TOO_LARGE and
// is closed, without the server waiting for (or allocating) the frame.
func TestLargeFrameBeforeHello(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	w := openWire(t, n, 0)
	games := make([]uint64, 500)
	frame := proto.AppendCountMany(nil, 9, 0, games)
	w.send(frame[:proto.HeaderSize]) // only the header: the rest never comes
	wantErr(t, w.next(), 9, proto.ErrTooLarge)
	w.closed()
}

// TestHandshakeTimeout: a connection that never sends HELLO is closed after
// Config.HandshakeTimeout; one that sent HELLO is not.
func TestHandshakeTimeout(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir())
	cfg.HandshakeTimeout = 200 * time.Millisecond
	n := testnode.Start(t, cfg)
	silent := openWire(t, n, 0)
	hello := openWire(t, n, 5)
	start := time.Now()
	silent.closed() // blocks until the server closes it (or the 10 s test deadline)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("silent connection closed after %v, handshake timeout is 200ms", d)
	}
	time.Sleep(300 * time.Millisecond) // past the handshake timeout of the other one
	hello.open(2)
}

// TestErrorMessageNotDoubled: an ERROR's message does not repeat the name of
// its code (clients print "code: message").
func TestErrorMessageNotDoubled(t *testing.T) {
	n := testnode.Start(t, testnode.Config(t, t.TempDir()))
	w := openWire(t, n, 3)
	w.send(proto.AppendHello(nil, 2, proto.Version, 3)) // a second HELLO: BAD_REQUEST
	m := w.next()
	wantErr(t, m, 2, proto.ErrBadRequest)
	if name := proto.ErrBadRequest.Error(); strings.Contains(m.Err.Message, name) {
		t.Errorf("message %q repeats the code name %q", m.Err.Message, name)
	}
}

// TestHandshakeTimeoutValidated: a negative handshake timeout is a
// configuration error, not a connection closed at once.
func TestHandshakeTimeoutValidated(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.HandshakeTimeout = -time.Second
	if err := cfg.Validate(); !errors.Is(err, server.ErrBadConfig) {
		t.Fatalf("Validate with HandshakeTimeout -1s = %v, want ErrBadConfig", err)
	}
}
