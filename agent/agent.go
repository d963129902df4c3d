package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/banfleet/banfleet/agent/enforce"
	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/agent/publish"
	"github.com/banfleet/banfleet/agent/tail"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/obs"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// Agent is a configured banfleet-agent.
type Agent struct {
	cfg     *config.Agent
	log     *slog.Logger
	reg     *prometheus.Registry
	version string
	started time.Time
	runCtx  context.Context // ends when the agent stops; bounds blocking hand-offs

	own *netaddr.Set
	fw  firewall.Backend
	enf *enforce.Enforcer
	pub *publish.Publisher
	off *offline // nil: no local decisions
	// natsAddrs are the addresses of the NATS servers in nats.url: never
	// banned locally (a ban would cut the agent off from the fleet).
	natsAddrs *netaddr.Set
	// exempt is the coordinator's never-ban list (its ignoreip and the
	// fleet's own addresses), kept for local decisions.
	exempt *fleetExempt
	srcs   *sources
	// reconnected is signalled at each (re)connection to NATS.
	reconnected chan struct{}
	// beforeFollow, set by tests, runs before each follower starts (a
	// slow start).
	beforeFollow func()

	localBans prometheus.Counter

	lines, failures, ignored, unparsed *prometheus.CounterVec
	tooLong                            prometheus.CounterFunc
}

// New prepares an agent; Run starts it.
func New(cfg *config.Agent, log *slog.Logger, reg *prometheus.Registry, version string) *Agent {
	a := &Agent{cfg: cfg, log: log, reg: reg, version: version, own: &netaddr.Set{}, reconnected: make(chan struct{}, 1)}
	a.lines = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_total", Help: "Log lines read, by jail."}, []string{"jail"})
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_failures_total", Help: "Lines that matched a failure, by jail."}, []string{"jail"})
	a.ignored = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_ignored_total", Help: "Lines that matched but are not failures (NOFAIL, ignoreregex), by jail."}, []string{"jail"})
	a.unparsed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_unparsed_total", Help: "Lines without a recognisable date or syslog prefix, counted and skipped, by jail."}, []string{"jail"})
	a.localBans = prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_local_bans_total", Help: "Bans this agent made alone while NATS was unreachable."})
	reg.MustRegister(a.lines, a.failures, a.ignored, a.unparsed, a.localBans)
	return a
}

