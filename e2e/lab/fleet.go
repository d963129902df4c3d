package lab

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// natsAddr is where agents reach the coordinator's NATS server.
var natsAddr = net.JoinHostPort(CoordAddr.String(), "4222")

// FleetOptions configures StartFleet. The zero value starts the standard
// fleet: coordinator with DefaultCoordConfig, agents on h1, h2 and h3 with
// DefaultAgentConfig.
type FleetOptions struct {
	// Coord is the coordinator's configuration; nil means DefaultCoordConfig.
	Coord *CoordConfig
	// Agent, when set, may change each agent's configuration before it is
	// written.
	Agent func(host string, cfg *AgentConfig)
	// Hosts are the hosts that run an agent; nil means h1, h2, h3.
	Hosts []string
	// Env is added to the daemons' environment.
	Env []string
	// NATSTimeout bounds the wait for the NATS port; default 30s.
	NATSTimeout time.Duration
}

// Fleet is a running coordinator and its agents.
type Fleet struct {
	Coord        *Proc
	Agents       map[string]*Proc  // by host
	CoordConfig  string            // path of coord.yaml
	AgentConfigs map[string]string // paths of agent.yaml, by host
}

// StartFleet starts `coord serve` in the coord namespace, waits until its
// NATS port accepts TCP connections from h1, then starts the agents. On
// error, the processes it started are stopped.
func (l *Lab) StartFleet(opts FleetOptions) (*Fleet, error) {
	coordCfg := DefaultCoordConfig()
	if opts.Coord != nil {
		coordCfg = *opts.Coord
	}
	timeout := opts.NATSTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	hosts := opts.Hosts
	if hosts == nil {
		hosts = HostNames()
	}
	f := &Fleet{Agents: map[string]*Proc{}, AgentConfigs: map[string]string{}}
	fail := func(err error) (*Fleet, error) {
		var procs []*Proc
		if f.Coord != nil {
			procs = append(procs, f.Coord)
		}
		for _, p := range f.Agents {
			procs = append(procs, p)
		}
		stopAll(procs, 3*time.Second)
		return nil, err
	}

	path, err := l.WriteCoordConfig(coordCfg)
	if err != nil {
		return fail(err)
	}
	f.CoordConfig = path
	if f.Coord, err = l.startCoordProc(path, opts.Env); err != nil {
		return fail(err)
	}
	if err := l.WaitNATS(f.Coord, timeout); err != nil {
		return fail(err)
	}
	for _, h := range hosts {
		cfg := l.DefaultAgentConfig(h)
		if opts.Agent != nil {
			opts.Agent(h, &cfg)
		}
		path, err := l.WriteAgentConfig(h, cfg)
		if err != nil {
			return fail(err)
		}
		f.AgentConfigs[h] = path
		p, err := l.startAgentProc(h, path, opts.Env)
		if err != nil {
			return fail(err)
		}
		f.Agents[h] = p
	}
	return f, nil
}

// StartCoord writes cfg and starts `coord serve -c FILE` in the coord
// namespace, then waits (up to 30 s) until NATS accepts connections from h1.
func (l *Lab) StartCoord(cfg CoordConfig, env ...string) (*Proc, error) {
	path, err := l.WriteCoordConfig(cfg)
	if err != nil {
		return nil, err
	}
	p, err := l.startCoordProc(path, env)
	if err != nil {
		return nil, err
	}
	if err := l.WaitNATS(p, 30*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// StartAgent writes cfg and starts `banfleet-agent -c FILE` in host's
// namespace. It does not wait for the agent to be ready.
func (l *Lab) StartAgent(host string, cfg AgentConfig, env ...string) (*Proc, error) {
	path, err := l.WriteAgentConfig(host, cfg)
	if err != nil {
		return nil, err
	}
	return l.startAgentProc(host, path, env)
}

func (l *Lab) startCoordProc(configPath string, env []string) (*Proc, error) {
	if l.opts.Binaries.Coord == "" {
		return nil, ErrNoBinaries
	}
	return l.StartProcess(Coord, "coord", []string{l.opts.Binaries.Coord, "serve", "-c", configPath}, env)
}

func (l *Lab) startAgentProc(host, configPath string, env []string) (*Proc, error) {
	if l.opts.Binaries.Agent == "" {
		return nil, ErrNoBinaries
	}
	return l.StartProcess(host, "agent-"+host, []string{l.opts.Binaries.Agent, "-c", configPath}, env)
}

// WaitNATS waits until the coordinator's NATS port accepts a TCP
// connection from h1, failing early when coord (if not nil) exits.
func (l *Lab) WaitNATS(coord *Proc, timeout time.Duration) error {
	err := WaitFor(timeout, func() error {
		if coord != nil && coord.Exited() {
			return fmt.Errorf("coord exited: %v", coord.err)
		}
		return l.TCPConnect(H1, natsAddr, time.Second)
	})
	if err != nil {
		tail := ""
		if coord != nil {
			tail = "\n" + tailFile(coord.LogPath, 30)
		}
		return fmt.Errorf("wait for NATS at %s: %w%s", natsAddr, err, tail)
	}
	return nil
}

// Coord runs the admin CLI in the coord namespace, `coord --nats
// nats://10.77.0.10:4222 ARGS…` logged in as Admin over TLS (through the
// environment), and returns its standard output and exit
// status. err is non-nil only when the command could not run to completion
// (within 30 s); its standard error is logged when not empty.
func (l *Lab) Coord(args ...string) (stdout string, exit int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := l.CoordContext(ctx, args...)
	if s := strings.TrimSpace(res.Stderr); s != "" {
		l.logf("lab: coord %s: stderr: %s", strings.Join(args, " "), s)
	}
	return res.Stdout, res.Exit, err
}

// CoordContext is Coord with a context and the whole result.
func (l *Lab) CoordContext(ctx context.Context, args ...string) (CmdResult, error) {
	if l.opts.Binaries.Coord == "" {
		return CmdResult{}, ErrNoBinaries
	}
	full := append([]string{l.opts.Binaries.Coord, "--nats", NATSURL}, args...)
	return l.execIn(ctx, Coord, []string{"BANFLEET_NATS_USER=" + Admin, "BANFLEET_NATS_PASSWORD=" + l.NATSPassword(Admin), "BANFLEET_NATS_CA=" + l.NATSCA()}, full...)
}
