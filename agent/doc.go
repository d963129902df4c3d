// Package agent is banfleet-agent, the daemon on every host: it follows the
// host's logs (tail), recognises failures with the jails' filters (filter),
// publishes each offence to JetStream (publish), mirrors the fleet's bans
// bucket into the host's firewall (enforce, firewall), answers live
// requests from coord and reports a heartbeat.
package agent
