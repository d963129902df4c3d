// Package wire defines the versioned messages agents, coordinators and the
// coord CLI exchange: offences, bans, heartbeats, firewall snapshots, health answers and the
// fleet's exemption list.
//
// Every message is JSON with a "v" field. Decoding is strict: an unknown
// version, an unknown field, trailing data or a field that fails validation is
// an error (wrapping ErrMalformed or ErrVersion), never a panic, so a receiver
// can count the reject and go on.
package wire
