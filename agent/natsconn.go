package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/banfleet/banfleet/config"
)

// natsHooks are what the agent does as its connection to NATS comes and
// goes.
type natsHooks struct {
	// connected runs at the first connection and at every reconnection.
	connected nats.ConnHandler
	// disconnected runs when the connection is lost.
	disconnected func()
	// slowConsumer, if set, runs when the client dropped messages of a
	// subscription (nats.ErrSlowConsumer).
	slowConsumer func()
}

// How the agent keeps its connection to NATS. The aim: a restarted server
// is found again within about a second, and a cut the kernel does not
// report (packets dropped, a link down along the way) is noticed within
// pingEvery×(maxPingsOut+1) = 6 s, then retried as fast as a restart.
//
//   - pingEvery 2 s, maxPingsOut 2: the client pings every 2 s and gives
//     the connection up as stale when a third ping finds two unanswered,
//     i.e. at most 6 s after the last answer (the default, 2 min × 2, left
//     a silent cut to failed publishes, 12–20 s in). A server slow to
//     answer a ping gets 4 s before the agent reconnects; a ping is a few
//     bytes, so 1,000 agents cost the server 500 small messages a second.
//   - reconnectWait 250 ms plus a random jitter up to 500 ms (TLS or not):
//     after a coordinator restart every agent tries again within 0.75 s of
//     its last failed attempt, and a thousand agents do not all arrive in
//     the same millisecond.
//   - connectTimeout 2 s bounds a dial and the handshake: an attempt that a
//     silent drop swallows fails after 2 s and the next starts at once, so
//     the end of a cut is seen within about 2.75 s.
const (
	pingEvery       = 2 * time.Second
	maxPingsOut     = 2
	reconnectWait   = 250 * time.Millisecond
	reconnectJitter = 500 * time.Millisecond
	connectTimeout  = 2 * time.Second
)

// natsOptions returns the options of the agent's connection to NATS:
// endless reconnection with the timings above, the TLS and login of cfg,
// and handlers that log why the agent cannot connect, each reason once
// until it changes.
func natsOptions(cfg *config.Agent, log *slog.Logger, hooks natsHooks) []nats.Option {
	return newConnWatch(cfg, log).options(cfg, hooks)
}

// probeEvery is how often at most a connWatch connects on its own to learn
// why the client cannot.
const probeEvery = 5 * time.Second

// connWatch logs why the agent cannot connect to NATS (a WARN line when
// nothing answers, an ERROR line when the server refuses the TLS or the
// login, both "nats: cannot connect" with a reason key). A reason is
// logged when it differs from the last one logged; a connection or a
// disconnection forgets it.
//
// The client tells some failures itself: a failed dial (the watch is its
// dialer), the first attempt's error, a refused login once it has been
// connected. Others it keeps to itself: a TLS handshake that fails, a login
// refused before the first connection, a server that does not answer the
// handshake. When a dial succeeded and the client dials again without any
// of these reported, the watch connects once on its own (probe) to learn
// why, at most once every probeEvery.
type connWatch struct {
	log        *slog.Logger
	probe      func() error
	probeEvery time.Duration
	dialer     net.Dialer
	dials      atomic.Int64 // dial attempts, for tests

	mu        sync.Mutex
	reason    string // last logged; "" = none since the last (dis)connection
	up        bool   // connected
	silent    bool   // the last dial succeeded and nothing was reported since
	probing   bool
	lastProbe time.Time
}

var _ nats.CustomDialer = (*connWatch)(nil)

func newConnWatch(cfg *config.Agent, log *slog.Logger) *connWatch {
	probeOpts := append(cfg.NATS.ClientOptions(), nats.Name("banfleet diagnosis of "+cfg.Host))
	return &connWatch{
		log:        log,
		probe:      func() error { return config.ProbeNATS(cfg.NATS.URL, config.CheckTimeout, probeOpts...) },
		probeEvery: probeEvery,
		dialer:     net.Dialer{Timeout: connectTimeout},
	}
}

