package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

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
		pprof      string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the coordinator (embedded NATS unless nats.url is set)",
		Long: "Run the coordinator. Configuration: defaults, the file (-c), then " + config.CoordEnvPrefix + "<KEY> environment variables\n" +
			"(" + config.CoordEnvPrefix + "NATS_URL sets nats.url), then flags. The CLI's variables (" + envNATSURL + ", …) are not read.\n" +
			"-t checks the configuration and what it names: certificates, and an external NATS (which must answer);\n" +
			"it exits 2 when the configuration is wrong, 1 when an external NATS does not answer.",
		Args: cobra.NoArgs,
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
				return checkCoord(cfg, file, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			log := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.SlogLevel())
			logNATS(log, cfg, time.Now())
			c, err := serve.New(cfg, log, obs.NewRegistry())
			if err != nil {
				return err
			}
			c.PprofListen = pprof
			return c.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().BoolVarP(&test, "test", "t", false, "check the configuration (and the NATS it names) and exit")
	cmd.Flags().BoolVarP(&dump, "dump", "T", false, "print the merged configuration and exit")
	cmd.Flags().StringVar(&listen, "listen", "", "embedded NATS client address (overrides nats.listen)")
	cmd.Flags().StringVar(&pprof, "pprof", "", "serve Go's profiles (net/http/pprof) on this host:port, for measuring")
	_ = cmd.Flags().MarkHidden("pprof")
	return cmd
}

// checkCoord is serve -t once the configuration loaded: what it names must
// be usable (config.Coord.Check).
func checkCoord(cfg *config.Coord, file string, stdout, stderr io.Writer) error {
	notes, err := cfg.Check(config.CheckTimeout)
	for _, n := range notes {
		fmt.Fprintf(stderr, "coord: warning: %s\n", n)
	}
	if err != nil {
		code := ExitUsage
		if config.Unreachable(err) {
			code = ExitFailure
		}
		return &ExitError{Code: code, Err: err}
	}
	fmt.Fprintf(stdout, "config %s: ok\n", orDefault(file))
	return nil
}

// logNATS says at start which NATS the coordinator uses: the embedded
// server (where it listens, its certificate's end) or an external one
// (and, when it does not answer, why).
func logNATS(log *slog.Logger, cfg *config.Coord, now time.Time) {
	if cfg.NATS.URL == "" {
		attrs := []any{"listen", cfg.NATS.Listen, "store_dir", cfg.NATS.StoreDir, "tls", cfg.NATS.TLS.On(), "users", len(cfg.NATS.Users)}
		if leaf := cfg.NATS.TLS.Leaf; leaf != nil {
			attrs = append(attrs, "cert", cfg.NATS.TLS.Cert, "cert_expires", leaf.NotAfter.UTC())
		}
		log.Info("nats: starting the embedded server", attrs...)
		if leaf := cfg.NATS.TLS.Leaf; leaf != nil && leaf.NotAfter.Sub(now) < 30*24*time.Hour {
			log.Warn("nats: the server certificate expires soon", "cert", cfg.NATS.TLS.Cert, "expires", leaf.NotAfter.UTC(),
				"days_left", int(leaf.NotAfter.Sub(now).Hours()/24))
		}
		return
	}
	url := config.RedactURL(cfg.NATS.URL)
	log.Info("nats: using an external server", "url", url, "ca", cfg.NATS.CA, "creds", cfg.NATS.Creds)
	if err := config.ProbeNATS(cfg.NATS.URL, config.CheckTimeout, cfg.NATS.ClientOptions()...); err != nil {
		d := config.DiagnoseNATS(err)
		attrs := []any{"url", url, "reason", d.Reason}
		if d.Hint != "" {
			attrs = append(attrs, "hint", d.Hint)
		}
		log.Error("nats: cannot connect (coord serve keeps trying)", append(attrs, "err", d.Err)...)
	}
}

func orDefault(file string) string {
	if file == "" {
		return "(defaults)"
	}
	return file
}
