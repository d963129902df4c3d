package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func newBansCommand(g *globals) *cobra.Command {
	var cluster bool
	cmd := &cobra.Command{
		Use:   "bans",
		Short: "list the fleet's bans; --cluster: what every host's firewall really holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.close()
			ctx, js := s.ctx, s.js
			st, err := bans.Open(ctx, js, false, 0)
			if err != nil {
				return err
			}
			if cluster {
				fb, err := loadFleetBans(ctx, js, time.Now())
				if err != nil {
					return err
				}
				return clusterView(ctx, g, s.nc, js, fb)
			}
			list, bad, err := st.List(ctx)
			if err != nil {
				return err
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
			if g.output == "json" {
				return writeJSON(g.stdout, map[string]any{"bans": orEmpty(list), "bad_keys": orEmpty(bad)})
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tJAIL\tON\tSINCE\tEXPIRES IN\tREASON\tBY")
			for _, b := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Addr, b.Jail, banScope(&b), b.Created.Local().Format(time.DateTime),
					expiresIn(b.Expires, now), reason(b.Reason), banBy(&b))
			}
			for _, k := range bad {
				fmt.Fprintf(tw, "%s\t?\t\t\t\tunreadable value\t\n", k)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&cluster, "cluster", false, "ask every agent what its firewall holds and show drift from the bucket")
	return cmd
}

// banScope says which hosts enforce b: "all", or "ONLY <host>" for a ban
// one host's own evidence justified (wire.Ban.Only).
func banScope(b *wire.Ban) string {
	if b.Only != "" {
		return "ONLY " + b.Only
	}
	return "all"
}

// banBy is who banned, and whether with --force.
func banBy(b *wire.Ban) string {
	if b.Forced {
		return b.By + " (forced)"
	}
	return b.By
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func reason(r wire.Reason) string {
	var parts []string
	if r.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d offences", r.Count))
	}
	if len(r.Hosts) > 0 {
		parts = append(parts, "on "+strings.Join(r.Hosts, ","))
	}
	if r.Text != "" {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, " ")
}

func expiresIn(exp, now time.Time) string {
	if exp.IsZero() {
		return "never"
	}
	d := exp.Sub(now).Round(time.Second)
	if d < 0 {
		return "expiring"
	}
	return d.String()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// HostView is one host's firewall compared with the bucket.
type HostView struct {
	Host   string `json:"host"`
	Status string `json:"status"` // in-sync, behind, drift, no-answer, error
	// Behind is how many bucket revisions the host's firewall has not
	// taken yet, as the agent says (catching up, not drift).
	Behind  uint64 `json:"behind,omitempty"`
	Backend string `json:"backend,omitempty"`
	Held    int    `json:"held"`
	// Missing (in the bucket, not in the firewall) and Extra (in the
	// firewall, not in the bucket) list at most maxListed elements each
	// ("jail/addr", sorted); MissingCount and ExtraCount count them all,
	// or at least that many when Unchecked is not 0.
	Missing      []string `json:"missing"`
	Extra        []string `json:"extra"`
	MissingCount int      `json:"missing_count"`
	ExtraCount   int      `json:"extra_count"`
	// Unchecked is how many digest shards differ without their elements
	// listed (more than fetchLimit elements to list): they count toward
	// MissingCount and ExtraCount by their element counts alone.
	Unchecked int      `json:"unchecked_shards,omitempty"`
	Local     []string `json:"local"` // the host's own bans, made while NATS was away (not drift)
	// Entries is what the firewall holds ("jail/addr", sorted) when it
	// holds at most listEntries elements; null when it holds more (Held
	// counts them).
	Entries  []string `json:"entries"`
	Error    string   `json:"error,omitempty"`
	LastSeen string   `json:"last_seen,omitempty"`
}

// How far bans --cluster goes with one host. Variables for tests.
var (
	// listEntries: a firewall of at most this many elements is listed
	// whole, in the first answer.
	listEntries = 1000
	// fetchLimit bounds the elements fetched from one host to list what
	// differs from the bucket, in the shards whose digests differ.
	fetchLimit = 100_000
	// maxListed bounds the missing and the extra elements listed per host.
	maxListed = 1000
	// fetchParallel is how many hosts are asked for elements at once
	// (digests are asked of every host at once).
	fetchParallel = 8
)

// askAll compares every agent's firewall with fb, the agents asked in
// parallel.
func askAll(ctx context.Context, g *globals, nc *nats.Conn, js jetstream.JetStream, fb *fleetBans) ([]HostView, error) {
	agents, err := listAgents(ctx, js)
	if err != nil {
		return nil, err
	}
	fetch := make(chan struct{}, fetchParallel)
	return eachHost(agents, func(a wire.Heartbeat) HostView { return askHost(g, nc, a, fb, fetch) }), nil
}

// askLocal asks every agent, in parallel, for the bans it made alone
// while NATS was away (HostView.Local; Status no-answer or error when it
// did not say).
func askLocal(ctx context.Context, g *globals, nc *nats.Conn, js jetstream.JetStream) ([]HostView, error) {
	agents, err := listAgents(ctx, js)
	if err != nil {
		return nil, err
	}
	return eachHost(agents, func(hb wire.Heartbeat) HostView {
		v := HostView{Host: hb.Host, Status: "answered", Local: []string{}, LastSeen: hb.Seen.Format(time.RFC3339)}
		ans, status, err := askFirewall(nc, hb.Host, &wire.FirewallQuery{Bits: wire.MinFirewallBits}, g.timeout, nil)
		if err != nil {
			v.Status, v.Error = status, err.Error()
			return v
		}
		v.Backend = ans.backend()
		if e := ans.error(); e != "" {
			v.Status, v.Error = "error", e
			return v
		}
		for _, e := range ans.entries {
			if e.Local {
				v.Local = append(v.Local, e.Jail+"/"+netaddr.Canonical(e.Addr).String())
			}
		}
		sort.Strings(v.Local)
		return v
	}), nil
}

// eachHost runs ask for every host at once (each waits for an answer up to
// --timeout) and returns the answers in the hosts' order.
func eachHost[H, V any](hosts []H, ask func(H) V) []V {
	out := make([]V, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = ask(h)
		}()
	}
	wg.Wait()
	return out
}

func clusterView(ctx context.Context, g *globals, nc *nats.Conn, js jetstream.JetStream, fb *fleetBans) error {
	views, err := askAll(ctx, g, nc, js, fb)
	if err != nil {
		return err
	}
	inSync := true
	for _, v := range views {
		if v.Status != "in-sync" {
			inSync = false
		}
	}
	if g.output == "json" {
		err = writeJSON(g.stdout, map[string]any{"bans": fb.n, "hosts": views, "in_sync": inSync})
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "HOST\tSTATUS\tHELD\tBEHIND\tMISSING\tEXTRA\tLOCAL\tBACKEND\n")
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", v.Host, v.Status, v.Held, v.Behind,
				countOrDash(v.Missing, v.MissingCount, v.Unchecked > 0), countOrDash(v.Extra, v.ExtraCount, v.Unchecked > 0), listOrDash(v.Local), v.Backend)
		}
		fmt.Fprintf(tw, "\n%d bans in the bucket; %d hosts\n", fb.n, len(views))
		for _, v := range views {
			if v.Error != "" && v.Status != "no-answer" {
				fmt.Fprintf(tw, "%s: %s\n", v.Host, v.Error)
			}
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	if !inSync {
		return &ExitError{Code: ExitDrift, Err: errors.New("the fleet is not in sync with the bans bucket")}
	}
	return nil
}

