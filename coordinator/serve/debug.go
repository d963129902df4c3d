package serve

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/banfleet/banfleet/shared/obs"
)

// servePprof serves Go's profiles (net/http/pprof) on addr until ctx
// ends; an empty addr serves nothing. It is for measuring the daemon (CPU
// profiles, the live heap after a collection: /debug/pprof/heap?gc=1),
// opt-in and never on by default: profiles show the daemon's internals.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return obs.Serve(ctx, "pprof", addr, mux, func(bound string) {
		log.Warn("pprof listening: profiles of this daemon are served to whoever connects", "addr", bound)
	})
}