// Run runs the agent until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	a.started = time.Now()
	// The NATS servers are never banned here, whatever the bucket says: a
	// ban would cut this host off from the fleet.
	a.natsAddrs = a.resolveNATS(ctx)
	if a.cfg.Offline.Ban {
		a.off = newOffline(a.cfg, a.started)
		for name, j := range a.cfg.Jails {
			for _, n := range j.IgnoreNames {
				a.log.Warn("ignoreip holds a host name; banfleet does not resolve names, so it is not exempt from local bans", "jail", name, "name", n)
			}
		}
	}
	fw, err := a.openFirewall()
	if err != nil {
		return err
	}
	a.fw = fw
	defer fw.Close()
	a.refreshOwn()

	if err := os.MkdirAll(a.cfg.StateDir, 0o750); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if a.off != nil {
		a.exempt = &fleetExempt{file: filepath.Join(a.cfg.StateDir, "fleet-exempt.json"), log: a.log}
		if err := a.exempt.load(); err != nil {
			return err
		}
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_fleet_exempt_prefixes",
			Help: "Addresses and prefixes the coordinator says no agent may ban alone (its ignoreip, the fleet's hosts)."},
			func() float64 { return float64(a.exempt.n.Load()) }))
	}
	state, err := tail.LoadState(filepath.Join(a.cfg.StateDir, "positions.json"))
	if err != nil {
		return err
	}
	cursors, err := loadCursors(filepath.Join(a.cfg.StateDir, "journal.json"))
	if err != nil {
		return err
	}

	opts := natsOptions(a.cfg, a.log, natsHooks{
		connected: a.natsConnected,
		disconnected: func() {
			if a.off != nil {
				a.off.disconnected(time.Now())
			}
		},
	})
	// Its own inboxes: the server lets an agent's login read no others.
	opts = append(opts, nats.CustomInboxPrefix(subject.AgentInbox(a.cfg.Host)))
	nc, err := nats.Connect(a.cfg.NATS.URL, opts...)
	if err != nil {
		return fmt.Errorf("nats %s: %w", a.cfg.NATS.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	a.pub = publish.New(js, publish.Options{Host: a.cfg.Host, Logger: a.log, Registry: a.reg})
	var specs []firewall.JailSpec
	for _, name := range a.cfg.JailNames() {
		if j := a.cfg.Jails[name]; j.On() {
			specs = append(specs, firewall.JailSpec{Name: name, Ports: j.Ports, Proto: j.Protocol})
		}
	}
	jailIgnore := map[string]*netaddr.Set{}
	for name, j := range a.cfg.Jails {
		jailIgnore[name] = j.Ignore
	}
	a.enf = enforce.New(enforce.Options{Backend: fw, Jails: specs, Own: a.own, Control: a.natsAddrs, JailIgnore: jailIgnore, Host: a.cfg.Host,
		Reconcile: a.cfg.Reconcile, Logger: a.log, Registry: a.reg,
		LocalFile: filepath.Join(a.cfg.StateDir, "local-bans.json")})
	if err := a.enf.LoadLocal(); err != nil {
		return err
	}
	a.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_local_bans", Help: "Bans this agent made alone that are in force."}, func() float64 { return float64(a.enf.Local()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_nats_unreachable", Help: "1 while the agent has been unable to reach NATS for offline.after."}, func() float64 {
			if a.natsAway(time.Now()) {
				return 1
			}
			return 0
		}))

	srcs := newSources(a, state, cursors)
	a.srcs = srcs
	for verb, answer := range map[string]nats.MsgHandler{"firewall": a.answerFirewall, "health": a.answerHealth} {
		sub, err := nc.Subscribe(subject.AgentRequest(a.cfg.Host, verb), answer)
		if err != nil {
			return fmt.Errorf("subscribe to %s requests: %w", verb, err)
		}
		defer sub.Unsubscribe()
	}

	g, gctx := errgroup.WithContext(ctx)
	a.runCtx = gctx
	g.Go(func() error { return obs.ServeMetrics(gctx, a.cfg.Metrics.Listen, a.reg, a.log) })
	g.Go(func() error { return a.pub.Run(gctx) })
	g.Go(func() error { return a.enf.RunSaver(gctx) })
	g.Go(func() error {
		st, err := waitBucket(gctx, a.log, func(ctx context.Context) (*bans.Store, error) { return bans.Open(ctx, js, false, 0) })
		if err != nil || st == nil {
			return err
		}
		return a.enf.Run(gctx, st.KV())
	})
	g.Go(func() error {
		// The fleet lists an agent once it heartbeats: only once it reads its logs.
		select {
		case <-srcs.Ready():
		case <-gctx.Done():
			return nil
		}
		return a.heartbeat(gctx, js)
	})
	g.Go(func() error { return srcs.Run(gctx) })
	if a.exempt != nil {
		g.Go(func() error { return a.exempt.run(gctx, nc, js, a.reconnected) })
	}
	a.log.Info("agent running", "host", a.cfg.Host, "nats", a.cfg.NATS.URL, "firewall", a.cfg.Firewall.Backend, "jails", len(specs))
	err = g.Wait()
	a.log.Info("agent stopped")
	return err
}

