// Package serve is the coordinator daemon (coord serve): it runs or joins
// NATS, makes the offence stream and the buckets, consumes every host's
// offences, decides bans fleet-wide and writes them to the bans bucket.
package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/decide"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/obs"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// coordUser is the embedded server's login of the coordinator itself.
const coordUser = "_coordinator"

// HistoryBucket remembers recent bans after their keys expired, so offences
// a ban already punished are not counted again when the stream is replayed.
const HistoryBucket = "banhist"

type metrics struct {
	offences      *prometheus.CounterVec
	rejects       *prometheus.CounterVec
	bans          *prometheus.CounterVec
	banErrors     prometheus.Counter
	windows       prometheus.Gauge
	fleet         prometheus.Gauge
	control       prometheus.Gauge
	capped        *prometheus.CounterVec
	lifted        *prometheus.CounterVec
	hostConsumers prometheus.Gauge
	agents        prometheus.Gauge

	// offenceCounters holds offences' counters by jail and outcome
	// (outcomeKey -> prometheus.Counter): a label lookup per offence costs
	// more than the rest of counting it.
	offenceCounters sync.Map
}

type outcomeKey struct {
	jail    string
	outcome decide.Outcome
}

// offence is the counter of offences of jail with outcome.
func (m *metrics) offence(jail string, outcome decide.Outcome) prometheus.Counter {
	k := outcomeKey{jail, outcome}
	if c, ok := m.offenceCounters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.offenceCounters.LoadOrStore(k, m.offences.WithLabelValues(jail, outcome.String()))
	return c.(prometheus.Counter)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		offences:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_coord_offences_total", Help: "Offences consumed, by jail and outcome."}, []string{"jail", "outcome"}),
		rejects:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_coord_rejected_messages_total", Help: "Offence messages rejected, by reason."}, []string{"reason"}),
		bans:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_coord_bans_total", Help: "Bans decided, by jail."}, []string{"jail"}),
		banErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_coord_ban_write_errors_total", Help: "Bans that could not be written to the bucket."}),
		windows:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_coord_tracked_windows", Help: "(jail, address) windows being counted."}),
		fleet:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_coord_fleet_addresses", Help: "Own addresses of the fleet's hosts, never banned."}),
		control:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_coord_control_addresses", Help: "Addresses of the control plane (coordinators, NATS servers), never banned."}),
		capped:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_coord_offences_capped_total", Help: "Offences over limits.offence_rate (one host, one address, one second), not counted, by host."}, []string{"host"}),
		lifted:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_coord_bans_lifted_total", Help: "Bans found in the bucket on an address never banned, lifted, by reason."}, []string{"reason"}),
		hostConsumers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_coord_host_consumers", Help: "Hosts whose offences have a consumer of their own."}),
		agents:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_coord_agents", Help: "Agents with a live heartbeat."}),
	}
	reg.MustRegister(m.offences, m.rejects, m.bans, m.banErrors, m.windows, m.fleet, m.control, m.capped, m.lifted, m.hostConsumers, m.agents)
	return m
}

// Coordinator is a running coord serve.
type Coordinator struct {
	cfg    *config.Coord
	log    *slog.Logger
	m      *metrics
	reg    *prometheus.Registry
	engine *decide.Engine
	now    func() time.Time

	nc    *nats.Conn
	js    jetstream.JetStream
	store *bans.Store
	hist  jetstream.KeyValue
	fleet jetstream.KeyValue

	// embedded is the NATS server this coordinator runs (nil: external).
	embedded *natsd.Server

	// fleetMu guards what the agents say of their addresses (said, from
	// heartbeats) and where their connections come from (seen).
	fleetMu sync.Mutex
	said    map[string][]netip.Addr
	seen    map[string]map[netip.Addr]time.Time // host -> address -> last seen
	// seenSaved is when seen was last written to the fleet bucket.
	seenSaved time.Time
	// disagree is the last logged disagreement per jail (watchFleet only).
	disagree map[string]string
	// lastPolicy is the last policy written, without its time.
	lastPolicy []byte

	// hostStats counts each host's offences (host -> *hostStats).
	hostStats sync.Map
	started   time.Time

	// exemptDirty is signalled when the fleet's addresses may have changed.
	exemptDirty chan struct{}

	// users are the embedded server's logins (nil: none, or an external
	// server); self the coordinator's own login to it.
	users []*server.User
	self  []nats.Option
	ran   atomic.Bool

	// PprofListen, when set before Run, is where Go's profiles are served
	// (net/http/pprof): for measuring, never on by default.
	PprofListen string
}

