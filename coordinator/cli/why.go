package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// Bounds of coord why's reading of the offence stream.
const (
	whyDefaultFindTime = 10 * time.Minute // a jail the policy does not know
	whyMaxLookBack     = 24 * time.Hour   // the longest window read before a ban
	whyMaxMessages     = 2_000_000        // messages read per window at most
	whyDeadline        = 30 * time.Second // for all the reading
	whyFetch           = 512              // messages per pull
)

// offenceScan is what a read of the offence stream between From and To
// found for one address.
type offenceScan struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Offences []wire.Offence `json:"offences"`
	Scanned  int            `json:"scanned"`             // messages read
	CutShort string         `json:"cut_short,omitempty"` // why the read stopped before To, if it did
}

// whyBan is one ban of the address and the offences behind it.
type whyBan struct {
	Key string   `json:"key"`
	Ban wire.Ban `json:"ban"`
	offenceScan
}

// whyReport is coord why's answer.
type whyReport struct {
	Addr netip.Addr `json:"addr"`
	Jail string     `json:"jail,omitempty"`
	Bans []whyBan   `json:"bans"`
	// Recent: the address has no ban; its offences in the last findtime.
	Recent *offenceScan `json:"recent,omitempty"`
}

func newWhyCommand(g *globals) *cobra.Command {
	var jail string
	cmd := &cobra.Command{
		Use:   "why ADDR",
		Short: "show the bans of an address and the offences behind each",
		Long: `Show every ban of an address (the fleet's, and those one host enforces
alone) and, for each, the offences behind it: those of the offence stream
from the jail's findtime (10m for a jail the policy does not name, at most
24h) before the ban until just after it. An address with no ban gets its
offences of the last findtime, and exit code 3.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			addr, err := parseAddr(args[0])
			if err != nil {
				return err
			}
			if jail != "" && !subject.ValidName(jail) {
				return usageErr("--jail %q: only letters, digits, '-' and '_'", jail)
			}
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.close()
			rep, err := why(s.ctx, cmd.Context(), s.js, addr, jail, time.Now(), whyDeadline, whyMaxMessages)
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = writeJSON(g.stdout, rep)
			} else {
				err = printWhy(g.stdout, rep)
			}
			if err != nil {
				return err
			}
			if len(rep.Bans) == 0 {
				in := ""
				if jail != "" {
					in = " in " + jail
				}
				return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s is not banned%s", addr, in)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&jail, "jail", "", "only this jail (default: every jail)")
	return cmd
}

// why gathers the report: the bans with ctx (the command's --timeout),
// the offences within deadline of parent, at most maxMsgs messages a window.
func why(ctx, parent context.Context, js jetstream.JetStream, addr netip.Addr, jail string, now time.Time, deadline time.Duration, maxMsgs int) (*whyReport, error) {
	addr = netaddr.Canonical(addr)
	pol, err := readPolicy(ctx, js)
	if err != nil {
		return nil, err
	}
	st, err := bans.Open(ctx, js, false, 0)
	if err != nil {
		return nil, err
	}
	list, _, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	rep := &whyReport{Addr: addr, Jail: jail, Bans: []whyBan{}}
	for _, b := range list {
		if netaddr.Canonical(b.Addr) == addr && (jail == "" || b.Jail == jail) {
			rep.Bans = append(rep.Bans, whyBan{Key: bans.Key(&b), Ban: b})
		}
	}
	sort.Slice(rep.Bans, func(i, j int) bool { return rep.Bans[i].Ban.Created.Before(rep.Bans[j].Ban.Created) })

	sctx, cancel := context.WithTimeout(parent, deadline)
	defer cancel()
	for i := range rep.Bans {
		b := &rep.Bans[i]
		from := b.Ban.Created.Add(-findTimeOf(pol, b.Ban.Jail))
		b.offenceScan, err = scanOffences(sctx, js, addr, b.Ban.Jail, from, b.Ban.Created.Add(time.Second), maxMsgs)
		if err != nil {
			return nil, err
		}
	}
	if len(rep.Bans) == 0 {
		ft := findTimeOf(pol, jail)
		if jail == "" && pol != nil {
			for name := range pol.Jails {
				ft = max(ft, findTimeOf(pol, name))
			}
		}
		sc, err := scanOffences(sctx, js, addr, jail, now.Add(-ft), now.Add(time.Second), maxMsgs)
		if err != nil {
			return nil, err
		}
		if len(sc.Offences) > 0 || sc.CutShort != "" {
			rep.Recent = &sc
		}
	}
	return rep, nil
}

// findTimeOf is jail's findtime in pol, whyDefaultFindTime if pol does not
// name it, at most whyMaxLookBack.
func findTimeOf(pol *wire.Policy, jail string) time.Duration {
	ft := whyDefaultFindTime
	if pol != nil {
		if pj, ok := pol.Jails[jail]; ok && pj.FindTime > 0 {
			ft = time.Duration(pj.FindTime * float64(time.Second))
		}
	}
	return min(ft, whyMaxLookBack)
}

// scanOffences reads the offence stream from `from` (stream time) until
// `to` or its end, and keeps addr's offences in jail (any jail if ""). It
// reads at most maxMsgs messages and stops when ctx ends; CutShort says so.
// An offence whose host is not its subject's is not one the coordinator
// counted, and is skipped.
func scanOffences(ctx context.Context, js jetstream.JetStream, addr netip.Addr, jail string, from, to time.Time, maxMsgs int) (offenceScan, error) {
	sc := offenceScan{From: from, To: to, Offences: []wire.Offence{}}
	stream, err := js.Stream(ctx, subject.OffenceStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return sc, nil
	}
	if err != nil {
		return sc, fmt.Errorf("stream %s: %w", subject.OffenceStream, err)
	}
	state := stream.CachedInfo().State
	if state.Msgs == 0 || state.LastTime.Before(from) {
		return sc, nil
	}
	start := from
	cons, err := js.OrderedConsumer(ctx, subject.OffenceStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subject.OffenceWildcard},
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &start,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return sc, fmt.Errorf("read stream %s: %w", subject.OffenceStream, err)
	}
	for {
		if ctx.Err() != nil {
			sc.CutShort = "the deadline passed"
			return sc, nil
		}
		if sc.Scanned >= maxMsgs {
			sc.CutShort = fmt.Sprintf("read %d messages, the most read at once", sc.Scanned)
			return sc, nil
		}
		wait := time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = max(min(wait, time.Until(dl)), 10*time.Millisecond)
		}
		batch, err := cons.Fetch(min(whyFetch, maxMsgs-sc.Scanned), jetstream.FetchMaxWait(wait))
		if err != nil {
			return sc, fmt.Errorf("read stream %s: %w", subject.OffenceStream, err)
		}
		// A pull ends when it is full or its wait is over: return at the
		// window's or the stream's end rather than wait for more (no
		// further pull follows).
		got := 0
		for msg := range batch.Messages() {
			got++
			sc.Scanned++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			if md.Timestamp.After(to) {
				return sc, nil
			}
			if o, ok := offenceOf(msg, addr, jail); ok {
				sc.Offences = append(sc.Offences, o)
			}
			if md.NumPending == 0 || md.Sequence.Stream >= state.LastSeq {
				return sc, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
			return sc, fmt.Errorf("read stream %s: %w", subject.OffenceStream, err)
		}
		if got == 0 {
			if ctx.Err() != nil {
				sc.CutShort = "the deadline passed"
			}
			return sc, nil // the stream's end
		}
	}
}

// offenceOf decodes msg and reports whether it is an offence of addr in
// jail (any jail if "") that names its subject's host.
func offenceOf(msg jetstream.Msg, addr netip.Addr, jail string) (wire.Offence, bool) {
	var o wire.Offence
	_, host, err := subject.ParseOffence(msg.Subject())
	if err != nil || wire.Decode(msg.Data(), &o) != nil || o.Host != host {
		return o, false
	}
	return o, netaddr.Canonical(o.Addr) == addr && (jail == "" || o.Jail == jail)
}

func printWhy(w io.Writer, rep *whyReport) error {
	now := time.Now()
	for i, b := range rep.Bans {
		if i > 0 {
			fmt.Fprintln(w)
		}
		on := "every host"
		if b.Ban.Only != "" {
			on = "ONLY " + b.Ban.Only
		}
		forced := ""
		if b.Ban.Forced {
			forced = ", forced"
		}
		fmt.Fprintf(w, "%s banned in %s on %s since %s (expires in %s), by %s%s: %s\n", rep.Addr, b.Ban.Jail, on,
			b.Ban.Created.Local().Format(time.DateTime), expiresIn(b.Ban.Expires, now), b.Ban.By, forced, orDash(reason(b.Ban.Reason)))
		if err := printOffences(w, &b.offenceScan); err != nil {
			return err
		}
	}
	if len(rep.Bans) == 0 && rep.Recent != nil {
		fmt.Fprintf(w, "%s is not banned; its offences since %s:\n", rep.Addr, rep.Recent.From.Local().Format(time.DateTime))
		return printOffences(w, rep.Recent)
	}
	return nil
}

func printOffences(w io.Writer, sc *offenceScan) error {
	span := fmt.Sprintf("from %s to %s", sc.From.Local().Format(time.DateTime), sc.To.Local().Format(time.DateTime))
	if len(sc.Offences) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tJAIL\tTIME\tUSER\tLINE")
		for _, o := range sc.Offences {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Host, o.Jail, o.Time.Local().Format(time.DateTime), orDash(oneLine(o.User)), oneLine(o.Line))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "%d offences %s\n", len(sc.Offences), span)
	} else {
		fmt.Fprintf(w, "no offences in the stream %s (gone with its retention, or a manual ban)\n", span)
	}
	if sc.CutShort != "" {
		fmt.Fprintf(w, "note: the reading stopped early (%s) after %d messages: the list may be incomplete\n", sc.CutShort, sc.Scanned)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a log line (what an attacker wrote, often) on one table
// row and harmless to a terminal: control characters are written escaped.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x100 && unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r): // e.g. bidi overrides
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
