package cli

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func newBanCommand(g *globals) *cobra.Command {
	var (
		jail  string
		dur   time.Duration
		text  string
		force bool
		ports []uint
	)
	cmd := &cobra.Command{
		Use:   "ban ADDR",
		Short: "ban an address on every host",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := parseAddr(args[0])
			if err != nil {
				return err
			}
			if !subject.ValidName(jail) {
				return usageErr("--jail %q: only letters, digits, '-' and '_'", jail)
			}
			if dur < time.Second {
				return usageErr("--for %v: at least 1s", dur)
			}
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.close()
			ctx, js := s.ctx, s.js
			if !force {
				agents, err := listAgents(ctx, js)
				if err != nil {
					return err
				}
				for _, a := range agents {
					for _, own := range a.Addrs {
						if own.Unmap() == addr {
							return usageErr("%s is an address of fleet host %s; use --force to ban it anyway", addr, a.Host)
						}
					}
				}
			}
			st, err := bans.Open(ctx, js, false, 0)
			if err != nil {
				return err
			}
			var p16 []uint16
			for _, p := range ports {
				if p == 0 || p > 65535 {
					return usageErr("--port %d: not a port", p)
				}
				p16 = append(p16, uint16(p))
			}
			now := time.Now()
			b := &wire.Ban{Addr: addr, Jail: jail, Ports: p16, Created: now, Expires: now.Add(dur), By: "admin:" + who(), Reason: wire.Reason{Text: text}}
			if err := st.Put(ctx, b, now); err != nil {
				return err
			}
			if g.output == "json" {
				return writeJSON(g.stdout, b)
			}
			fmt.Fprintf(g.stdout, "banned %s in %s for %s\n", addr, jail, dur)
			return nil
		},
	}
	cmd.Flags().StringVar(&jail, "jail", "manual", "jail to ban in (jail 'manual' blocks all ports)")
	cmd.Flags().DurationVar(&dur, "for", time.Hour, "ban duration")
	cmd.Flags().StringVar(&text, "reason", "manual ban", "reason recorded with the ban")
	cmd.Flags().BoolVar(&force, "force", false, "ban even an address of a fleet host")
	cmd.Flags().UintSliceVar(&ports, "port", nil, "ports to block (default: the jail's on each host, all for an unknown jail)")
	return cmd
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
			var jails []string
			if jail != "" {
				jails = []string{jail}
			} else {
				list, _, err := st.List(ctx)
				if err != nil {
					return err
				}
				for _, b := range list {
					if b.Addr == addr {
						jails = append(jails, b.Jail)
					}
				}
			}
			removed := 0
			for _, j := range jails {
				err := st.Delete(ctx, j, addr)
				if errors.Is(err, bans.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				removed++
				fmt.Fprintf(g.stdout, "unbanned %s in %s\n", addr, j)
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
