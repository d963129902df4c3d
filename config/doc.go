// Package config loads and validates the configuration of banfleet-agent and
// coord serve.
//
// Sources, later ones winning: built-in defaults, the YAML file, environment
// variables, then flags the caller passes as overrides. Each daemon reads
// variables under its own prefix only — BANFLEET_AGENT_ (AgentEnvPrefix)
// for the agent, BANFLEET_COORD_ (CoordEnvPrefix) for coord serve —
// followed by the key path in upper case with '.' written as '_'
// (BANFLEET_AGENT_NATS_URL sets the agent's nats.url,
// BANFLEET_COORD_DEFAULTS_BANTIME coord's defaults.bantime). The coord
// CLI's variables (BANFLEET_NATS_URL, BANFLEET_NATS_USER, …) are never
// read by a daemon, and other BANFLEET_ variables are ignored; a variable
// under a daemon's prefix that names no key is an error naming it.
//
// Decoding is strict: an unknown key is an error, and every error names the
// file and the field. Validation reads the files the configuration names
// (a server certificate that has expired is refused). Check, for -t, goes
// further over the network: the servers of nats.url must answer and accept
// the configured TLS and login; an embedded server's certificate must name
// its listen address.
package config
