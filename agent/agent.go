package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	// now is the agent's clock (time.Now; tests set their own).
	now func() time.Time
	// reconnected is signalled at each (re)connection to NATS (the fleet
	// exemptions are read again), beat too (a heartbeat at once), and
	// resync at each reconnection after the first connection (the
	// enforcer watches the bans bucket anew). Each has capacity 1 and is
	// signalled without blocking.
	reconnected, beat, resync chan struct{}
	everConnected             atomic.Bool
	ran                       atomic.Bool
	// beforeFollow, set by tests, runs before each follower starts (a
	// slow start).
	beforeFollow func()

	localBans prometheus.Counter

	lines, failures, ignored, unparsed *prometheus.CounterVec
}

// New builds an agent from its configuration: the firewall is opened, the
// saved state read, the enforcer and the log sources made and the metrics
// registered. Any of it can fail, with the error naming what. Run runs the
// agent; Close releases the firewall when Run is never called.
func New(ctx context.Context, cfg *config.Agent, log *slog.Logger, reg *prometheus.Registry, version string) (*Agent, error) {
	a := newAgent(cfg, log, reg, version)
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// newAgent makes an agent's fields and counters, nothing more (tests of
// its inner logic start from here).
func newAgent(cfg *config.Agent, log *slog.Logger, reg *prometheus.Registry, version string) *Agent {
	a := &Agent{cfg: cfg, log: log, reg: reg, version: version, own: &netaddr.Set{}, now: time.Now, started: time.Now(),
		reconnected: make(chan struct{}, 1), beat: make(chan struct{}, 1), resync: make(chan struct{}, 1)}
	a.lines = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_total", Help: "Log lines read, by jail."}, []string{"jail"})
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_failures_total", Help: "Lines that matched a failure, by jail."}, []string{"jail"})
	a.ignored = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_ignored_total", Help: "Lines that matched but are not failures (NOFAIL, ignoreregex), by jail."}, []string{"jail"})
	a.unparsed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_lines_unparsed_total", Help: "Lines without a recognisable date or syslog prefix, counted and skipped, by jail."}, []string{"jail"})
	a.localBans = prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_local_bans_total", Help: "Bans this agent made alone while NATS was unreachable."})
	reg.MustRegister(a.lines, a.failures, a.ignored, a.unparsed, a.localBans)
	return a
}

// Close releases what New opened (the firewall). Run closes it itself when
// it returns.
func (a *Agent) Close() {
	if a.fw != nil {
		_ = a.fw.Close()
		a.fw = nil
	}
}

// build makes what Run runs, in the order it depends on.
func (a *Agent) build(ctx context.Context) error {
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

	a.pub = publish.New(nil, publish.Options{Host: a.cfg.Host, Logger: a.log, Registry: a.reg})
	var specs []firewall.JailSpec
	jailIgnore := map[string]*netaddr.Set{}
	for _, name := range a.cfg.JailNames() {
		j := a.cfg.Jails[name]
		jailIgnore[name] = j.Ignore
		if j.On() {
			specs = append(specs, firewall.JailSpec{Name: name, Ports: j.Ports, Proto: j.Protocol})
		}
	}
	a.enf = enforce.New(enforce.Options{Backend: fw, Jails: specs, Own: a.own, Control: a.natsAddrs, JailIgnore: jailIgnore, Host: a.cfg.Host,
		Reconcile: a.cfg.Reconcile, Logger: a.log, Registry: a.reg, Resync: a.resync,
		LocalFile: filepath.Join(a.cfg.StateDir, "local-bans.json")})
	if err := a.enf.LoadLocal(); err != nil {
		return err
	}
	a.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_local_bans", Help: "Bans this agent made alone that are in force."}, func() float64 { return float64(a.enf.Local()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_nats_unreachable", Help: "1 while the agent has been unable to reach NATS for offline.after."}, func() float64 {
			if a.natsAway(a.now()) {
				return 1
			}
			return 0
		}))
	a.srcs = newSources(a, state, cursors)
	return nil
}