// New builds a coordinator: its metrics, its decision engine and, for the
// embedded NATS server, the logins (agents', admins' and its own fresh
// secret). It fails with an error naming what; Run runs it.
func New(cfg *config.Coord, log *slog.Logger, reg *prometheus.Registry) (*Coordinator, error) {
	c := &Coordinator{
		cfg:    cfg,
		log:    log,
		reg:    reg,
		m:      newMetrics(reg),
		engine: decide.New(cfg, "coord:"+cfg.Name),
		now:    time.Now,

		said:        map[string][]netip.Addr{},
		seen:        map[string]map[netip.Addr]time.Time{},
		disagree:    map[string]string{},
		exemptDirty: make(chan struct{}, 1),
	}
	if cfg.NATS.URL == "" && len(cfg.NATS.Users) > 0 {
		users, own, err := embeddedLogins(cfg.NATS.Users)
		if err != nil {
			return nil, err
		}
		c.users, c.self = users, []nats.Option{nats.UserInfo(coordUser, own)}
	}
	return c, nil
}

// embeddedLogins are the embedded server's users: the configured agents
// and admins, and the coordinator itself with a fresh secret each start
// (returned in clear for its own connection; the server keeps only its
// bcrypt hash, like the operator's hashed passwords — cost 4 is plenty for
// 192 random bits).
func embeddedLogins(configured map[string]config.NATSUser) ([]*server.User, string, error) {
	agents, admins := map[string]string{}, map[string]string{}
	for name, u := range configured {
		if u.Role == "agent" {
			agents[name] = u.Password
		} else {
			admins[name] = u.Password
		}
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", fmt.Errorf("coordinator secret: %w", err)
	}
	own := hex.EncodeToString(secret)
	hash, err := bcrypt.GenerateFromPassword([]byte(own), bcrypt.MinCost)
	if err != nil {
		return nil, "", fmt.Errorf("coordinator secret: %w", err)
	}
	admins[coordUser] = string(hash)
	return natsd.Users(agents, admins), own, nil
}

// Run serves until ctx ends.
func (c *Coordinator) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("coordinator: Run called twice")
	}
	url := c.cfg.NATS.URL
	var embedded *natsd.Server
	self := c.self
	if url == "" {
		var err error
		embedded, err = natsd.Start(natsd.Options{Listen: c.cfg.NATS.Listen, StoreDir: c.cfg.NATS.StoreDir, Name: c.cfg.Name, Logger: c.log, Users: c.users,
			CertFile: c.cfg.NATS.TLS.Cert, KeyFile: c.cfg.NATS.TLS.Key})
		if err != nil {
			return err
		}
		defer embedded.Shutdown()
		c.embedded = embedded
		url = embedded.ClientURL()
		if own := embedded.Certificate(); own != nil {
			self = append(self, pinCert(own))
		}
		c.log.Info("embedded nats started", "listen", c.cfg.NATS.Listen, "store_dir", c.cfg.NATS.StoreDir, "tls", c.cfg.NATS.TLS.On())
	} else if c.cfg.NATS.CA != "" {
		self = append(self, nats.RootCAs(c.cfg.NATS.CA))
	}
	opts := append([]nats.Option{nats.Name("coord " + c.cfg.Name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}, self...)
	if c.cfg.NATS.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.cfg.NATS.Creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect nats %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	c.nc, c.js = nc, js
	control := c.controlPlane(ctx)
	c.engine.Control().Replace(control)
	c.m.control.Set(float64(len(control)))
	c.log.Info("control plane never banned", "addresses", control)
	if c.embedded == nil {
		c.log.Warn("external NATS: the fleet's own addresses (never banned) are taken from what the agents' heartbeats say")
	}
	if err := c.setup(ctx); err != nil {
		return err
	}
	c.started = c.now()
	sub, err := nc.Subscribe(subject.CoordStats, c.answerStats)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject.CoordStats, err)
	}
	defer sub.Unsubscribe()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return obs.ServeMetrics(ctx, c.cfg.Metrics.Listen, c.reg, c.log) })
	g.Go(func() error { return servePprof(ctx, c.PprofListen, c.log) })
	// The fleet's own addresses and the jails' reported thresholds must be
	// known before the first offence (the replay after a restart included)
	// is judged.
	fleetSynced := make(chan struct{})
	g.Go(func() error { return c.watchFleet(ctx, fleetSynced) })
	g.Go(func() error { return c.watchBans(ctx) })
	g.Go(func() error {
		select {
		case <-fleetSynced:
		case <-ctx.Done():
			return nil
		}
		return c.consume(ctx)
	})
	g.Go(func() error {
		select {
		case <-fleetSynced:
		case <-ctx.Done():
			return nil
		}
		return c.publishExempt(ctx)
	})
	g.Go(func() error { return c.sweep(ctx) })
	g.Go(func() error { return c.trackFleet(ctx) })
	c.log.Info("coordinator running", "name", c.cfg.Name, "nats", url)
	err = g.Wait()
	c.log.Info("coordinator stopped")
	return err
}

