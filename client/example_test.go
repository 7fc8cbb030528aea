package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/likes/likes/client"
	"github.com/likes/likes/server"
)

// Example shows the life of a client against a real likes node. The node is
// started here, on a free loopback port with its data in a temporary
// directory, so that the example runs as a test; an app server dials its
// nodes' addresses instead.
func Example() {
	addr, stop := startNode()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, addr)
	if err != nil {
		log.Fatal(err) // e.g. "client: no likes server answered at 127.0.0.1:7070: ..."
	}
	defer c.Close()

	const game, user = 42, 1001
	res, err := c.Like(ctx, game, user) // exactly once, retried on failure
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.Fatal("unknown whether the like was recorded: ", err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("changed:", res.Changed, "count:", res.Count)

	res, err = c.Like(ctx, game, user) // idempotent: a second like changes nothing
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changed:", res.Changed, "count:", res.Count)

	liked, err := c.HasLiked(ctx, game, user)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("liked:", liked)

	counts, err := c.CountMany(ctx, []uint64{game, 43, 44})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("counts:", counts)
	// Output:
	// changed: true count: 1
	// changed: false count: 1
	// liked: true
	// counts: [1 0 0]
}

// startNode starts a likes node for the example and returns its client
// address and a function that shuts it down and removes its data.
func startNode() (addr string, stop func()) {
	dir, err := os.MkdirTemp("", "likes-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.ListenAddr, cfg.AdminAddr = dir, "127.0.0.1:0", "off"
	cfg.Shards, cfg.ElectionTimeout = 1, 50*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := server.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	return n.Addr(), func() {
		n.Shutdown(context.Background())
		os.RemoveAll(dir)
	}
}
