// Package cli is the coord command: `coord serve` runs the coordinator, the
// other commands administer the fleet's bans (bans, ban, unban, agents,
// health).
//
// Exit codes: 0 success; 1 an operation failed (NATS unreachable, …);
// 2 bad usage or input; 3 the ban to remove does not exist; 4 the fleet is
// not in sync or not well (`bans --cluster` found drift, `health` a
// problem, or hosts that did not answer).
package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/banfleet/banfleet/shared/obs"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitNotFound = 3
	ExitDrift    = 4
)

// ExitError carries an exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usageErr(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// The CLI's environment variables, which the README tells its users to
// export. The daemons never read them: coord serve reads
// config.CoordEnvPrefix + KEY, banfleet-agent config.AgentEnvPrefix + KEY.
const (
	envNATSURL      = "BANFLEET_NATS_URL"
	envNATSCreds    = "BANFLEET_NATS_CREDS"
	envNATSCA       = "BANFLEET_NATS_CA"
	envNATSUser     = "BANFLEET_NATS_USER"
	envNATSPassword = "BANFLEET_NATS_PASSWORD"
)

// Version is set at build time.
var Version = "dev"

type globals struct {
	natsURL  string
	creds    string
	ca       string
	user     string
	password string
	output   string
	timeout  time.Duration
	stdout   io.Writer
}

// NewRootCommand builds the coord command tree.
func NewRootCommand(stdout io.Writer) *cobra.Command {
	g := &globals{stdout: stdout}
	root := &cobra.Command{
		Use:           "coord",
		Short:         "banfleet coordinator and fleet ban administration",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       obs.Version(Version),
	}
	def := os.Getenv(envNATSURL)
	if def == "" {
		def = nats.DefaultURL
	}
	root.PersistentFlags().StringVar(&g.natsURL, "nats", def, "NATS URL (env "+envNATSURL+")")
	root.PersistentFlags().StringVar(&g.creds, "creds", os.Getenv(envNATSCreds), "NATS credentials file (env "+envNATSCreds+")")
	root.PersistentFlags().StringVar(&g.ca, "ca", os.Getenv(envNATSCA), "PEM file of the CA that signs the NATS server's certificate (env "+envNATSCA+")")
	root.PersistentFlags().StringVar(&g.user, "user", os.Getenv(envNATSUser), "NATS user, an admin of nats.users (env "+envNATSUser+")")
	root.PersistentFlags().StringVar(&g.password, "password", os.Getenv(envNATSPassword), "NATS password (env "+envNATSPassword+")")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", 5*time.Second, "how long to wait for NATS and for agents")
	root.SetOut(stdout)
	root.AddCommand(newServeCommand(), newBansCommand(g), newBanCommand(g), newUnbanCommand(g), newWhyCommand(g), newAgentsCommand(g), newHealthCommand(g), newHashPasswordCommand(g))
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRootCommand(stdout)
	root.SetArgs(args)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "coord:", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if isUsage(err) {
		return ExitUsage
	}
	return ExitFailure
}

func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (g *globals) checkOutput() error {
	if g.output != "table" && g.output != "json" {
		return usageErr("--output %q: must be table or json", g.output)
	}
	return nil
}

// session is one admin command's NATS connection and deadline.
type session struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *session) close() {
	s.cancel()
	s.nc.Close()
}

// open connects and starts the command's deadline (--timeout).
func (g *globals) open(parent context.Context) (*session, error) {
	nc, js, err := g.connect()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(parent, g.timeout)
	return &session{nc: nc, js: js, ctx: ctx, cancel: cancel}, nil
}

// connect opens NATS and JetStream for an admin command.
func (g *globals) connect() (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("coord cli"), nats.Timeout(g.timeout)}
	if g.creds != "" {
		opts = append(opts, nats.UserCredentials(g.creds))
	}
	if g.ca != "" {
		opts = append(opts, nats.RootCAs(g.ca))
	}
	if g.user != "" {
		opts = append(opts, nats.UserInfo(g.user, g.password))
	}
	nc, err := nats.Connect(g.natsURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", g.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream at %s: %w", g.natsURL, err)
	}
	return nc, js, nil
}
