package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Cutting a node off, for recovery tests. Both cuts change only the
// node's own namespace (its end of the veth pair, or a table of its own),
// never the machine's; deleting the namespaces at Close undoes them too.

// SetLink sets the link of node ns to the bridge (its eth0) up or down:
// down, the node reaches nobody and nobody reaches it; its connections are
// not reset (no packet says so), as when a cable is pulled.
func (l *Lab) SetLink(ns string, up bool) error {
	full, err := l.resolveNS(ns)
	if err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.ip(ctx, "-n", full, "link", "set", "eth0", state); err != nil {
		return fmt.Errorf("link of %s %s: %w", ns, state, err)
	}
	return nil
}

// cutTable is the nftables table DropTCPPort adds in a node's namespace.
const cutTable = "banfleet_lab_cut"

// DropTCPPort silently drops, inside node ns, every TCP packet to or from
// port (both directions, nothing answered: a silent cut of that service
// for this node alone). The returned function lifts the drop.
func (l *Lab) DropTCPPort(ns string, port int) (lift func() error, err error) {
	if _, err := l.resolveNS(ns); err != nil {
		return nil, err
	}
	rules := fmt.Sprintf(`table inet %[1]s {
	chain out {
		type filter hook output priority -10; policy accept;
		tcp dport %[2]d drop
	}
	chain in {
		type filter hook input priority -10; policy accept;
		tcp sport %[2]d drop
	}
}
`, cutTable, port)
	file := filepath.Join(l.Dir, fmt.Sprintf("cut-%s-%d.nft", ns, port))
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		return nil, fmt.Errorf("drop tcp/%d in %s: %w", port, ns, err)
	}
	if err := l.nft(ns, "-f", file); err != nil {
		return nil, fmt.Errorf("drop tcp/%d in %s: %w", port, ns, err)
	}
	return func() error {
		if err := l.nft(ns, "delete", "table", "inet", cutTable); err != nil {
			return fmt.Errorf("lift the drop of tcp/%d in %s: %w", port, ns, err)
		}
		return nil
	}, nil
}

// nft runs the nft tool inside node ns.
func (l *Lab) nft(ns string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := l.Exec(ctx, ns, append([]string{l.tools.nft}, args...)...)
	if err != nil {
		return err
	}
	if res.Exit != 0 {
		return fmt.Errorf("nft %v: exit status %d: %s", args, res.Exit, res.Stderr)
	}
	return nil
}