// setup makes the stream and buckets (retrying while JetStream has no leader)
// and loads the ban history.
func (c *Coordinator) setup(ctx context.Context) error {
	var lastErr error
	for attempt := 0; ; attempt++ {
		lastErr = c.setupOnce(ctx)
		if lastErr == nil {
			return nil
		}
		if attempt == 30 {
			return lastErr
		}
		c.log.Warn("jetstream setup failed, retrying", "err", lastErr)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (c *Coordinator) maxFindTime() time.Duration {
	m := c.cfg.Defaults.FindTime
	for _, j := range c.cfg.Jails {
		m = max(m, j.FindTime)
	}
	return m
}

func (c *Coordinator) setupOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	retention := max(c.cfg.NATS.Retention, c.maxFindTime())
	_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        subject.OffenceStream,
		Description: "banfleet offences from every host",
		Subjects:    []string{subject.OffenceWildcard},
		Storage:     jetstream.FileStorage,
		MaxAge:      retention,
		MaxMsgSize:  wire.MaxOffenceMessage,
		Duplicates:  min(10*time.Minute, retention),
		Discard:     jetstream.DiscardOld,
		// Bounded, and per subject (a shard of one host): one host's flood
		// pushes out its own older offences, not the others'.
		MaxBytes:          int64(orDefault(c.cfg.NATS.StreamMaxMB, config.DefaultStreamMaxMB)) << 20,
		MaxMsgsPerSubject: int64(orDefault(c.cfg.NATS.StreamMaxPerHost, config.DefaultStreamMaxPerHost) / subject.DefaultShards),
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", subject.OffenceStream, err)
	}
	if c.store, err = bans.Open(ctx, c.js, true, 1); err != nil {
		return err
	}
	if _, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: subject.AgentsBucket, Description: "banfleet agent heartbeats", History: 1,
		TTL: 24 * time.Hour, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("create bucket %s: %w", subject.AgentsBucket, err)
	}
	if c.fleet, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: subject.FleetBucket, Description: "banfleet: what the coordinator tells every agent", History: 1,
		Storage: jetstream.FileStorage, MaxValueSize: wire.MaxExemptMessage,
	}); err != nil {
		return fmt.Errorf("create bucket %s: %w", subject.FleetBucket, err)
	}
	c.hist, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: HistoryBucket, Description: "banfleet recent bans (for replay)", History: 1,
		TTL: retention, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", HistoryBucket, err)
	}
	// Load the history before consuming, so replayed offences are judged against it.
	w, err := c.hist.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("read %s: %w", HistoryBucket, err)
	}
	defer w.Stop()
	n := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		if b, err := bans.Decode(e); err == nil {
			c.engine.Remember(b.Jail, b.Addr, b.Created)
			n++
		}
	}
	if ctx.Err() != nil {
		// A partial history would let the replay ban again: retry setup.
		return fmt.Errorf("read %s: %w", HistoryBucket, ctx.Err())
	}
	c.log.Info("ban history loaded", "bans", n)
	return nil
}

// maxHostConsumers bounds the consumers of single hosts; the offences of
// hosts beyond it are judged by the shared consumer.
const maxHostConsumers = 1024

// Flood detection: when the shared consumer is more than floodBacklog
// messages behind the stream's end, a host that sent more than floodShare
// of the last floodWindow messages it read gets a consumer of its own. A
// host whose agent sends a burst (a restart catching up on its logs) is
// no flood: its burst is judged in its place.
const (
	floodWindow  = 8192
	floodShare   = floodWindow * 3 / 4
	floodBacklog = 4 * floodWindow
)

