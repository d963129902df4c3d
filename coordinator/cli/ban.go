package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// manualJail is the jail of admins' bans when they name none: it blocks
// every port and exists on every host without configuration.
const manualJail = "manual"

// banBatch is how many bans a bulk ban publishes before it waits for
// their acknowledgements.
const banBatch = 512

func newBanCommand(g *globals) *cobra.Command {
	var (
		jail    string
		dur     time.Duration
		text    string
		force   bool
		newJail bool
		file    string
		ports   []uint
	)
	cmd := &cobra.Command{
		Use:   "ban ADDR | ban -f FILE",
		Short: "ban an address (or every address of a file) on every host",
		Long: `Ban an address on every host, in --jail for --for.

The address is checked against the coordinator's policy (key "policy" of the
fleet bucket, written by coord serve): addresses that are no single remote
host (loopback, multicast, ...) and the control plane's are never banned;
a fleet host's address and ignoreip (the coordinator's, the jail's) only with
--force. --for is at most limits.max_bantime of coord.yaml. --jail must be a
jail the fleet knows, or "manual" (all ports); --new-jail creates another,
whose ban blocks the --port ports, all ports if none.

With -f FILE (- for standard input), every line is "ADDR [JAIL [DURATION]]"
(whitespace between, # starts a comment); JAIL and DURATION default to
--jail and --for. Every line is checked as above; the valid ones are
written, the refused ones reported with their line number (exit code 2).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			p16, err := portList(ports)
			if err != nil {
				return err
			}
			tmpl := wire.Ban{Jail: jail, Ports: p16, By: "admin:" + who(), Reason: wire.Reason{Text: text}}
			if file != "" {
				if len(args) > 0 {
					return usageErr("give an address or -f FILE, not both")
				}
				return banFile(cmd, g, file, tmpl, dur, force, newJail)
			}
			if len(args) != 1 {
				return usageErr("ban: an address (or -f FILE) is required")
			}
			addr, err := parseAddr(args[0])
			if err != nil {
				return err
			}
			if !subject.ValidName(jail) {
				return usageErr("--jail %q: only letters, digits, '-' and '_'", jail)
			}
			s, pol, err := g.openPolicy(cmd.Context())
			if err != nil {
				return err
			}
			defer s.close()
			forced, err := checkBan(pol, addr, jail, dur, force, newJail)
			if err != nil {
				return err
			}
			st, err := bans.Open(s.ctx, s.js, false, 0)
			if err != nil {
				return err
			}
			now := time.Now()
			b := tmpl
			b.Addr, b.Created, b.Expires, b.Forced = addr, now, now.Add(dur), forced
			if err := st.Put(s.ctx, &b, now); err != nil {
				return err
			}
			if g.output == "json" {
				return writeJSON(g.stdout, &b)
			}
			note := ""
			if forced {
				note = " (forced)"
			}
			fmt.Fprintf(g.stdout, "banned %s in %s for %s%s\n", addr, jail, human(dur), note)
			return nil
		},
	}
	cmd.Flags().StringVar(&jail, "jail", manualJail, "jail to ban in: one the fleet knows, or 'manual' (all ports)")
	cmd.Flags().DurationVar(&dur, "for", time.Hour, "ban duration (at most limits.max_bantime)")
	cmd.Flags().StringVar(&text, "reason", "manual ban", "reason recorded with the ban")
	cmd.Flags().BoolVar(&force, "force", false, "ban even a fleet host's address or one in ignoreip (never the control plane's)")
	cmd.Flags().BoolVar(&newJail, "new-jail", false, "create --jail if the fleet does not know it: its ban blocks the --port ports, all ports if none")
	cmd.Flags().StringVarP(&file, "file", "f", "", `ban every address of FILE ("-": standard input), one "ADDR [JAIL [DURATION]]" a line`)
	cmd.Flags().UintSliceVar(&ports, "port", nil, "ports to block (default: the jail's on each host; all for 'manual' or a new jail)")
	return cmd
}

func portList(ports []uint) ([]uint16, error) {
	var p16 []uint16
	for _, p := range ports {
		if p == 0 || p > 65535 {
			return nil, usageErr("--port %d: not a port", p)
		}
		p16 = append(p16, uint16(p))
	}
	return p16, nil
}

// checkBan says whether an admin may ban addr in jail for dur under pol,
// and whether the ban must be marked Forced (an address the fleet never
// bans on its own, banned with --force). Every refusal is a usage error
// naming the address or flag and why.
func checkBan(pol *wire.Policy, addr netip.Addr, jail string, dur time.Duration, force, newJail bool) (forced bool, err error) {
	addr = netaddr.Canonical(addr)
	if !subject.ValidName(jail) {
		return false, usageErr("--jail %q: only letters, digits, '-' and '_'", jail)
	}
	if why := netaddr.Never(addr); why != "" {
		return false, usageErr("%s is never banned: %s", addr, why)
	}
	var forceable []string
	for _, n := range pol.Never {
		if !n.Prefix.Contains(addr) {
			continue
		}
		if !n.Force {
			return false, usageErr("%s is never banned, not even with --force: %s", addr, n.Reason)
		}
		if !slices.Contains(forceable, n.Reason) {
			forceable = append(forceable, n.Reason)
		}
	}
	pj, known := pol.Jails[jail]
	for _, p := range pj.IgnoreIP {
		if p.Contains(addr) {
			forceable = append(forceable, "in jail "+jail+"'s ignoreip")
			break
		}
	}
	if !known && jail != manualJail && !newJail {
		names := append(slices.Sorted(maps.Keys(pol.Jails)), manualJail)
		slices.Sort(names)
		return false, usageErr("--jail %s: a jail the fleet does not know (it knows %s); --new-jail creates it", jail, strings.Join(names, ", "))
	}
	if dur < time.Second {
		return false, usageErr("--for %v: at least 1s", dur)
	}
	if limit := time.Duration(pol.MaxBanTime * float64(time.Second)); limit > 0 && dur > limit {
		return false, usageErr("--for %s: at most %s (limits.max_bantime in coord.yaml)", human(dur), human(limit))
	}
	if len(forceable) > 0 {
		if !force {
			return false, usageErr("%s is not banned without --force: %s", addr, strings.Join(forceable, "; "))
		}
		return true, nil
	}
	return false, nil
}

// human writes d without its zero tails: 168h, 1h30m, 90s.
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// readPolicy returns the coordinator's policy, nil if the fleet bucket
// does not hold it.
func readPolicy(ctx context.Context, js jetstream.JetStream) (*wire.Policy, error) {
	kv, err := js.KeyValue(ctx, subject.FleetBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", subject.FleetBucket, err)
	}
	e, err := kv.Get(ctx, subject.PolicyKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the policy (key %s of bucket %s): %w", subject.PolicyKey, subject.FleetBucket, err)
	}
	var pol wire.Policy
	if err := wire.Decode(e.Value(), &pol); err != nil {
		return nil, fmt.Errorf("the policy (key %s of bucket %s): %w", subject.PolicyKey, subject.FleetBucket, err)
	}
	return &pol, nil
}

// loadPolicy is readPolicy for commands that cannot do without it.
func loadPolicy(ctx context.Context, js jetstream.JetStream) (*wire.Policy, error) {
	pol, err := readPolicy(ctx, js)
	if err == nil && pol == nil {
		err = errors.New("the coordinator's policy is not in the fleet bucket: is coord serve running?")
	}
	return pol, err
}

// fleetPolicy is the coordinator's policy, with the addresses of hosts
// whose heartbeat it does not reflect yet (it rewrites the policy about a
// second after a host appears) among those banned only with --force.
func fleetPolicy(ctx context.Context, js jetstream.JetStream) (*wire.Policy, error) {
	pol, err := loadPolicy(ctx, js)
	if err != nil {
		return nil, err
	}
	agents, err := listAgents(ctx, js)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	return withHosts(pol, agents), nil
}

// withHosts adds to pol's never-ban list, as forceable, the heartbeats'
// addresses it does not already cover.
func withHosts(pol *wire.Policy, agents []wire.Heartbeat) *wire.Policy {
	out := *pol
	out.Never = slices.Clone(pol.Never)
	for _, hb := range agents {
	next:
		for _, a := range hb.Addrs {
			a = netaddr.Canonical(a)
			for _, n := range out.Never {
				if n.Prefix.Contains(a) {
					continue next
				}
			}
			out.Never = append(out.Never, wire.NeverBan{Prefix: netip.PrefixFrom(a, a.BitLen()), Reason: "an address of fleet host " + hb.Host, Force: true})
		}
	}
	return &out
}

// refusedLine is a line of a bulk ban file that was not banned.
type refusedLine struct {
	Line  int    `json:"line"`
	Text  string `json:"text"`
	Error string `json:"error"`
}

// parsedLine is one ban a bulk ban file asks for.
type parsedLine struct {
	line int
	text string
	addr netip.Addr
	jail string
	dur  time.Duration
}

// parseBanFile reads "ADDR [JAIL [DURATION]]" lines; what does not parse
// is returned as refused.
func parseBanFile(r io.Reader, jail string, dur time.Duration) (ok []parsedLine, refused []refusedLine, err error) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		text = strings.Join(f, " ")
		refuse := func(format string, a ...any) {
			refused = append(refused, refusedLine{Line: n, Text: text, Error: fmt.Sprintf(format, a...)})
		}
		if len(f) > 3 {
			refuse("%d columns, at most 3 (address, jail, duration)", len(f))
			continue
		}
		p := parsedLine{line: n, text: text, jail: jail, dur: dur}
		a, perr := parseAddr(f[0])
		if perr != nil {
			refuse("%v", perr)
			continue
		}
		p.addr = a
		if len(f) > 1 {
			p.jail = f[1]
		}
		if len(f) > 2 {
			d, derr := time.ParseDuration(f[2])
			if derr != nil {
				refuse("duration %q: %v", f[2], derr)
				continue
			}
			p.dur = d
		}
		ok = append(ok, p)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return ok, refused, nil
}

// banFile bans every valid line of file; refused lines are reported and
// make the exit code 2, the valid ones are written all the same.
func banFile(cmd *cobra.Command, g *globals, file string, tmpl wire.Ban, dur time.Duration, force, newJail bool) error {
	var r io.Reader
	name := file
	if file == "-" {
		r, name = cmd.InOrStdin(), "standard input"
	} else {
		f, err := os.Open(file)
		if err != nil {
			return usageErr("-f: %v", err)
		}
		defer f.Close()
		r = f
	}
	lines, refused, err := parseBanFile(r, tmpl.Jail, dur)
	if err != nil {
		return usageErr("read %s: %v", name, err)
	}
	s, pol, err := g.openPolicy(cmd.Context())
	if err != nil {
		return err
	}
	defer s.close()
	now := time.Now()
	var list []*wire.Ban
	for _, l := range lines {
		forced, err := checkBan(pol, l.addr, l.jail, l.dur, force, newJail)
		if err != nil {
			refused = append(refused, refusedLine{Line: l.line, Text: l.text, Error: err.Error()})
			continue
		}
		b := tmpl
		b.Addr, b.Jail, b.Created, b.Expires, b.Forced = l.addr, l.jail, now, now.Add(l.dur), forced
		list = append(list, &b)
	}
	slices.SortFunc(refused, func(a, b refusedLine) int { return a.Line - b.Line })
	written, werr := putBans(cmd.Context(), s.js, list, now, g.timeout)
	if g.output == "json" {
		if err := writeJSON(g.stdout, map[string]any{"banned": written, "refused": orEmpty(refused)}); err != nil {
			return err
		}
	} else {
		for _, r := range refused {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: %s: %s\n", name, r.Line, r.Text, r.Error)
		}
		fmt.Fprintf(g.stdout, "banned %d addresses from %s; %d lines refused\n", written, name, len(refused))
	}
	if werr != nil {
		return fmt.Errorf("%d of %d bans written: %w", written, len(list), werr)
	}
	if len(refused) > 0 {
		return usageErr("%s: %d lines refused", name, len(refused))
	}
	return nil
}

// putBans writes bans as bans.Store.Put does (a publish to the key's
// subject with the ban time as the message's TTL), asynchronously, in
// batches of banBatch, each acknowledged within timeout. It returns how
// many were stored.
func putBans(parent context.Context, js jetstream.JetStream, list []*wire.Ban, now time.Time, timeout time.Duration) (int, error) {
	written := 0
	for chunk := range slices.Chunk(list, banBatch) {
		ctx, cancel := context.WithTimeout(parent, timeout)
		futures := make([]jetstream.PubAckFuture, 0, len(chunk))
		var err error
		for _, b := range chunk {
			data, eerr := wire.Encode(b)
			if eerr != nil {
				err = fmt.Errorf("encode ban %s: %w", b.Addr, eerr)
				break
			}
			subj, opts := bans.PutMsg(b, now)
			f, perr := js.PublishAsync(subj, data, opts...)
			if perr != nil {
				err = fmt.Errorf("put ban %s in %s: %w", b.Addr, b.Jail, perr)
				break
			}
			futures = append(futures, f)
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
		}
		cancel()
		for i, f := range futures {
			select {
			case <-f.Ok():
				written++
			case ferr := <-f.Err():
				if err == nil {
					err = fmt.Errorf("put ban %s in %s: %w", chunk[i].Addr, chunk[i].Jail, ferr)
				}
			default:
				if err == nil {
					err = fmt.Errorf("put ban %s in %s: no acknowledgement within %v", chunk[i].Addr, chunk[i].Jail, timeout)
				}
			}
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func newUnbanCommand(g *globals) *cobra.Command {
	var jail string
	cmd := &cobra.Command{
		Use:   "unban ADDR",
		Short: "lift the bans of an address on every host (in one jail with --jail)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := parseAddr(args[0])
			if err != nil {
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
			// Every ban of the address: the fleet's and those one host
			// enforces alone (wire.Ban.Only, a key of their own).
			list, _, err := st.List(ctx)
			if err != nil {
				return err
			}
			removed := 0
			for _, b := range list {
				if netaddr.Canonical(b.Addr) != addr || (jail != "" && b.Jail != jail) {
					continue
				}
				err := st.DeleteKey(ctx, bans.Key(&b))
				if errors.Is(err, bans.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				removed++
				on := ""
				if b.Only != "" {
					on = " on " + b.Only
				}
				fmt.Fprintf(g.stdout, "unbanned %s in %s%s\n", addr, b.Jail, on)
			}
			// Bans agents made alone while NATS was away are not in the
			// bucket: ask the hosts, and lift those by a purge marker.
			views, err := askAll(ctx, g, s.nc, js, nil)
			if err != nil {
				return err
			}
			localOn := map[string][]string{} // jail -> hosts
			for _, v := range views {
				for _, k := range v.Local {
					j, a, ok := strings.Cut(k, "/")
					if ok && a == addr.String() && (jail == "" || j == jail) {
						localOn[j] = append(localOn[j], v.Host)
					}
				}
			}
			for _, j := range slices.Sorted(maps.Keys(localOn)) {
				if err := st.Lift(ctx, j, addr); err != nil {
					return err
				}
				removed++
				fmt.Fprintf(g.stdout, "lifted the local ban of %s in %s on %s\n", addr, j, strings.Join(localOn[j], ","))
			}
			if removed == 0 {
				return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s is not banned", addr)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&jail, "jail", "", "only this jail (default: every jail)")
	return cmd
}

func who() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	h, _ := os.Hostname()
	return name + "@" + h
}

// openPolicy opens a session and reads the policy the coordinator
// enforces (what coord ban checks its input against).
func (g *globals) openPolicy(ctx context.Context) (*session, *wire.Policy, error) {
	s, err := g.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	pol, err := fleetPolicy(s.ctx, s.js)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, pol, nil
}
