// Command coord runs the banfleet coordinator (coord serve) and administers
// the fleet's bans.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/banfleet/banfleet/coordinator/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
