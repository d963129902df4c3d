package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

// passwordCost is the bcrypt cost of hash-password.
const passwordCost = 11

func newHashPasswordCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "hash-password",
		Short: "read a password on standard input, print its bcrypt hash for nats.users",
		Long: "Reads one password (the first line of standard input) and prints its bcrypt hash.\n" +
			"Put the hash in coord.yaml's nats.users.NAME.password instead of the password itself;\n" +
			"the agent or admin keeps using the password.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return usageErr("no password on standard input")
			}
			pw := strings.TrimRight(line, "\r\n")
			if pw == "" {
				return usageErr("empty password")
			}
			h, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
			if err != nil {
				return usageErr("%v", err)
			}
			_, err = fmt.Fprintln(g.stdout, string(h))
			return err
		},
	}
}
