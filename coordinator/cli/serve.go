package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/serve"
	"github.com/banfleet/banfleet/shared/obs"
)

func newServeCommand() *cobra.Command {
	var (
		file       string
		test, dump bool
		listen     string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the coordinator (embedded NATS unless nats.url is set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			over := map[string]any{}
			if listen != "" {
				over["nats.listen"] = listen
			}
			cfg, k, err := config.LoadCoord(config.Source{File: file, Overrides: over})
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			if dump {
				out, err := config.Dump(k)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			if test {
				fmt.Fprintf(cmd.OutOrStdout(), "config %s: ok\n", orDefault(file))
				return nil
			}
			log := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.SlogLevel())
			return serve.New(cfg, log, obs.NewRegistry()).Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().BoolVarP(&test, "test", "t", false, "check the configuration and exit")
	cmd.Flags().BoolVarP(&dump, "dump", "T", false, "print the merged configuration and exit")
	cmd.Flags().StringVar(&listen, "listen", "", "embedded NATS client address (overrides nats.listen)")
	return cmd
}

func orDefault(file string) string {
	if file == "" {
		return "(defaults)"
	}
	return file
}