func listOrDash(s []string) string { return countOrDash(s, len(s), false) }

// countOrDash shows the first three of n elements (s lists some of them),
// "-" for none; atLeast: n is a lower bound.
func countOrDash(s []string, n int, atLeast bool) string {
	more := ""
	if atLeast {
		more = " or more"
	}
	switch {
	case n == 0 && atLeast:
		return "?"
	case n == 0:
		return "-"
	case len(s) == 0:
		return fmt.Sprintf("%d%s", n, more)
	case n > 3 || atLeast:
		return strings.Join(s[:min(3, len(s))], ",") + fmt.Sprintf(",…(+%d%s)", n-min(3, len(s)), more)
	}
	return strings.Join(s, ",")
}

// fleetBans is the bucket as bans --cluster compares it with firewalls:
// each ban's jail, address and scope, compactly (a million bans take
// about 40 MB). Bans no host holds (netaddr.Never's addresses, bans about
// to expire) are left out.
type fleetBans struct {
	n     int      // bans in the bucket
	jails []string // by fleetBan.jail
	hosts []string // by fleetBan.only-1
	jailN map[string]uint16
	hostN map[string]uint16
	list  []fleetBan
}

// fleetBan holds no pointer: a million of them are not the garbage
// collector's to scan.
type fleetBan struct {
	addr [16]byte // netip.Addr.As16 of the canonical address
	hash uint64   // wire.FirewallHash
	jail uint16
	only uint16 // 0: every host; else the host hosts[only-1] alone
}

