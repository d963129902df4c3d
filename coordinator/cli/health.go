package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// HealthView is one agent's live answer to a health request.
type HealthView struct {
	Host   string       `json:"host"`
	Status string       `json:"status"` // ok, problems, no-answer, error
	Error  string       `json:"error,omitempty"`
	Health *wire.Health `json:"health,omitempty"`
	// Coord is what the coordinator judged of this host's offences.
	Coord *wire.HostOffences `json:"coord,omitempty"`
}

// floodWindow is how recent a capped offence makes a host's flood a problem.
const floodWindow = 5 * time.Minute

func newHealthCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "health [HOST...]",
		Short: "ask every agent (or the hosts named) how it is, live",
		Long: `Asks each agent of the agents bucket (or each HOST named) for its health,
in parallel, and prints what it is doing and what is wrong. Exit code 4 when
an agent has a problem or does not answer within --timeout.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			for _, h := range args {
				if !subject.ValidName(h) {
					return usageErr("host %q: not a valid host name", h)
				}
			}
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.close()
			hosts := args
			if len(hosts) == 0 {
				agents, err := listAgents(s.ctx, s.js)
				if err != nil {
					return err
				}
				for _, a := range agents {
					hosts = append(hosts, a.Host)
				}
			}
			slices.Sort(hosts)
			hosts = slices.Compact(hosts)
			views := eachHost(hosts, func(h string) HealthView { return askHealth(g, s.nc, h) })
			addCoordStats(g, s.nc, views)
			return printHealth(g, views)
		},
	}
}

func askHealth(g *globals, nc *nats.Conn, host string) HealthView {
	v := HealthView{Host: host}
	msg, err := nc.Request(subject.AgentRequest(host, "health"), nil, g.timeout)
	if err != nil {
		v.Status, v.Error = "no-answer", err.Error()
		return v
	}
	var h wire.Health
	if err := wire.Decode(msg.Data, &h); err != nil {
		v.Status, v.Error = "error", err.Error()
		return v
	}
	if h.Host != host {
		v.Status, v.Error = "error", fmt.Sprintf("answer names host %q", h.Host)
		return v
	}
	v.Health = &h
	v.Status = "ok"
	if len(h.Problems) > 0 {
		v.Status = "problems"
	}
	return v
}

// addCoordStats adds what the coordinator judged of each host's offences;
// a host whose offences were capped lately (a flood) has a problem.
func addCoordStats(g *globals, nc *nats.Conn, views []HealthView) {
	msg, err := nc.Request(subject.CoordStats, nil, g.timeout)
	var st wire.CoordStats
	if err == nil {
		err = wire.Decode(msg.Data, &st)
	}
	if err != nil {
		// The agents' answers still count; the counts are an extra.
		return
	}
	for i := range views {
		ho, ok := st.Hosts[views[i].Host]
		if !ok {
			continue
		}
		views[i].Coord = &ho
		if !ho.LastCapped.IsZero() && time.Since(ho.LastCapped) < floodWindow && views[i].Health != nil {
			views[i].Health.Problems = append(views[i].Health.Problems,
				fmt.Sprintf("flooding: %d offences over limits.offence_rate (last %v ago)", ho.Capped, time.Since(ho.LastCapped).Round(time.Second)))
			views[i].Status = "problems"
		}
	}
}

func printHealth(g *globals, views []HealthView) error {
	well := 0
	for _, v := range views {
		if v.Status == "ok" {
			well++
		}
	}
	var err error
	if g.output == "json" {
		err = writeJSON(g.stdout, map[string]any{"hosts": orEmpty(views), "ok": well == len(views)})
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tSTATUS\tVERSION\tUP\tFILES\tLINES\tUNSENT\tOFFENCES\tCAPPED\tBANS\tBEHIND\tLOCAL\tRECONCILED\tPROBLEMS")
		for _, v := range views {
			h := v.Health
			if h == nil {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t%s\t-\t-\t-\t-\t%s\n", v.Host, v.Status, offencesCols(v.Coord), v.Error)
				continue
			}
			rec := "never"
			if !h.LastReconcile.IsZero() {
				rec = h.Now.Sub(h.LastReconcile).Round(time.Second).String() + " ago"
			}
			problems := "-"
			if len(h.Problems) > 0 {
				problems = strings.Join(h.Problems, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n", v.Host, v.Status, h.Version,
				h.Now.Sub(h.Started).Round(time.Second), h.Files+h.Journals, h.Lines, h.Unsent, offencesCols(v.Coord), h.BansApplied, h.BansBehind, h.LocalBans, rec, problems)
		}
		fmt.Fprintf(tw, "\n%d of %d agents well\n", well, len(views))
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	if well < len(views) {
		return &ExitError{Code: ExitDrift, Err: errors.New("not every agent is well")}
	}
	return nil
}

// offencesCols renders the coordinator's counts of a host's offences as the
// OFFENCES and CAPPED columns.
func offencesCols(ho *wire.HostOffences) string {
	if ho == nil {
		return "-\t-"
	}
	return fmt.Sprintf("%d\t%d", ho.Offences, ho.Capped)
}
