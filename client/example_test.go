package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/likes/likes/client"
)

// Example shows the life of a client. It has no Output comment yet, so go
// test compiles it but does not run it: it needs a real likes server at
// 127.0.0.1:7070.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, "127.0.0.1:7070")
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
}
