package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/config/fail2ban"
)

// LoadFilter reads a jail's filter spec ("sshd", "sshd[mode=aggressive]")
// as Fail2Ban reads it for a jail with that backend: from confDir's
// filter.d when it has the filter, otherwise banfleet's built-in filter of
// that name (agent/filter's filter.d, embedded in the binaries). confDir ""
// (no Fail2Ban configuration) reads the built-in filters only. An
// operator's own filter.d/sshd.conf therefore wins over the built-in one.
func LoadFilter(confDir, spec, backend string) (*fail2ban.FilterDef, error) {
	if backend == "" {
		backend = "auto"
	}
	def, err := fail2ban.LoadFilterOr(confDir, filter.BuiltinConf(), spec, map[string]string{"backend": backend})
	if err != nil && confDir == "" && errors.Is(err, fail2ban.ErrNotFound) {
		name, _, _ := strings.Cut(spec, "[")
		return nil, fmt.Errorf("%q is not a built-in filter (built in: %s); set fail2ban: to read filter.d: %w",
			name, strings.Join(filter.BuiltinNames(), ", "), filter.ErrUnknownFilter)
	}
	if err != nil {
		return nil, err
	}
	if (AgentJail{FilterFiles: def.Files}).BuiltinFilter() {
		// The built-in filters pick their mode's rules with <_mode-<mode>>:
		// a mode they do not have leaves that tag unresolved.
		for _, r := range def.FailRegex {
			if strings.Contains(r, "<_mode-") {
				return nil, fmt.Errorf("built-in filter %s: unknown mode %q (see %s): %w",
					def.Name, def.Mode, def.Files[0], ErrFilterMode)
			}
		}
	}
	return def, nil
}

// ResolveFilter makes the filter the jail names (Filter, a spec) its
// filter, read by LoadFilter from confDir or the built-in filters, with
// the jail's backend.
func (j *AgentJail) ResolveFilter(confDir string) error {
	backend := "auto"
	if j.FromJournal() {
		backend = "systemd"
	}
	def, err := LoadFilter(confDir, j.Filter, backend)
	if err != nil {
		return err
	}
	j.SetFilter(def)
	if !j.Regex() {
		return fmt.Errorf("%q has no failregex", j.Filter)
	}
	return nil
}