// consume reads offences from findtime ago on (rebuilding the windows after
// a restart) and decides.
//
// One shared consumer reads the whole stream in order and judges it: one
// consumer costs the server least (a consumer filtered on one host's
// subjects has the server walk past every other host's messages). So that
// one host's flood (a stolen login, a broken agent) cannot delay the
// decisions on the others behind its backlog, a host that floods gets a
// consumer of its own: when the shared consumer is behind and most of what
// it reads is one host's, that host is handed over at the exact stream
// sequence of the message in hand. The shared consumer then only skips
// that host's messages, which costs little: no decoding, no judging. No
// offence is lost or judged twice.
func (c *Coordinator) consume(ctx context.Context) error {
	start := c.now().Add(-c.maxFindTime())
	var mu sync.Mutex
	hostCons := map[string]jetstream.ConsumeContext{}
	from := map[string]uint64{} // host -> first stream sequence its consumer takes
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, cc := range hostCons {
			cc.Stop()
		}
	}()
	// own starts host's consumer at sequence seq; mu held.
	own := func(host string, seq uint64) bool {
		cons, err := c.js.OrderedConsumer(ctx, subject.OffenceStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subject.HostOffences(host)},
			DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:    seq,
		})
		if err != nil {
			c.log.Warn("host consumer not created; its offences are judged with the rest", "host", host, "err", err)
			return false
		}
		cc, err := cons.Consume(func(msg jetstream.Msg) { c.handle(ctx, msg.Subject(), msg.Data()) })
		if err != nil {
			c.log.Warn("host consumer not started; its offences are judged with the rest", "host", host, "err", err)
			return false
		}
		hostCons[host], from[host] = cc, seq
		c.m.hostConsumers.Set(float64(len(hostCons)))
		return true
	}
	// What the shared consumer read lately, by host (the current window).
	recent, read := map[string]int{}, 0
	cons, err := c.js.OrderedConsumer(ctx, subject.OffenceStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject.OffenceWildcard},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("offence consumer: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if host, ok := subject.OffenceRoute(msg.Subject()); ok {
			if first, ok := from[host]; ok {
				md, err := msg.Metadata()
				if err == nil && md.Sequence.Stream >= first {
					return // the host's own consumer judges it
				}
			} else {
				if read++; read > floodWindow {
					clear(recent)
					read = 1
				}
				n := recent[host] + 1
				recent[host] = n
				if n > floodShare && len(hostCons) < maxHostConsumers && subject.ValidName(host) {
					if md, err := msg.Metadata(); err == nil && md.NumPending > floodBacklog && own(host, md.Sequence.Stream) {
						c.log.Warn("a host floods offences: judged apart from the others'", "host", host, "backlog", md.NumPending, "from_seq", md.Sequence.Stream)
						delete(recent, host)
						return
					}
				}
			}
		}
		c.handle(ctx, msg.Subject(), msg.Data())
	})
	if err != nil {
		return fmt.Errorf("consume offences: %w", err)
	}
	defer cc.Stop()
	<-ctx.Done()
	return nil
}

