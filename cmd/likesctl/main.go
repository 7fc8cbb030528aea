// Command likesctl is the operator's command line for a likes node.
//
//	likesctl [--addr host:port,...] [--json] [--timeout 5s] COMMAND [ARGS]
//
//	like GAME USER      like a game as a user (idempotent)
//	unlike GAME USER    remove a like (idempotent)
//	has GAME USER       has USER liked GAME?
//	count GAME...       like counts of one or more games
//	stats               node statistics
//	ping                round-trip time to the node
//	bench [FLAGS]       load test likes and/or Redis side by side (see bench --help)
//
// Flags may come before or after the command. Output is for people by default and JSON with --json. It exits 0 on
// success, 1 when the node is unreachable or answers with an error, and 2 on
// bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/likes/likes/cmd/likesctl/internal/cli"
)

func main() {
	err := cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var u *cli.UsageError
	if errors.As(err, &u) {
		fmt.Fprintln(os.Stderr, "likesctl:", err)
		fmt.Fprintln(os.Stderr, "run 'likesctl --help' for usage")
		os.Exit(2)
	}
	if errors.Is(err, cli.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "likesctl:", err)
	os.Exit(1)
}