func (b *fleetBan) ip() netip.Addr { return netip.AddrFrom16(b.addr).Unmap() }

// elem is a firewall element.
type elem struct {
	jail string
	addr netip.Addr
}

func (e elem) String() string { return e.jail + "/" + e.addr.String() }

// loadFleetBans reads the bans bucket (values that do not decode are left
// out: bans without --cluster lists them) through a pull ordered
// consumer: the client buffers at most readBuffer bans, where a KV watch
// lets the server push tens of MB ahead of the decoding.
func loadFleetBans(ctx context.Context, js jetstream.JetStream, now time.Time) (*fleetBans, error) {
	fb := &fleetBans{jailN: map[string]uint16{}, hostN: map[string]uint16{}}
	stream, err := js.Stream(ctx, "KV_"+subject.BansBucket)
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	msgs := stream.CachedInfo().State.Msgs
	if msgs == 0 {
		return fb, nil
	}
	fb.list = make([]fleetBan, 0, min(msgs, 1<<24)) // a key's history is one message: about the bans
	prefix := "$KV." + subject.BansBucket + "."
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(readBuffer))
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("list bans (%d read): %w", fb.n, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("list bans: %w", err)
		}
		key, _ := strings.CutPrefix(m.Subject(), prefix)
		var b wire.Ban
		// Delete and purge markers and TTL markers hold no value.
		if len(m.Data()) > 0 && len(m.Headers().Get("KV-Operation")) == 0 && wire.Decode(m.Data(), &b) == nil && bans.Key(&b) == key {
			if err := fb.add(&b, now); err != nil {
				return nil, err
			}
		}
		if meta.NumPending == 0 {
			return fb, nil
		}
	}
}

// readBuffer is how many bans loadFleetBans lets the client buffer.
const readBuffer = 4096

// fleetBansOf is loadFleetBans for a list in hand.
func fleetBansOf(list []wire.Ban, now time.Time) (*fleetBans, error) {
	fb := &fleetBans{jailN: map[string]uint16{}, hostN: map[string]uint16{}}
	for i := range list {
		if err := fb.add(&list[i], now); err != nil {
			return nil, err
		}
	}
	return fb, nil
}

func (fb *fleetBans) add(b *wire.Ban, now time.Time) error {
	fb.n++
	if !b.Expires.IsZero() && b.Expires.Sub(now) < 2*time.Second {
		return nil // about to expire: it may be gone from the firewalls already
	}
	addr := netaddr.Canonical(b.Addr)
	if netaddr.Never(addr) != "" {
		return nil
	}
	j, ok := fb.jailN[b.Jail]
	if !ok {
		if len(fb.jails) == 1<<16-1 {
			return fmt.Errorf("the bans bucket names more than %d jails", len(fb.jails))
		}
		fb.jails = append(fb.jails, b.Jail)
		j = uint16(len(fb.jails) - 1)
		fb.jailN[b.Jail] = j
	}
	fban := fleetBan{addr: addr.As16(), hash: wire.FirewallHash(b.Jail, addr), jail: j}
	if b.Only != "" {
		h, ok := fb.hostN[b.Only]
		if !ok {
			if len(fb.hosts) == 1<<16-2 {
				return fmt.Errorf("the bans bucket names more than %d hosts", len(fb.hosts))
			}
			fb.hosts = append(fb.hosts, b.Only)
			h = uint16(len(fb.hosts))
			fb.hostN[b.Only] = h
		}
		fban.only = h
	}
	fb.list = append(fb.list, fban)
	return nil
}