// handle judges one offence message. Nothing is trusted because it arrived:
// the message must decode strictly and name the host its subject names.
func (c *Coordinator) handle(ctx context.Context, subj string, data []byte) {
	_, host, err := subject.ParseOffence(subj)
	if err != nil {
		c.reject("subject", subj, err)
		return
	}
	var o wire.Offence
	if err := wire.Decode(data, &o); err != nil {
		reason := "malformed"
		if errors.Is(err, wire.ErrVersion) {
			reason = "version"
		}
		c.reject(reason, subj, err)
		return
	}
	if o.Host != host {
		c.reject("host_mismatch", subj, fmt.Errorf("message names host %q", o.Host))
		return
	}
	now := c.now()
	outcome, ban := c.engine.Offer(&o, now)
	c.m.offence(o.Jail, outcome).Inc()
	hs := c.statsOf(o.Host)
	hs.offences.Add(1)
	if outcome == decide.Capped {
		hs.capped.Add(1)
		hs.lastCapped.Store(now.UnixNano())
		c.m.capped.WithLabelValues(o.Host).Inc()
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("offence", "jail", o.Jail, "addr", o.Addr, "host", o.Host, "outcome", outcome.String())
	}
	if ban == nil {
		return
	}
	// Retry until the ban is stored: the window that made it is gone.
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.store.Create(wctx, ban, now)
		cancel()
		if err == nil || errors.Is(err, bans.ErrExists) || ctx.Err() != nil {
			break
		}
		c.m.banErrors.Inc()
		c.log.Error("ban not stored, retrying", "jail", ban.Jail, "addr", ban.Addr, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	switch {
	case errors.Is(err, bans.ErrExists):
		c.log.Debug("already banned", "jail", ban.Jail, "addr", ban.Addr)
	case err != nil:
		c.log.Error("ban not stored", "jail", ban.Jail, "addr", ban.Addr, "err", err)
	case ban.Only != "":
		c.m.bans.WithLabelValues(ban.Jail).Inc()
		pol, src := c.engine.Policy(ban.Jail)
		why := "quorum not met"
		if src == "" {
			why = "a jail the fleet does not know"
		}
		c.log.Info("ban on one host", "jail", ban.Jail, "addr", ban.Addr, "host", ban.Only, "why", why, "quorum", pol.Quorum, "expires", ban.Expires)
	default:
		c.m.bans.WithLabelValues(ban.Jail).Inc()
		c.log.Info("ban", "jail", ban.Jail, "addr", ban.Addr, "count", ban.Reason.Count, "hosts", ban.Reason.Hosts, "expires", ban.Expires)
	}
}

func (c *Coordinator) reject(reason, subj string, err error) {
	c.m.rejects.WithLabelValues(reason).Inc()
	c.log.Warn("offence rejected", "reason", reason, "subject", subj, "err", err)
}

// watchBans follows the bans bucket: every ban, automatic or manual, resets
// counting for its address and is kept in the history bucket.
func (c *Coordinator) watchBans(ctx context.Context) error {
	return watchLoop(ctx, c.log, "bans", nil, func(ctx context.Context) (jetstream.KeyWatcher, error) {
		return c.store.KV().WatchAll(ctx, jetstream.IgnoreDeletes())
	}, func(e jetstream.KeyValueEntry) {
		b, err := bans.Decode(e)
		if err != nil {
			c.log.Warn("bad ban value", "key", e.Key(), "err", err)
			return
		}
		if c.liftNever(ctx, e.Key(), b) {
			return
		}
		c.engine.Remember(b.Jail, b.Addr, b.Created)
		data, _ := wire.Encode(b)
		if _, err := c.hist.Put(ctx, e.Key(), data); err != nil {
			c.log.Warn("ban history not written", "key", e.Key(), "err", err)
		}
	})
}

// watchFleet keeps what the agents' heartbeats say: their reports of their
// jails (obeyed only where most hosts agree: decide.Consensus) and, where
// the coordinator cannot see its agents' connections (external NATS), their
// own addresses.
func (c *Coordinator) watchFleet(ctx context.Context, synced chan struct{}) error {
	kv, err := c.js.KeyValue(ctx, subject.AgentsBucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", subject.AgentsBucket, err)
	}
	jails := map[string]map[string]wire.JailPolicy{} // guarded by fleetMu
	var dirty atomic.Bool
	// apply makes what the heartbeats say the engine's: at the initial
	// sync, then at most once a second when a host came, went or changed
	// its jails or addresses (not at every heartbeat: with thousands of
	// hosts that would be thousands of recomputations a second).
	apply := func() {
		dirty.Store(false)
		c.fleetMu.Lock()
		reports := maps.Clone(jails)
		c.fleetMu.Unlock()
		c.engine.SetReports(reports)
		c.m.agents.Set(float64(len(reports)))
		c.warnDisagreement(reports)
		c.refreshFleet()
	}
	var once sync.Once
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-synced:
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if dirty.Load() {
					apply()
				}
			}
		}
	}()
	return watchLoop(ctx, c.log, "agents", func() {
		once.Do(func() {
			c.loadSeen(ctx)
			apply()
			close(synced)
		})
	}, func(ctx context.Context) (jetstream.KeyWatcher, error) {
		return kv.WatchAll(ctx)
	}, func(e jetstream.KeyValueEntry) {
		c.fleetMu.Lock()
		defer c.fleetMu.Unlock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(c.said, e.Key())
			delete(c.seen, e.Key())
			delete(jails, e.Key())
			dirty.Store(true)
			return
		}
		var hb wire.Heartbeat
		if err := wire.Decode(e.Value(), &hb); err != nil || hb.Host != e.Key() {
			c.log.Warn("bad heartbeat", "key", e.Key(), "err", err)
			return
		}
		ps := make([]netip.Addr, 0, len(hb.Addrs))
		for _, a := range hb.Addrs {
			ps = append(ps, netaddr.Canonical(a))
		}
		old, known := jails[e.Key()]
		if !known || !slices.Equal(c.said[e.Key()], ps) || !reflect.DeepEqual(old, hb.Jails) {
			dirty.Store(true)
		}
		c.said[e.Key()] = ps
		jails[e.Key()] = hb.Jails
	})
}

