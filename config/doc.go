// Package config loads and validates the configuration of banfleet-agent and
// coord serve.
//
// Sources, later ones winning: built-in defaults, the YAML file, environment
// variables, then flags the caller passes as overrides. An environment
// variable is BANFLEET_ followed by the key path in upper case with '.'
// written as '_' (BANFLEET_NATS_URL sets nats.url, BANFLEET_STATE_DIR sets
// state_dir); only variables that name a known scalar key are read, so other
// BANFLEET_ variables never break a daemon's start.
//
// Decoding is strict: an unknown key is an error, and every error names the
// file and the field.
package config