// hostWant says which bans one host's firewall should hold: the fleet's
// and its own (wire.Ban.Only: another host's are not its to hold), but
// those it refuses (its own addresses, its jail's ignoreip).
type hostWant struct {
	fb     *fleetBans
	only   uint16 // the host's index+1 in fb.hosts (0: it has no bans of its own)
	own    []netip.Addr
	ignore [][]netip.Prefix // by jail
}

func (fb *fleetBans) on(hb wire.Heartbeat) *hostWant {
	w := &hostWant{fb: fb, only: fb.hostN[hb.Host], ignore: make([][]netip.Prefix, len(fb.jails))}
	for _, a := range hb.Addrs {
		w.own = append(w.own, netaddr.Canonical(a))
	}
	for j, name := range fb.jails {
		w.ignore[j] = hb.Jails[name].IgnoreIP
	}
	return w
}

func (w *hostWant) wants(b *fleetBan) bool {
	if b.only != 0 && b.only != w.only {
		return false
	}
	if len(w.own) == 0 && len(w.ignore[b.jail]) == 0 {
		return true
	}
	addr := b.ip()
	for _, a := range w.own {
		if a == addr {
			return false
		}
	}
	for _, p := range w.ignore[b.jail] {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// each calls fn for each ban the host should hold.
func (w *hostWant) each(fn func(b *fleetBan)) {
	for i := range w.fb.list {
		if b := &w.fb.list[i]; w.wants(b) {
			fn(b)
		}
	}
}

func (w *hostWant) elem(b *fleetBan) elem { return elem{w.fb.jails[b.jail], b.ip()} }

// digestBits is the digest's size for n bans: about 128 elements a shard,
// 256 shards at least, and a digest within half the server's max payload.
func digestBits(n int, maxPayload int64) int {
	bits := 8
	for bits < wire.MaxFirewallBits && n > 128<<bits {
		bits++
	}
	for bits > wire.MinFirewallBits && int64(16<<bits) > maxPayload/2 {
		bits--
	}
	return bits
}

// askHost compares one host's firewall with the bucket: it asks the agent
// for a digest (and the whole firewall if it holds at most listEntries
// elements), and the elements of the shards whose digests differ from the
// bucket's (at most fetchLimit, fetch held meanwhile).
func askHost(g *globals, nc *nats.Conn, hb wire.Heartbeat, fb *fleetBans, fetch chan struct{}) HostView {
	v := HostView{Host: hb.Host, Missing: []string{}, Extra: []string{}, Local: []string{}, LastSeen: hb.Seen.Format(time.RFC3339)}
	w := fb.on(hb)
	bits := digestBits(len(fb.list), nc.MaxPayload())
	var want *wire.FirewallDigest
	ans, status, err := askFirewall(nc, hb.Host, &wire.FirewallQuery{Bits: bits, List: listEntries}, g.timeout, func() {
		// While the agent walks its firewall.
		want = wire.NewFirewallDigest(bits)
		w.each(func(b *fleetBan) { want.Add(b.hash) })
	})
	if err != nil {
		v.Status, v.Error = status, err.Error()
		return v
	}
	v.Backend, v.Behind = ans.backend(), ans.behind()
	if e := ans.error(); e != "" {
		v.Status, v.Error = "error", e
		return v
	}
	if ans.old != nil || ans.final.Listed {
		v.Entries = []string{}
		v.Held = compareShards(&v, w, ans.entries, nil, 0, true)
		return finish(v)
	}
	have, err := wire.ParseFirewallDigest(bits, ans.final.Digest)
	if err != nil {
		v.Status, v.Error = "error", fmt.Sprintf("host %s: %v", hb.Host, err)
		return v
	}
	// The local bans: listed whole, outside the digest. Those the bucket
	// holds too are the fleet's (held, not local).
	local := map[elem]bool{}
	for _, e := range ans.entries {
		local[elem{e.Jail, netaddr.Canonical(e.Addr)}] = false
	}
	localWanted := map[int]int{} // by shard: wanted local bans (the agent's digest leaves them out)
	if len(local) > 0 {
		w.each(func(b *fleetBan) {
			if _, ok := local[w.elem(b)]; ok {
				local[w.elem(b)] = true
				localWanted[want.Shard(b.hash)]++
			}
		})
	}
	for k, wanted := range local {
		if !wanted {
			v.Local = append(v.Local, k.String())
		}
	}
	sort.Strings(v.Local)
	v.Held = ans.final.Count + len(local)

	var differ []int
	for s := range want.N {
		if !want.Equal(have, s) {
			differ = append(differ, s)
		}
	}
	if len(differ) == 0 {
		return finish(v)
	}
	// The elements of as many differing shards as fetchLimit allows; the
	// rest are counted by their counts alone.
	var shards []int
	n := 0
	for _, s := range differ {
		if n+int(have.N[s]) > fetchLimit {
			wn, hn := int(want.N[s]), int(have.N[s])+localWanted[s]
			v.MissingCount += max(0, wn-hn)
			v.ExtraCount += max(0, hn-wn)
			v.Unchecked++
			continue
		}
		n += int(have.N[s])
		shards = append(shards, s)
	}
	if len(shards) > 0 {
		fetch <- struct{}{}
		ans, status, err = askFirewall(nc, hb.Host, &wire.FirewallQuery{Bits: bits, Shards: shards, Max: 2 * fetchLimit}, g.timeout, nil)
		<-fetch
		if err != nil {
			v.Status, v.Error = status, err.Error()
			return v
		}
		if e := ans.error(); e != "" {
			v.Status, v.Error = "error", e
			return v
		}
		if ans.final == nil || ans.final.Cut {
			v.Status, v.Error = "error", fmt.Sprintf("host %s: its firewall changed under the comparison; ask again", hb.Host)
			return v
		}
		in := make([]bool, len(want.N))
		for _, s := range shards {
			in[s] = true
			v.Held -= int(have.N[s])
		}
		v.Held += compareShards(&v, w, ans.entries, in, bits, false)
	}
	return finish(v)
}

// compareShards compares the elements a firewall holds in the shards in
// (all when nil) with those it should hold there, adding to v's missing
// and extra elements, and returns how many distinct elements it holds
// there (local bans counted only with all, which lists them in v.Local
// and v.Entries too).
func compareShards(v *HostView, w *hostWant, entries []wire.FirewallEntry, in []bool, bits int, all bool) int {
	const isLocal, isWanted = 1, 2
	have := make(map[elem]uint8, len(entries))
	for _, e := range entries {
		k := elem{e.Jail, netaddr.Canonical(e.Addr)}
		if in != nil && !in[int(wire.FirewallHash(k.jail, k.addr)>>(64-bits))] {
			continue // not asked for
		}
		f := have[k]
		if e.Local {
			f |= isLocal
		}
		have[k] = f
	}
	var missing, extra []elem
	w.each(func(b *fleetBan) {
		if in != nil && !in[int(b.hash>>(64-bits))] {
			return
		}
		k := w.elem(b)
		if f, ok := have[k]; ok {
			have[k] = f | isWanted
			return
		}
		v.MissingCount++
		if len(missing) < maxListed {
			missing = append(missing, k)
		}
	})
	held := 0
	for k, f := range have {
		switch {
		case f&isWanted != 0:
			if all || f&isLocal == 0 {
				held++ // (without all, the caller counts the local bans)
			}
		case f&isLocal != 0:
			if all {
				v.Local = append(v.Local, k.String())
				held++
			}
		default:
			held++
			v.ExtraCount++
			if len(extra) < maxListed {
				extra = append(extra, k)
			}
		}
		if all {
			v.Entries = append(v.Entries, k.String())
		}
	}
	v.Missing = appendSorted(v.Missing, missing)
	v.Extra = appendSorted(v.Extra, extra)
	sort.Strings(v.Local)
	sort.Strings(v.Entries)
	return held
}

func appendSorted(to []string, es []elem) []string {
	for _, e := range es {
		to = append(to, e.String())
	}
	sort.Strings(to)
	return to
}

// finish sets v's status from its differences.
func finish(v HostView) HostView {
	v.Status = "in-sync"
	if v.MissingCount+v.ExtraCount > 0 || v.Unchecked > 0 {
		v.Status = "drift"
		if v.Behind > 0 {
			v.Status = "behind" // catching up: the agent knows it has bans to take
		}
	}
	return v
}

// firewallAnswer is a whole answer to a firewall request: the final part
// and every part's entries, or an older agent's FirewallState.
type firewallAnswer struct {
	final   *wire.FirewallPart
	old     *wire.FirewallState
	entries []wire.FirewallEntry
}

func (a *firewallAnswer) backend() string {
	if a.old != nil {
		return a.old.Backend
	}
	return a.final.Backend
}

func (a *firewallAnswer) behind() uint64 {
	if a.old != nil {
		return a.old.Behind
	}
	return a.final.Behind
}

func (a *firewallAnswer) error() string {
	if a.old != nil {
		return a.old.Error
	}
	return a.final.Error
}

// askFirewall sends q to host's agent and collects its answer's parts,
// waiting up to timeout for each; meanwhile runs after the request is
// sent (nil: nothing). A failure comes with the host's status:
// "no-answer" (nothing came), "error" (a part lost, an answer that does
// not decode or names another host).
func askFirewall(nc *nats.Conn, host string, q *wire.FirewallQuery, timeout time.Duration, meanwhile func()) (*firewallAnswer, string, error) {
	data, err := wire.EncodeFirewall(q)
	if err != nil {
		return nil, "error", err
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, "error", fmt.Errorf("subscribe to %s: %w", inbox, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// Parts come faster than they are decoded: room for a large answer.
	if err := sub.SetPendingLimits(-1, 256<<20); err != nil {
		return nil, "error", err
	}
	if err := nc.PublishRequest(subject.AgentRequest(host, "firewall"), inbox, data); err != nil {
		return nil, "no-answer", err
	}
	if meanwhile != nil {
		meanwhile()
	}
	ans := &firewallAnswer{}
	for part := 1; ; part++ {
		msg, err := sub.NextMsg(timeout)
		switch {
		case err != nil && part == 1:
			return nil, "no-answer", err
		case errors.Is(err, nats.ErrSlowConsumer):
			return nil, "error", fmt.Errorf("host %s: answer parts dropped after part %d: %w", host, part-1, err)
		case err != nil:
			return nil, "error", fmt.Errorf("host %s: answer incomplete: %d parts came, then none for %v: %w", host, part-1, timeout, err)
		}
		p, old, err := wire.DecodeFirewallAnswer(msg.Data)
		if err != nil {
			return nil, "error", fmt.Errorf("host %s: answer part %d: %w", host, part, err)
		}
		if old != nil {
			if old.Host != host {
				return nil, "error", fmt.Errorf("answer names host %q", old.Host)
			}
			ans.old, ans.entries = old, old.Entries
			return ans, "", nil
		}
		if p.Host != host {
			return nil, "error", fmt.Errorf("answer names host %q", p.Host)
		}
		if p.Part != part {
			return nil, "error", fmt.Errorf("host %s: answer part %d lost (part %d came next)", host, part, p.Part)
		}
		ans.entries = append(ans.entries, p.Entries...)
		if p.Final {
			if p.Total != len(ans.entries) {
				return nil, "error", fmt.Errorf("host %s: answer of %d parts holds %d entries, its last part says %d", host, p.Parts, len(ans.entries), p.Total)
			}
			ans.final = p
			return ans, "", nil
		}
	}
}

func listAgents(ctx context.Context, js jetstream.JetStream) ([]wire.Heartbeat, error) {
	kv, err := js.KeyValue(ctx, subject.AgentsBucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", subject.AgentsBucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer w.Stop()
	var out []wire.Heartbeat
	for e := range w.Updates() {
		if e == nil {
			break
		}
		var hb wire.Heartbeat
		if err := wire.Decode(e.Value(), &hb); err != nil || hb.Host != e.Key() {
			continue
		}
		out = append(out, hb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, usageErr("address %q: %v", s, err)
	}
	if a.Zone() != "" {
		return netip.Addr{}, usageErr("address %q: a zone is not part of an address to ban", s)
	}
	return a.Unmap(), nil
}