// refreshFleet sets the fleet's own addresses, never banned: where the
// coordinator runs the NATS server, the addresses each agent's connections
// come from (kept while its heartbeat lasts, so that a host that is away
// stays exempt); with an external NATS, what the heartbeats say.
func (c *Coordinator) refreshFleet() {
	c.fleetMu.Lock()
	var all []netip.Prefix
	if c.embedded != nil {
		conns, err := c.embedded.ClientAddrs()
		if err != nil {
			c.log.Warn("agents' connections unknown", "err", err)
		}
		now := c.now()
		changed := false
		for host, addrs := range conns {
			if _, live := c.said[host]; !live {
				continue // not an agent (or not heartbeating yet)
			}
			if c.seen[host] == nil {
				c.seen[host] = map[netip.Addr]time.Time{}
			}
			for _, a := range addrs {
				if _, ok := c.seen[host][a]; !ok {
					changed = true
				}
				c.seen[host][a] = now
			}
		}
		for host, addrs := range c.seen {
			for a, at := range addrs {
				// Addresses a host no longer connects from go after a day;
				// a host keeps its newest few.
				if now.Sub(at) > fleetAddrTTL || len(addrs) > maxHostAddrs && at.Before(nthNewest(addrs, maxHostAddrs)) {
					delete(addrs, a)
					changed = true
				}
			}
			if len(addrs) == 0 {
				delete(c.seen, host)
			}
			for a := range addrs {
				all = append(all, netip.PrefixFrom(a, a.BitLen()))
			}
		}
		if changed || now.Sub(c.seenSaved) > 10*time.Minute {
			c.saveSeenLocked(now)
		}
	} else {
		for _, addrs := range c.said {
			for _, a := range addrs {
				all = append(all, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	c.fleetMu.Unlock()
	all = exemptList(all)
	if slices.Equal(all, c.engine.Fleet().Prefixes()) {
		return
	}
	c.engine.Fleet().Replace(all)
	c.m.fleet.Set(float64(len(all)))
	c.changed()
}

// The fleet's hosts as their connections show them: an address a host has
// not connected from for fleetAddrTTL is no longer the fleet's, and a host
// keeps at most maxHostAddrs (a stolen login connecting from many places
// cannot exempt them all).
const (
	fleetAddrTTL = 24 * time.Hour
	maxHostAddrs = 8
	// seenKey is the fleet bucket's key of the addresses the fleet's hosts
	// connect from (only the coordinator reads it): a restarted
	// coordinator exempts a host that is away before the replay.
	seenKey = "hosts"
)

// nthNewest returns the n-th newest time in m.
func nthNewest(m map[netip.Addr]time.Time, n int) time.Time {
	ts := slices.SortedFunc(maps.Values(m), func(a, b time.Time) int { return b.Compare(a) })
	return ts[min(n, len(ts))-1]
}

// saveSeenLocked writes seen to the fleet bucket; fleetMu held.
func (c *Coordinator) saveSeenLocked(now time.Time) {
	if c.fleet == nil {
		return
	}
	data, err := json.Marshal(c.seen)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.fleet.Put(ctx, seenKey, data); err != nil {
		c.log.Warn("fleet hosts' addresses not saved", "err", err)
		return
	}
	c.seenSaved = now
}

// loadSeen reads what an earlier run saw of the hosts' connections.
func (c *Coordinator) loadSeen(ctx context.Context) {
	if c.fleet == nil || c.embedded == nil {
		return
	}
	gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e, err := c.fleet.Get(gctx, seenKey)
	if err != nil {
		return
	}
	seen := map[string]map[netip.Addr]time.Time{}
	if err := json.Unmarshal(e.Value(), &seen); err != nil {
		c.log.Warn("fleet hosts' addresses unreadable", "err", err)
		return
	}
	c.fleetMu.Lock()
	for h, addrs := range seen {
		if subject.ValidName(h) && len(addrs) <= maxHostAddrs {
			c.seen[h] = addrs
		}
	}
	c.fleetMu.Unlock()
}

// changed notes that what agents and admins are told may have changed.
func (c *Coordinator) changed() {
	select {
	case c.exemptDirty <- struct{}{}:
	default:
	}
}

// trackFleet refreshes the fleet's addresses from the agents' connections
// every few seconds (a host reconnecting from a new address).
func (c *Coordinator) trackFleet(ctx context.Context) error {
	if c.embedded == nil {
		return nil
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.refreshFleet()
		}
	}
}

// warnDisagreement logs, once per change, the jails whose reported
// thresholds differ between hosts (the policy in force is the consensus).
func (c *Coordinator) warnDisagreement(reports map[string]map[string]wire.JailPolicy) {
	byJail := map[string]map[string][]string{} // jail -> values -> hosts
	for host, jails := range reports {
		for name, r := range jails {
			v := fmt.Sprintf("maxretry=%d findtime=%gs bantime=%gs ports=%v", r.MaxRetry, r.FindTime, r.BanTime, r.Ports)
			if byJail[name] == nil {
				byJail[name] = map[string][]string{}
			}
			byJail[name][v] = append(byJail[name][v], host)
		}
	}
	for name, vals := range byJail {
		if len(vals) < 2 {
			continue
		}
		desc := fmt.Sprint(vals)
		if c.disagree[name] == desc {
			continue
		}
		c.disagree[name] = desc
		pol, src := c.engine.Policy(name)
		c.log.Warn("hosts report different thresholds for a jail; the policy in force is what most hosts agree on, within limits",
			"jail", name, "reports", vals, "source", src, "maxretry", pol.MaxRetry, "findtime", pol.FindTime, "bantime", pol.BanTime)
	}
}

// exemptRewrite is how often the exemption list is written even when it
// has not changed.
const exemptRewrite = 5 * time.Minute

// publishExempt keeps the fleet bucket's exemption list (ignoreip and the
// hosts' own addresses) current, so that an agent deciding alone while
// NATS is away never bans what the coordinator would not. It writes at
// start, then when the list changes (at most once a second) and every
// exemptRewrite.
func (c *Coordinator) publishExempt(ctx context.Context) error {
	var last []netip.Prefix
	var written time.Time
	for {
		cur := exemptList(c.cfg.Ignore.Prefixes(), c.engine.Fleet().Prefixes(), c.engine.Control().Prefixes())
		// Written again now and then even when unchanged: a value someone
		// else put there does not last.
		if written.IsZero() || !slices.Equal(cur, last) || c.now().Sub(written) >= exemptRewrite {
			err := c.writeExempt(ctx, cur)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("exemption list not written, retrying", "bucket", subject.FleetBucket, "err", err)
			} else if err == nil {
				last, written = cur, c.now()
				c.log.Debug("exemption list written", "prefixes", len(cur))
			}
		}
		changed, err := c.writePolicy(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("policy not written, retrying", "bucket", subject.FleetBucket, "err", err)
		}
		if changed {
			c.liftAll(ctx) // the never-ban set may have grown
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.exemptDirty:
		case <-time.After(time.Minute): // and retries a failed write
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// writeExempt stores the exemption list in the fleet bucket and announces
// it (agents listening take it at once; the others read the key).
func (c *Coordinator) writeExempt(ctx context.Context, prefixes []netip.Prefix) error {
	if len(prefixes) > wire.MaxExemptPrefixes {
		return fmt.Errorf("%d prefixes, at most %d", len(prefixes), wire.MaxExemptPrefixes)
	}
	data, err := wire.Encode(&wire.Exempt{Prefixes: prefixes, Updated: c.now(), By: "coord:" + c.cfg.Name})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.fleet.Put(wctx, subject.ExemptKey, data); err != nil {
		return err
	}
	return c.nc.Publish(subject.ExemptUpdates, data)
}

// policy is what the coordinator enforces, for admins' tools.
func (c *Coordinator) policy() *wire.Policy {
	p := &wire.Policy{Jails: c.engine.Jails(), MaxBanTime: c.cfg.Limits.MaxBanTime.Seconds(), Updated: c.now(), By: "coord:" + c.cfg.Name}
	for _, pr := range c.engine.Control().Prefixes() {
		p.Never = append(p.Never, wire.NeverBan{Prefix: pr, Reason: "an address of the control plane (a coordinator or NATS server)"})
	}
	for _, pr := range c.cfg.Ignore.Prefixes() {
		p.Never = append(p.Never, wire.NeverBan{Prefix: pr, Reason: "in the coordinator's ignoreip", Force: true})
	}
	// The defaults' ignoreip holds for every jail without a policy of its
	// own, the manual one included.
	for _, pr := range c.cfg.Defaults.Ignore.Prefixes() {
		p.Never = append(p.Never, wire.NeverBan{Prefix: pr, Reason: "in defaults.ignoreip", Force: true})
	}
	for _, pr := range c.engine.Fleet().Prefixes() {
		p.Never = append(p.Never, wire.NeverBan{Prefix: pr, Reason: "an address of a fleet host", Force: true})
	}
	if len(p.Never) > wire.MaxExemptPrefixes {
		p.Never = p.Never[:wire.MaxExemptPrefixes]
	}
	return p
}

// writePolicy stores the policy in force in the fleet bucket when it
// changed, and reports whether it did.
func (c *Coordinator) writePolicy(ctx context.Context) (bool, error) {
	p := c.policy()
	cmp := *p
	cmp.Updated = time.Time{}
	key, _ := wire.Encode(&cmp)
	if bytes.Equal(key, c.lastPolicy) {
		return false, nil
	}
	data, err := wire.Encode(p)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.fleet.Put(wctx, subject.PolicyKey, data); err != nil {
		return false, err
	}
	c.lastPolicy = key
	return true, nil
}

// liftNever deletes a ban the bucket holds (an admin's, an older version's,
// a planted one) of an address never banned, unless it was forced where
// forcing is allowed; it reports whether it did.
func (c *Coordinator) liftNever(ctx context.Context, key string, b *wire.Ban) bool {
	reason, forceable := c.engine.NeverBanTrusted(b.Jail, b.Addr)
	if reason == "" || (forceable && b.Forced) {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := c.store.DeleteKey(dctx, key)
	cancel()
	if err != nil && !errors.Is(err, bans.ErrNotFound) {
		c.log.Error("ban of an address never banned not lifted", "key", key, "reason", reason, "err", err)
		return true
	}
	c.m.lifted.WithLabelValues(reason).Inc()
	c.log.Warn("ban lifted: the address is never banned", "jail", b.Jail, "addr", b.Addr, "reason", reason, "by", b.By, "host", b.Only)
	return true
}

// liftAll checks every ban in the bucket against the never-ban set (after
// it changed: a new fleet host, a new ignoreip).
func (c *Coordinator) liftAll(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list, _, err := c.store.List(lctx)
	if err != nil {
		c.log.Warn("bans not checked against the never-ban set", "err", err)
		return
	}
	for i := range list {
		c.liftNever(ctx, bans.Key(&list[i]), &list[i])
	}
}

// exemptList merges prefix lists into one sorted list without duplicates.
func exemptList(lists ...[]netip.Prefix) []netip.Prefix {
	return netaddr.SortPrefixes(slices.Concat(lists...))
}

// watchLoop runs a KV watch, restarting it if it breaks, until ctx ends.
// synced, if not nil, is called when the initial values have been handed
// to fn.
func watchLoop(ctx context.Context, log *slog.Logger, what string, synced func(), start func(context.Context) (jetstream.KeyWatcher, error), fn func(jetstream.KeyValueEntry)) error {
	for ctx.Err() == nil {
		w, err := start(ctx)
		if err != nil {
			log.Warn("watch failed, retrying", "bucket", what, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e != nil {
				fn(e)
			} else if synced != nil {
				synced()
			}
		}
		_ = w.Stop()
	}
	return nil
}

func (c *Coordinator) sweep(ctx context.Context) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.m.windows.Set(float64(c.engine.Sweep(c.now())))
		}
	}
}

// pinCert is the TLS option of the coordinator's connection to its own
// embedded server: it accepts exactly the server's certificate own (DER),
// whatever names it carries (the connection goes to a loopback URL).
func pinCert(own []byte) nats.Option {
	return nats.Secure(&tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], own) {
				return errors.New("nats: not this coordinator's own certificate")
			}
			return nil
		},
	})
}