// resolveNATS returns the addresses of the hosts in nats.url (names are
// resolved once, at start, for at most 2 s).
func (a *Agent) resolveNATS(ctx context.Context) *netaddr.Set {
	var prefixes []netip.Prefix
	for _, u := range strings.Split(a.cfg.NATS.URL, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || pu.Hostname() == "" {
			continue
		}
		host := pu.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(netaddr.Canonical(ip), netaddr.Canonical(ip).BitLen()))
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			a.log.Warn("NATS host not resolved; its addresses are not exempt from local bans", "host", host, "err", err)
			continue
		}
		for _, ip := range ips {
			ip = netaddr.Canonical(ip)
			prefixes = append(prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	s := &netaddr.Set{}
	s.Replace(prefixes)
	return s
}

func (a *Agent) natsConnected(nc *nats.Conn) {
	if a.off != nil {
		a.off.connected()
	}
	select {
	case a.reconnected <- struct{}{}:
	default:
	}
	a.log.Info("nats connected", "url", nc.ConnectedUrl())
}

// natsAway reports whether the agent is deciding alone: local decisions
// are on and NATS has been unreachable for offline.after.
func (a *Agent) natsAway(now time.Time) bool {
	return a.off != nil && a.off.away(now, a.pub.FailingSince())
}

// decideAlone counts a failure for the local decision, and bans the
// address in this host's firewall when the jail's maxretry is reached while
// NATS has been unreachable for offline.after.
func (a *Agent) decideAlone(jail string, addr netip.Addr, at time.Time) {
	if a.off == nil || a.cfg.Offline.Ignore.Contains(addr) || a.cfg.Jails[jail].Ignore.Contains(addr) || a.natsAddrs.Contains(addr) || a.exempt.Contains(addr) {
		return
	}
	now := time.Now()
	b, ok := a.off.offence(jail, addr, at, now, a.cfg.Host, func() bool { return a.off.away(now, a.pub.FailingSince()) })
	if !ok {
		return
	}
	done, err := a.enf.BanLocally(b)
	if done {
		a.localBans.Inc()
		a.log.Warn("banned locally: NATS unreachable", "jail", jail, "addr", addr, "count", b.Reason.Count, "expires", b.Expires)
	}
	if err != nil {
		a.log.Error("local ban not in the firewall yet (written at the next reconcile, once NATS is back)", "jail", jail, "addr", addr, "err", err)
	}
}

func (a *Agent) openFirewall() (firewall.Backend, error) {
	if a.cfg.Firewall.Backend == "none" {
		return firewall.NewNone(a.log.With("component", "firewall")), nil
	}
	fw, err := firewall.NewNftables(firewall.NftOptions{Table: a.cfg.Firewall.Table, Logger: a.log.With("component", "firewall")})
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return fw, nil
}

func (a *Agent) refreshOwn() []netip.Addr {
	addrs, err := enforce.Own()
	if err != nil {
		a.log.Warn("own addresses unknown", "err", err)
		return nil
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, ad := range addrs {
		ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
	}
	a.own.Replace(ps)
	return addrs
}

func (a *Agent) answerFirewall(m *nats.Msg) {
	st := wire.FirewallState{Host: a.cfg.Host, Backend: a.cfg.Firewall.Backend, Entries: []wire.FirewallEntry{}}
	es, err := a.fw.List()
	if err != nil {
		st.Error = err.Error()
	}
	for _, e := range es {
		st.Entries = append(st.Entries, wire.FirewallEntry{Jail: e.Jail, Addr: e.Addr, ExpiresIn: e.Timeout.Seconds(), Local: a.enf.LocalOnly(e.Jail, e.Addr)})
	}
	data, err := wire.Encode(&st)
	if err != nil {
		a.log.Error("firewall state not encodable", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		a.log.Warn("firewall request not answered", "err", err)
	}
}

// answerHealth answers a live health request (coord health).
func (a *Agent) answerHealth(m *nats.Msg) {
	now := time.Now()
	h := wire.Health{Host: a.cfg.Host, Version: a.version, Started: a.started, Now: now, Backend: a.cfg.Firewall.Backend,
		BansApplied: a.enf.Desired(), LocalBans: a.enf.Local(), Unsent: a.pub.Queued()}
	h.Files, h.Journals = a.srcs.counts()
	h.Lines = a.srcs.stats.Lines.Load() + a.srcs.jstats.Entries.Load()
	select {
	case <-a.srcs.Ready():
		h.SourcesReady = true
	default:
		h.Problems = append(h.Problems, fmt.Sprintf("log sources not ready after %v", now.Sub(a.started).Round(time.Second)))
	}
	if a.natsAway(now) {
		h.NATSUnreachable = true
		h.Problems = append(h.Problems, "NATS has been unreachable: banning alone")
	}
	if since := a.pub.FailingSince(); !since.IsZero() && now.Sub(since) >= 5*time.Second {
		h.Problems = append(h.Problems, fmt.Sprintf("offences not stored for %v (%d queued)", now.Sub(since).Round(time.Second), h.Unsent))
	}
	if rc := a.enf.RefusedControl(); rc != "" {
		h.Problems = append(h.Problems, rc+": the bans bucket holds a ban of the control plane")
	}
	h.LastReconcile, h.FirewallError = a.enf.Status()
	switch {
	case h.FirewallError != "":
		h.Problems = append(h.Problems, "firewall: "+h.FirewallError)
	case h.LastReconcile.IsZero() && now.Sub(a.started) >= 10*time.Second:
		h.Problems = append(h.Problems, "firewall not reconciled with the bans bucket yet")
	}
	data, err := wire.Encode(&h)
	if err != nil {
		a.log.Error("health not encodable", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		a.log.Warn("health request not answered", "err", err)
	}
}

func (a *Agent) heartbeat(ctx context.Context, js jetstream.JetStream) error {
	kv, err := waitBucket(ctx, a.log, func(ctx context.Context) (jetstream.KeyValue, error) {
		return js.KeyValue(ctx, subject.AgentsBucket)
	})
	if err != nil || kv == nil {
		return err
	}
	t := time.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	var once sync.Once
	for {
		own := a.refreshOwn()
		if len(own) > wire.MaxHeartbeatAddrs {
			own = own[:wire.MaxHeartbeatAddrs] // the agent itself still refuses bans of all of them
		}
		hb := wire.Heartbeat{Host: a.cfg.Host, Version: a.version, Started: a.started, Seen: time.Now(),
			BansApplied: a.enf.Desired(), Backend: a.cfg.Firewall.Backend, Addrs: own, Jails: a.jailPolicies()}
		data, err := wire.Encode(&hb)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = kv.Put(pctx, a.cfg.Host, data)
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat not sent", "err", err)
		} else if err == nil {
			once.Do(func() { a.log.Info("heartbeat sent", "bucket", subject.AgentsBucket) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// waitBucket retries open until the coordinator has made the bucket or ctx
// ends (then it returns the zero value and nil).
func waitBucket[T any](ctx context.Context, log *slog.Logger, open func(context.Context) (T, error)) (T, error) {
	var zero T
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := open(octx)
		cancel()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			log.Info("waiting for the coordinator's buckets", "err", err)
		}
		select {
		case <-ctx.Done():
			return zero, nil
		case <-time.After(delay):
		}
	}
}

// jailPolicies are the thresholds this host's jails bring (from Fail2Ban),
// reported to the coordinator as defaults.
func (a *Agent) jailPolicies() map[string]wire.JailPolicy {
	out := map[string]wire.JailPolicy{}
	for name, j := range a.cfg.Jails {
		if !j.On() || (j.MaxRetry == 0 && j.FindTime == 0 && j.BanTime == 0 && len(j.Ignore.Prefixes()) == 0) {
			continue
		}
		p := wire.JailPolicy{MaxRetry: j.MaxRetry, FindTime: j.FindTime.Seconds(), BanTime: j.BanTime.Seconds(), Ports: j.Ports}
		if ign := j.Ignore.Prefixes(); len(ign) <= wire.MaxJailIgnore {
			p.IgnoreIP = ign
		}
		out[name] = p
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
