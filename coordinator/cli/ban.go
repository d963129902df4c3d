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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// manualJail is the jail of admins' bans when they name none: it blocks
// every port and exists on every host without configuration.
const manualJail = "manual"

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
written, the refused ones reported with their line number (exit code 2).
The file is read as a stream and written in batches as it is read: memory
does not grow with its length, and a read error part way leaves the bans
of the lines before it written.`,
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

// refusedLine is a line of a bulk file that was not taken.
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

// maxBulkLine is the longest line of a bulk file: an address, a jail, a
// duration and a comment fit in it many times over.
const maxBulkLine = 4096

// eachLine reads r one line at a time and calls fn with the number and
// the fields of every line that has any (# starts a comment), the fields
// joined by one space as text; a line longer than maxBulkLine is given as
// tooLong, without fields. Memory stays one line, however long r is. It
// stops at the first error fn or r returns.
func eachLine(r io.Reader, fn func(n int, text string, f []string, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, maxBulkLine)
	n := 0
	for {
		b, err := br.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			tooLong = true
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				_, err = br.ReadSlice('\n')
			}
		}
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		n++
		if tooLong {
			if ferr := fn(n, "", nil, true); ferr != nil {
				return ferr
			}
		} else {
			text, _, _ := strings.Cut(string(b), "#")
			if f := strings.Fields(text); len(f) > 0 {
				if ferr := fn(n, strings.Join(f, " "), f, false); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
	}
}

// readBanFile reads "ADDR [JAIL [DURATION]]" lines one at a time, JAIL and
// DURATION defaulting to jail and dur: each line that parses goes to ok,
// each that does not to refuse, in the file's order. It returns the first
// error of ok or of reading r.
func readBanFile(r io.Reader, jail string, dur time.Duration, ok func(parsedLine) error, refuse func(refusedLine)) error {
	return eachLine(r, func(n int, text string, f []string, tooLong bool) error {
		if tooLong {
			refuse(refusedLine{Line: n, Error: fmt.Sprintf("longer than %d bytes", maxBulkLine)})
			return nil
		}
		if len(f) > 3 {
			refuse(refusedLine{Line: n, Text: text, Error: fmt.Sprintf("%d columns, at most 3 (address, jail, duration)", len(f))})
			return nil
		}
		p := parsedLine{line: n, text: text, jail: jail, dur: dur}
		a, err := parseAddr(f[0])
		if err != nil {
			refuse(refusedLine{Line: n, Text: text, Error: err.Error()})
			return nil
		}
		p.addr = a
		if len(f) > 1 {
			p.jail = f[1]
		}
		if len(f) > 2 {
			d, err := time.ParseDuration(f[2])
			if err != nil {
				refuse(refusedLine{Line: n, Text: text, Error: fmt.Sprintf("duration %q: %v", f[2], err)})
				return nil
			}
			p.dur = d
		}
		return ok(p)
	})
}

// openBulk opens a bulk file, "-" being standard input, and returns it
// with the name its lines are reported under.
func openBulk(cmd *cobra.Command, file string) (r io.Reader, name string, closeFn func(), err error) {
	if file == "-" {
		return cmd.InOrStdin(), "standard input", func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", nil, usageErr("-f: %v", err)
	}
	return f, file, func() { f.Close() }, nil
}

// refusals reports a bulk file's refused lines as they come: on standard
// error as NAME:LINE: TEXT: WHY (kept only for -o json, which lists them
// at the end).
type refusals struct {
	name string
	w    io.Writer
	keep bool
	n    int
	list []refusedLine
}

func (r *refusals) add(l refusedLine) {
	r.n++
	if r.keep {
		r.list = append(r.list, l)
		return
	}
	if l.Text == "" {
		fmt.Fprintf(r.w, "%s:%d: %s\n", r.name, l.Line, l.Error)
		return
	}
	fmt.Fprintf(r.w, "%s:%d: %s: %s\n", r.name, l.Line, l.Text, l.Error)
}

// banFile bans every valid line of file as it reads it, in batches, with
// memory bounded by the batches and not by the file; refused lines are
// reported and make the exit code 2, the valid ones are written all the
// same.
func banFile(cmd *cobra.Command, g *globals, file string, tmpl wire.Ban, dur time.Duration, force, newJail bool) error {
	r, name, closeFile, err := openBulk(cmd, file)
	if err != nil {
		return err
	}
	defer closeFile()
	s, pol, err := g.openPolicy(cmd.Context())
	if err != nil {
		return err
	}
	defer s.close()
	ref := &refusals{name: name, w: cmd.ErrOrStderr(), keep: g.output == "json"}
	w := newBanWriter(cmd.Context(), s.js, g.timeout)
	asked := 0
	rerr := readBanFile(r, tmpl.Jail, dur, func(l parsedLine) error {
		forced, err := checkBan(pol, l.addr, l.jail, l.dur, force, newJail)
		if err != nil {
			ref.add(refusedLine{Line: l.line, Text: l.text, Error: err.Error()})
			return nil
		}
		now := time.Now()
		b := tmpl
		b.Addr, b.Jail, b.Created, b.Expires, b.Forced = l.addr, l.jail, now, now.Add(l.dur), forced
		asked++
		return w.put(&b, now)
	}, ref.add)
	werr := w.flush()
	if g.output == "json" {
		if err := writeJSON(g.stdout, map[string]any{"banned": w.written, "refused": orEmpty(ref.list)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "banned %d addresses from %s; %d lines refused\n", w.written, name, ref.n)
	}
	if werr != nil {
		return fmt.Errorf("%d of %d bans written: %w", w.written, asked, werr)
	}
	if rerr != nil {
		return fmt.Errorf("read %s: %w (the %d bans before it are written)", name, rerr, w.written)
	}
	if ref.n > 0 {
		return usageErr("%s: %d lines refused", name, ref.n)
	}
	return nil
}

// banWindow is how many bans a bulk ban has published and not yet seen
// acknowledged, at most (below the JetStream client's own limit of
// pending asynchronous publishes, 4000 by default).
const banWindow = 2048

// banWriter writes bans as bans.Store.Put does (a publish to the key's
// subject with the ban time as the message's TTL), asynchronously, with
// at most banWindow of them awaiting their acknowledgement, each within
// timeout of the wait for it. After its first error it writes nothing
// more.
type banWriter struct {
	ctx     context.Context
	js      jetstream.JetStream
	timeout time.Duration
	ring    [banWindow]pendingBan // pending, oldest at head
	head, n int
	written int // acknowledged
	err     error
}

type pendingBan struct {
	f    jetstream.PubAckFuture
	addr netip.Addr
	jail string
}

func newBanWriter(ctx context.Context, js jetstream.JetStream, timeout time.Duration) *banWriter {
	return &banWriter{ctx: ctx, js: js, timeout: timeout}
}

// put publishes b, after waiting for the oldest pending ban when
// banWindow are pending.
func (w *banWriter) put(b *wire.Ban, now time.Time) error {
	if w.err != nil {
		return w.err
	}
	if w.n == banWindow {
		if err := w.waitOldest(time.Now().Add(w.timeout)); err != nil {
			return err
		}
	}
	data, err := wire.Encode(b)
	if err != nil {
		w.err = fmt.Errorf("encode ban %s: %w", b.Addr, err)
		return w.err
	}
	subj, opts := bans.PutMsg(b, now)
	f, err := w.js.PublishAsync(subj, data, opts...)
	if err != nil {
		w.err = fmt.Errorf("put ban %s in %s: %w", b.Addr, b.Jail, err)
		return w.err
	}
	w.ring[(w.head+w.n)%banWindow] = pendingBan{f: f, addr: b.Addr, jail: b.Jail}
	w.n++
	return nil
}

// waitOldest waits for the acknowledgement of the oldest pending ban
// until deadline.
func (w *banWriter) waitOldest(deadline time.Time) error {
	p := w.ring[w.head]
	w.ring[w.head] = pendingBan{}
	w.head = (w.head + 1) % banWindow
	w.n--
	var err error
	select {
	case <-p.f.Ok():
	case ferr := <-p.f.Err():
		err = ferr
	default:
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-p.f.Ok():
		case ferr := <-p.f.Err():
			err = ferr
		case <-t.C:
			err = fmt.Errorf("no acknowledgement within %v", w.timeout)
		case <-w.ctx.Done():
			err = w.ctx.Err()
		}
		t.Stop()
	}
	if err != nil {
		w.err = fmt.Errorf("put ban %s in %s: %w", p.addr, p.jail, err)
		return w.err
	}
	w.written++
	return nil
}

// flush waits for every pending ban (those published before an error
// too, so that written counts every ban stored: all of them within
// timeout of the error) and returns the first error.
func (w *banWriter) flush() error {
	first := w.err
	var deadline time.Time // once failed, one wait for all that is left
	if first != nil {
		deadline = time.Now().Add(w.timeout)
	}
	for w.n > 0 {
		d := deadline
		if first == nil {
			d = time.Now().Add(w.timeout)
		}
		if err := w.waitOldest(d); err != nil && first == nil {
			first, deadline = err, time.Now().Add(w.timeout)
		}
	}
	w.err = first
	return first
}

// unbanChunk is how many addresses of a bulk unban are looked for in one
// pass over the bans bucket's keys: what bounds the command's memory (a
// variable for tests).
var unbanChunk = 250_000

// unbanWorkers is how many bans a bulk unban deletes at once.
const unbanWorkers = 64

// unbanner lifts the bans of a bulk unban file, a chunk of addresses at a
// time: one pass over the bucket's keys finds their bans, purged by
// unbanWorkers at once (a ban that expired in between leaves a purge
// marker, as coord unban's lift of a local ban does); the hosts' own bans (made while NATS was away,
// not in the bucket) are lifted by a purge marker, as unban does.
type unbanner struct {
	g     *globals
	st    *bans.Store
	local map[string][]string // "jail/addr" -> hosts holding it as their own ban
	chunk map[unbanAsk]bool   // the chunk's asks; value: a ban was found

	removed          int // bans lifted
	found, notBanned int // distinct (address, jail) lines with a ban and without
}

// unbanAsk is one line of a bulk unban: an address, and a jail ("" for
// every jail).
type unbanAsk struct {
	addr netip.Addr
	jail string
}

// add asks for the bans of addr in jail ("" every jail) to be lifted.
func (u *unbanner) add(ctx context.Context, addr netip.Addr, jail string) error {
	a := unbanAsk{addr, jail}
	if _, ok := u.chunk[a]; !ok && len(u.chunk) >= unbanChunk {
		if err := u.flush(ctx); err != nil {
			return err
		}
	}
	u.chunk[a] = false
	return nil
}

// match marks the chunk's asks that a ban of addr in jail answers, and
// reports whether there is one.
func (u *unbanner) match(addr netip.Addr, jail string) bool {
	hit := false
	for _, a := range [2]unbanAsk{{addr, jail}, {addr, ""}} {
		if _, ok := u.chunk[a]; ok {
			u.chunk[a], hit = true, true
		}
	}
	return hit
}

// flush lifts the bans of the chunk's addresses: one pass over the
// bucket's keys collects theirs (as fast as they come, lest the client
// buffer what the server sends), then unbanWorkers purge them.
func (u *unbanner) flush(ctx context.Context) error {
	if len(u.chunk) == 0 {
		return nil
	}
	found := map[string]bool{} // a listing may give a key twice
	lister, err := u.st.KV().ListKeys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("list the bans bucket's keys: %w", err)
	}
	if err == nil {
		for k := range lister.Keys() {
			jail, addr, err := subject.ParseBanKey(k)
			if err != nil {
				continue // not a ban's key: coord bans reports those
			}
			addr = netaddr.Canonical(addr)
			if u.match(addr, jail) {
				found[k] = true
			}
		}
		_ = lister.Stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	keys := make(chan string)
	var removed atomic.Int64
	eg, ectx := errgroup.WithContext(ctx)
	for range unbanWorkers {
		eg.Go(func() error {
			for k := range keys {
				pctx, cancel := context.WithTimeout(ectx, u.g.timeout)
				err := u.st.KV().Purge(pctx, k)
				cancel()
				if err != nil {
					return fmt.Errorf("delete ban key %s: %w", k, err)
				}
				removed.Add(1)
			}
			return nil
		})
	}
	eg.Go(func() error {
		defer close(keys)
		for k := range found {
			select {
			case keys <- k:
			case <-ectx.Done():
				return ectx.Err()
			}
		}
		return nil
	})
	err = eg.Wait()
	u.removed += int(removed.Load())
	if err != nil {
		return err
	}
	for k, hosts := range u.local {
		j, a, _ := strings.Cut(k, "/")
		addr, perr := netip.ParseAddr(a)
		if perr != nil {
			continue
		}
		if !u.match(addr, j) {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, u.g.timeout)
		err := u.st.Lift(lctx, j, addr)
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintf(u.g.stdout, "lifted the local ban of %s in %s on %s\n", addr, j, strings.Join(hosts, ","))
		u.removed++
	}
	for _, hit := range u.chunk {
		if hit {
			u.found++
		} else {
			u.notBanned++
		}
	}
	clear(u.chunk)
	return nil
}

// unbanFile lifts the bans of every address of file, a line "ADDR [JAIL
// [DURATION]]" (a bulk ban file is taken as is: its durations are
// checked and ignored), JAIL defaulting to jail ("" every jail).
func unbanFile(cmd *cobra.Command, g *globals, file, jail string) error {
	r, name, closeFile, err := openBulk(cmd, file)
	if err != nil {
		return err
	}
	defer closeFile()
	s, err := g.open(cmd.Context())
	if err != nil {
		return err
	}
	defer s.close()
	st, err := bans.Open(s.ctx, s.js, false, 0)
	if err != nil {
		return err
	}
	views, err := askLocal(s.ctx, g, s.nc, s.js)
	if err != nil {
		return err
	}
	u := &unbanner{g: g, st: st, local: map[string][]string{}, chunk: map[unbanAsk]bool{}}
	for _, v := range views {
		if v.Status == "no-answer" || v.Status == "error" {
			fmt.Fprintf(cmd.ErrOrStderr(), "host %s: %s: %s: the bans it made alone while NATS was away are not lifted\n", v.Host, v.Status, v.Error)
		}
		for _, k := range v.Local {
			u.local[k] = append(u.local[k], v.Host)
		}
	}
	ref := &refusals{name: name, w: cmd.ErrOrStderr(), keep: g.output == "json"}
	ctx := cmd.Context()
	rerr := readBanFile(r, jail, time.Second, func(l parsedLine) error {
		if l.jail != "" && !subject.ValidName(l.jail) {
			ref.add(refusedLine{Line: l.line, Text: l.text, Error: fmt.Sprintf("jail %q: only letters, digits, '-' and '_'", l.jail)})
			return nil
		}
		return u.add(ctx, netaddr.Canonical(l.addr), l.jail)
	}, ref.add)
	if rerr == nil {
		rerr = u.flush(ctx)
	} else if ferr := u.flush(ctx); ferr != nil {
		return fmt.Errorf("%w; then: %w", rerr, ferr)
	}
	if g.output == "json" {
		if err := writeJSON(g.stdout, map[string]any{"unbanned": u.removed, "found": u.found, "not_banned": u.notBanned, "refused": orEmpty(ref.list)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "unbanned %d bans for %d lines of %s; %d lines named no ban; %d lines refused\n", u.removed, u.found, name, u.notBanned, ref.n)
	}
	if rerr != nil {
		return fmt.Errorf("%s: %w (%d bans lifted)", name, rerr, u.removed)
	}
	if ref.n > 0 {
		return usageErr("%s: %d lines refused", name, ref.n)
	}
	if u.removed == 0 {
		return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s: no address of it is banned", name)}
	}
	return nil
}

func newUnbanCommand(g *globals) *cobra.Command {
	var jail, file string
	cmd := &cobra.Command{
		Use:   "unban ADDR | unban -f FILE",
		Short: "lift the bans of an address (or of every address of a file) on every host (in one jail with --jail)",
		Long: `Lift every ban of an address on every host: the fleet's, those one host
enforces alone, and those an agent made by itself while NATS was away; in
--jail only when given.

With -f FILE (- for standard input), every line is "ADDR [JAIL [DURATION]]",
as coord ban -f reads them (a DURATION is checked and ignored); JAIL
defaults to --jail. The file is read as a stream, its addresses looked for
250,000 at a time in one pass over the bans bucket (memory does not grow
with the file); refused lines are reported with their line number (exit
code 2), the others are done all the same. Exit code 3 when no address of
the file was banned.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if jail != "" && !subject.ValidName(jail) {
				return usageErr("--jail %q: only letters, digits, '-' and '_'", jail)
			}
			if file != "" {
				if len(args) > 0 {
					return usageErr("give an address or -f FILE, not both")
				}
				return unbanFile(cmd, g, file, jail)
			}
			if len(args) != 1 {
				return usageErr("unban: an address (or -f FILE) is required")
			}
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
			views, err := askLocal(ctx, g, s.nc, js)
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
	cmd.Flags().StringVarP(&file, "file", "f", "", `unban every address of FILE ("-": standard input), one "ADDR [JAIL]" a line`)
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