// controlPlane returns the addresses of the control plane, never banned:
// this coordinator's machine (the agents reach it, and it runs the
// embedded NATS server), the address the embedded server listens on, and
// the external NATS servers (names resolved once, for at most 2 s).
func (c *Coordinator) controlPlane(ctx context.Context) []netip.Prefix {
	own, err := netaddr.HostAddrs()
	if err != nil {
		c.log.Warn("own addresses unknown", "err", err)
	}
	hosts := netaddr.URLHosts(c.cfg.NATS.URL)
	if c.cfg.NATS.URL == "" {
		if h, _, err := net.SplitHostPort(c.cfg.NATS.Listen); err == nil && h != "" {
			hosts = append(hosts, h)
		}
	}
	addrs := append(own, netaddr.Resolve(ctx, hosts, 2*time.Second, func(h string, err error) {
		c.log.Warn("NATS host not resolved; its addresses are not known to be the control plane", "host", h, "err", err)
	})...)
	var out []netip.Prefix
	for _, a := range addrs {
		if netaddr.Never(a) == "" {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return netaddr.SortPrefixes(out)
}

// orDefault is v, or def when v is not set (a configuration made in code).
func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

type hostStats struct {
	offences, capped atomic.Uint64
	lastCapped       atomic.Int64 // Unix ns
}

func (c *Coordinator) statsOf(host string) *hostStats {
	if v, ok := c.hostStats.Load(host); ok {
		return v.(*hostStats)
	}
	v, _ := c.hostStats.LoadOrStore(host, &hostStats{})
	return v.(*hostStats)
}

// answerStats answers a stats request (coord health) with each host's
// offences as this coordinator judged them.
func (c *Coordinator) answerStats(m *nats.Msg) {
	st := wire.CoordStats{Name: c.cfg.Name, Started: c.started, Hosts: map[string]wire.HostOffences{}}
	c.hostStats.Range(func(k, v any) bool {
		hs := v.(*hostStats)
		ho := wire.HostOffences{Offences: hs.offences.Load(), Capped: hs.capped.Load()}
		if ns := hs.lastCapped.Load(); ns != 0 {
			ho.LastCapped = time.Unix(0, ns)
		}
		st.Hosts[k.(string)] = ho
		return len(st.Hosts) < wire.MaxExemptPrefixes
	})
	data, err := wire.Encode(&st)
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		c.log.Warn("stats request not answered", "err", err)
	}
}
