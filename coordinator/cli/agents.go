package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newAgentsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "agents",
		Short: "list the fleet's agents and their last heartbeat",
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
			agents, err := listAgents(ctx, js)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return writeJSON(g.stdout, orEmpty(agents))
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tLAST HEARTBEAT\tVERSION\tBACKEND\tBANS APPLIED\tUP SINCE")
			for _, a := range agents {
				fmt.Fprintf(tw, "%s\t%s ago\t%s\t%s\t%d\t%s\n", a.Host, now.Sub(a.Seen).Round(100*time.Millisecond), a.Version, a.Backend, a.BansApplied, a.Started.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}
