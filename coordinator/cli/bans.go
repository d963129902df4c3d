package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
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
			list, bad, err := st.List(ctx)
			if err != nil {
				return err
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
			if cluster {
				return clusterView(ctx, g, s.nc, js, list)
			}
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
	Behind   uint64   `json:"behind,omitempty"`
	Backend  string   `json:"backend,omitempty"`
	Held     int      `json:"held"`
	Missing  []string `json:"missing"` // in the bucket, not in the firewall ("jail/addr")
	Extra    []string `json:"extra"`   // in the firewall, not in the bucket
	Local    []string `json:"local"`   // the host's own bans, made while NATS was away (not drift)
	Entries  []string `json:"entries"` // what the firewall holds ("jail/addr")
	Error    string   `json:"error,omitempty"`
	LastSeen string   `json:"last_seen,omitempty"`
}

// askAll asks every agent, in parallel, what its firewall holds.
func askAll(ctx context.Context, g *globals, nc *nats.Conn, js jetstream.JetStream, list []wire.Ban) ([]HostView, error) {
	agents, err := listAgents(ctx, js)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return eachHost(agents, func(a wire.Heartbeat) HostView { return askHost(g, nc, a, wantOn(a, list, now)) }), nil
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

func clusterView(ctx context.Context, g *globals, nc *nats.Conn, js jetstream.JetStream, list []wire.Ban) error {
	views, err := askAll(ctx, g, nc, js, list)
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
		err = writeJSON(g.stdout, map[string]any{"bans": len(list), "hosts": views, "in_sync": inSync})
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "HOST\tSTATUS\tHELD\tBEHIND\tMISSING\tEXTRA\tLOCAL\tBACKEND\n")
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", v.Host, v.Status, v.Held, v.Behind, listOrDash(v.Missing), listOrDash(v.Extra), listOrDash(v.Local), v.Backend)
		}
		fmt.Fprintf(tw, "\n%d bans in the bucket; %d hosts\n", len(list), len(views))
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

func listOrDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	if len(s) > 3 {
		return strings.Join(s[:3], ",") + fmt.Sprintf(",…(+%d)", len(s)-3)
	}
	return strings.Join(s, ",")
}

// wantOn is what host's firewall should hold: the fleet's bans and its own
// (wire.Ban.Only: another host's are not its to hold), but those it
// refuses (its own addresses, its jail's ignoreip, netaddr.Never's) and
// those about to expire.
func wantOn(host wire.Heartbeat, list []wire.Ban, now time.Time) map[string]bool {
	want := map[string]bool{}
next:
	for _, b := range list {
		if b.Only != "" && b.Only != host.Host {
			continue
		}
		if !b.Expires.IsZero() && b.Expires.Sub(now) < 2*time.Second {
			continue
		}
		addr := netaddr.Canonical(b.Addr)
		if netaddr.Never(addr) != "" {
			continue
		}
		for _, own := range host.Addrs {
			if netaddr.Canonical(own) == addr {
				continue next
			}
		}
		for _, p := range host.Jails[b.Jail].IgnoreIP {
			if p.Contains(addr) {
				continue next
			}
		}
		want[b.Jail+"/"+addr.String()] = true
	}
	return want
}

func askHost(g *globals, nc *nats.Conn, hb wire.Heartbeat, want map[string]bool) HostView {
	v := HostView{Host: hb.Host, Missing: []string{}, Extra: []string{}, Local: []string{}, Entries: []string{}, LastSeen: hb.Seen.Format(time.RFC3339)}
	msg, err := nc.Request(subject.AgentRequest(hb.Host, "firewall"), nil, g.timeout)
	if err != nil {
		v.Status, v.Error = "no-answer", err.Error()
		return v
	}
	var fs wire.FirewallState
	if err := wire.Decode(msg.Data, &fs); err != nil || fs.Host != hb.Host {
		v.Status = "error"
		if err != nil {
			v.Error = err.Error()
		} else {
			v.Error = fmt.Sprintf("answer names host %q", fs.Host)
		}
		return v
	}
	v.Backend = fs.Backend
	if fs.Error != "" {
		v.Status, v.Error = "error", fs.Error
		return v
	}
	have := map[string]bool{}
	for _, e := range fs.Entries {
		k := e.Jail + "/" + e.Addr.String()
		have[k] = true
		v.Entries = append(v.Entries, k)
		if e.Local && !want[k] {
			v.Local = append(v.Local, k)
		}
	}
	v.Held = len(have)
	for k := range want {
		if !have[k] {
			v.Missing = append(v.Missing, k)
		}
	}
	for k := range have {
		if !want[k] && !slices.Contains(v.Local, k) {
			v.Extra = append(v.Extra, k)
		}
	}
	sort.Strings(v.Missing)
	sort.Strings(v.Extra)
	sort.Strings(v.Local)
	sort.Strings(v.Entries)
	v.Status = "in-sync"
	v.Behind = fs.Behind
	switch {
	case len(v.Missing)+len(v.Extra) > 0 && v.Behind > 0:
		v.Status = "behind" // catching up: the agent knows it has bans to take
	case len(v.Missing)+len(v.Extra) > 0:
		v.Status = "drift"
	}
	return v
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