// options returns the connection's options with the watch in place.
func (w *connWatch) options(cfg *config.Agent, hooks natsHooks) []nats.Option {
	up := func(nc *nats.Conn) {
		w.connected()
		hooks.connected(nc)
	}
	opts := []nats.Option{
		nats.Name("banfleet-agent " + cfg.Host),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		nats.PingInterval(pingEvery),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.Timeout(connectTimeout),
		nats.RetryOnFailedConnect(true),
		// A refused login is tried again, as any other failure: the
		// coordinator's users may be put right while the agent runs.
		nats.IgnoreAuthErrorAbort(),
		nats.SetCustomDialer(w),
		nats.ConnectHandler(up),
		nats.ReconnectHandler(up),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			hooks.disconnected()
			w.disconnected(err)
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { w.failed("", err) }),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) && hooks.slowConsumer != nil {
				hooks.slowConsumer()
			}
			w.asyncError(nc, sub, err)
		}),
	}
	return append(opts, cfg.NATS.ClientOptions()...)
}

// Dial dials a server for the client, and notes failures.
func (w *connWatch) Dial(network, address string) (net.Conn, error) {
	w.dials.Add(1)
	w.mu.Lock()
	unexplained := w.silent && !w.up
	w.silent = false
	w.mu.Unlock()
	if unexplained {
		w.startProbe()
	}
	conn, err := w.dialer.Dial(network, address)
	if err != nil {
		w.failed(address, err)
		return nil, err
	}
	w.mu.Lock()
	w.silent = true
	w.mu.Unlock()
	return conn, nil
}

// startProbe connects once on the side, unless a probe runs or ran less
// than probeEvery ago, and reports its failure.
func (w *connWatch) startProbe() {
	w.mu.Lock()
	if w.probing || time.Since(w.lastProbe) < w.probeEvery {
		w.mu.Unlock()
		return
	}
	w.probing, w.lastProbe = true, time.Now()
	w.mu.Unlock()
	go func() {
		err := w.probe()
		w.mu.Lock()
		w.probing = false
		up := w.up
		w.mu.Unlock()
		if err != nil && !up {
			w.failed("", err)
		}
	}()
}

// failed logs why an attempt failed, unless that reason was the last
// logged. server is the address dialed ("" when not known).
func (w *connWatch) failed(server string, err error) {
	d := config.DiagnoseNATS(err)
	w.mu.Lock()
	w.silent = false
	// "No servers" sums up failures the dialer has told in detail.
	same := d.Reason == w.reason || errors.Is(err, nats.ErrNoServers) && w.reason != ""
	if !same {
		w.reason = d.Reason
	}
	w.mu.Unlock()
	if same {
		return
	}
	level := slog.LevelError
	if d.Unreachable {
		level = slog.LevelWarn
	}
	attrs := []any{"reason", d.Reason}
	if server != "" {
		attrs = append(attrs, "server", server)
	}
	if d.Hint != "" {
		attrs = append(attrs, "hint", d.Hint)
	}
	attrs = append(attrs, "err", d.Err)
	w.log.Log(context.Background(), level, "nats: cannot connect", attrs...)
}

// asyncError takes the client's asynchronous errors: a refused login, or
// an error while (re)connecting, is a reason the agent cannot connect; the
// rest (a permission violation, a slow consumer) is logged as such.
func (w *connWatch) asyncError(nc *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		errors.Is(err, nats.ErrAccountAuthExpired) || !nc.IsConnected() {
		w.failed("", err)
		return
	}
	w.log.Warn("nats error", "err", err)
}

func (w *connWatch) connected() {
	w.mu.Lock()
	w.up, w.silent, w.reason = true, false, ""
	w.mu.Unlock()
}

func (w *connWatch) disconnected(err error) {
	w.mu.Lock()
	w.up, w.silent, w.reason = false, false, ""
	w.mu.Unlock()
	if err != nil {
		w.log.Warn("nats disconnected", "reason", config.DiagnoseNATS(err).Reason, "err", err)
	}
}