// Run runs the agent until ctx ends, then closes its firewall. An agent
// runs once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	defer a.Close()
	srcs := a.srcs
	// A NATS server's element left in the firewall (a ban from before it
	// was known as one, a rule made by hand) would keep this host from ever
	// reaching the fleet: it goes before the first connection.
	a.enf.LiftControl()
	// The logs are followed before the agent waits on NATS: a first start
	// begins at the end of each file, so a line written while it connects
	// would otherwise never be read. Until the connection is made, offences
	// are queued (and counted for local decisions).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	a.runCtx = gctx
	fail := func(err error) error {
		cancel()
		_ = g.Wait()
		return err
	}
	g.Go(func() error { return obs.ServeMetrics(gctx, a.cfg.Metrics.Listen, a.reg, a.log) })
	g.Go(func() error { return a.enf.RunSaver(gctx) })
	g.Go(func() error { return srcs.Run(gctx) })
	g.Go(func() error { return a.runAlone(gctx) })

	opts := natsOptions(a.cfg, a.log, natsHooks{
		connected: a.natsConnected,
		disconnected: func() {
			if a.off != nil {
				a.off.disconnected(a.now())
			}
		},
		// Messages dropped by the client: the bans watch may have lost
		// some; a new one at once.
		slowConsumer: func() { signal(a.resync) },
	})
	// Its own inboxes: the server lets an agent's login read no others.
	opts = append(opts, nats.CustomInboxPrefix(subject.AgentInbox(a.cfg.Host)))
	nc, err := nats.Connect(a.cfg.NATS.URL, opts...)
	if err != nil {
		return fail(fmt.Errorf("nats %s: %w", a.cfg.NATS.URL, err))
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(fmt.Errorf("jetstream: %w", err))
	}
	a.pub.Attach(js)
	firewallAnswer := func(m *nats.Msg) { a.answerFirewall(nc, m) }
	for verb, answer := range map[string]nats.MsgHandler{"firewall": firewallAnswer, "health": a.answerHealth} {
		sub, err := nc.Subscribe(subject.AgentRequest(a.cfg.Host, verb), answer)
		if err != nil {
			return fail(fmt.Errorf("subscribe to %s requests: %w", verb, err))
		}
		defer sub.Unsubscribe()
	}

	g.Go(func() error { return a.pub.Run(gctx) })
	g.Go(func() error { return a.unlockControl(gctx, nc) })
	g.Go(func() error {
		st, err := waitBucket(gctx, a.log, func(ctx context.Context) (*bans.Store, error) { return bans.Open(ctx, js, false, 0) })
		if err != nil || st == nil {
			return err
		}
		// A pull consumer: the client buffers at most a few thousand bans
		// and never drops one (a KV watch buffers up to 64 MB and drops
		// when the firewall is slower than the bucket).
		a.enf.ReadWith(js)
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
	if a.exempt != nil {
		g.Go(func() error { return a.exempt.run(gctx, nc, js, a.reconnected) })
	}
	a.log.Info("agent running", "host", a.cfg.Host, "nats", a.cfg.NATS.URL, "firewall", a.cfg.Firewall.Backend, "jails", len(a.cfg.JailNames()))
	err = g.Wait()
	a.log.Info("agent stopped")
	return err
}

// resolveNATS returns the addresses of the hosts in nats.url (names are
// resolved once, at start, for at most 2 s).
func (a *Agent) resolveNATS(ctx context.Context) *netaddr.Set {
	var prefixes []netip.Prefix
	for _, ip := range netaddr.Resolve(ctx, netaddr.URLHosts(a.cfg.NATS.URL), 2*time.Second, func(h string, err error) {
		a.log.Warn("NATS host not resolved; its addresses are not exempt from local bans", "host", h, "err", err)
	}) {
		prefixes = append(prefixes, netip.PrefixFrom(ip, ip.BitLen()))
	}
	s := &netaddr.Set{}
	s.Replace(prefixes)
	return s
}

// natsConnected runs at the first connection to NATS and at every
// reconnection: what queued meanwhile is sent at once, a heartbeat goes
// out, the fleet exemptions are read again and, on a reconnection, the
// bans watch starts anew (a restarted server has lost the watch's
// consumer; a full resync is faster than waiting for it to notice).
func (a *Agent) natsConnected(nc *nats.Conn) {
	again := a.everConnected.Swap(true)
	if a.off != nil {
		a.off.connected()
	}
	a.pub.Wake()
	signal(a.reconnected)
	signal(a.beat)
	if again {
		signal(a.resync)
	}
	a.log.Info("nats connected", "url", nc.ConnectedUrl(), "reconnection", again)
}

// signal sends on a channel of capacity 1 without blocking.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// natsAway reports whether the agent is deciding alone: local decisions
// are on and NATS has been unreachable for offline.after.
func (a *Agent) natsAway(now time.Time) bool {
	return a.off != nil && a.off.away(now, a.pub.FailingSince())
}

// mayBanAlone reports whether the agent may ban addr in the jail on its
// own: never the host's own addresses, the NATS servers, offline.ignoreip,
// the jail's ignoreip or the fleet's exemption list.
func (a *Agent) mayBanAlone(jail string, addr netip.Addr) bool {
	return !(a.own.Contains(addr) || a.cfg.Offline.Ignore.Contains(addr) || a.cfg.Jails[jail].Ignore.Contains(addr) ||
		a.natsAddrs.Contains(addr) || a.exempt.Contains(addr))
}

// decideAlone counts a failure for the local decision, whether NATS is
// reachable or not, and bans the address in this host's firewall when the
// jail's maxretry is reached while NATS has been unreachable for
// offline.after. Offences counted before that are banned by banDue once
// it has.
func (a *Agent) decideAlone(jail string, addr netip.Addr, at time.Time) {
	if a.off == nil || !a.mayBanAlone(jail, addr) {
		return
	}
	now := a.now()
	b, ok := a.off.offence(jail, addr, at, now, a.cfg.Host, func() bool { return a.off.away(now, a.pub.FailingSince()) })
	if ok {
		a.banAlone(b)
	}
}

// aloneEvery is how often the agent looks whether it is on its own with
// addresses that reached maxretry before it knew.
const aloneEvery = 250 * time.Millisecond

// runAlone bans, as soon as the agent finds NATS away, what the offences
// it already counted justify: an outage's first failures count, not only
// those after offline.after.
func (a *Agent) runAlone(ctx context.Context) error {
	if a.off == nil {
		return nil
	}
	return every(ctx, aloneEvery, func() { a.banDue(a.now()) })
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}

// banDue makes the local bans due at now, when NATS is away: addresses
// whose offences within findtime reached maxretry before the agent found
// itself on its own.
func (a *Agent) banDue(now time.Time) {
	if !a.natsAway(now) {
		return
	}
	for _, b := range a.off.due(now, a.cfg.Host, func(jail string, addr netip.Addr) bool { return !a.mayBanAlone(jail, addr) }) {
		a.banAlone(b)
	}
}

// banAlone puts a local ban in this host's firewall.
func (a *Agent) banAlone(b wire.Ban) {
	jail, addr := b.Jail, b.Addr
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
	addrs, err := netaddr.HostAddrs()
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
	h.BansBehind, h.KernelElements, _ = a.enf.Lag()
	if h.BansBehind > 0 && now.Sub(a.started) >= 10*time.Second {
		h.Problems = append(h.Problems, fmt.Sprintf("the firewall is %d bans behind the bucket", h.BansBehind))
	}
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
	jails := a.jailPolicies() // from the configuration: the same every time
	for {
		select {
		case <-a.beat: // this one is sent now
		default:
		}
		own := a.refreshOwn()
		if len(own) > wire.MaxHeartbeatAddrs {
			own = own[:wire.MaxHeartbeatAddrs] // the agent itself still refuses bans of all of them
		}
		hb := wire.Heartbeat{Host: a.cfg.Host, Version: a.version, Started: a.started, Seen: time.Now(),
			BansApplied: a.enf.Desired(), Backend: a.cfg.Firewall.Backend, Addrs: own, Jails: jails}
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
		case <-a.beat: // reconnected: the fleet sees the agent again at once
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

// jailPolicies are this host's enabled jails with the thresholds and
// ignoreip they bring (from Fail2Ban), reported to the coordinator: a jail
// most hosts run is the fleet's, with what most of them say.
func (a *Agent) jailPolicies() map[string]wire.JailPolicy {
	out := map[string]wire.JailPolicy{}
	for name, j := range a.cfg.Jails {
		// Every enabled jail: the fleet knows a jail by most hosts running it.
		if !j.On() {
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

// unlockControl removes, every few seconds while NATS is not connected, any
// element of the firewall on a NATS server's address: an agent cut off by
// its own firewall must get back to the fleet (the bans watch itself may
// not notice a lost connection).
func (a *Agent) unlockControl(ctx context.Context, nc *nats.Conn) error {
	return every(ctx, 5*time.Second, func() {
		if nc.Status() != nats.CONNECTED {
			a.enf.LiftControl()
		}
	})
}
