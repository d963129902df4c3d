// Package subject names the NATS subjects, streams and buckets that agents and
// coordinators agree on, and computes an address's shard.
//
// Offences travel on banfleet.offence.<shard>.<host>: the shard lets several
// coordinators split the work, the host token is the sender's identity (NATS
// permissions can pin an agent to its own host token).
package subject

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

const (
	// OffenceStream is the JetStream stream that stores offences.
	OffenceStream = "OFFENCES"
	// OffencePrefix starts every offence subject.
	OffencePrefix = "banfleet.offence"
	// OffenceWildcard matches every offence subject.
	OffenceWildcard = OffencePrefix + ".>"
	// BansBucket is the KV bucket holding the fleet's bans; a key's TTL is the ban time.
	BansBucket = "bans"
	// AgentsBucket is the KV bucket where agents publish their heartbeat.
	AgentsBucket = "agents"
	// FleetBucket is the KV bucket of what the coordinator tells every
	// agent; agents may read it, not write it.
	FleetBucket = "fleet"
	// ExemptKey is FleetBucket's key of the addresses no agent may ban on
	// its own (wire.Exempt).
	ExemptKey = "exempt"
	// PolicyKey is FleetBucket's key of the policy in force (wire.Policy),
	// for admins' tools.
	PolicyKey = "policy"
	// ExemptUpdates is the (core NATS) subject the coordinator announces
	// each new exemption list on, as it writes it to FleetBucket.
	ExemptUpdates = "banfleet.fleet.exempt"
	// DefaultShards is the number of offence shards.
	DefaultShards = 16
)

// ValidName reports whether s may be used as a host or jail name: it becomes a
// subject token and part of KV keys, so only [A-Za-z0-9_-]{1,64} is allowed.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Shard returns the shard of addr among n shards (n > 0).
func Shard(addr netip.Addr, n int) int {
	h := fnv.New32a()
	b := addr.As16()
	h.Write(b[:])
	return int(h.Sum32() % uint32(n))
}

// Offence is the subject an agent publishes an offence about addr on.
func Offence(shard int, host string) string {
	return OffencePrefix + "." + strconv.Itoa(shard) + "." + host
}

// ParseOffence splits an offence subject into shard and host.
func ParseOffence(subj string) (shard int, host string, err error) {
	rest, ok := strings.CutPrefix(subj, OffencePrefix+".")
	if !ok {
		return 0, "", fmt.Errorf("subject %q: not an offence subject", subj)
	}
	s, host, ok := strings.Cut(rest, ".")
	if !ok || !ValidName(host) {
		return 0, "", fmt.Errorf("subject %q: bad host token", subj)
	}
	shard, err = strconv.Atoi(s)
	if err != nil || shard < 0 {
		return 0, "", fmt.Errorf("subject %q: bad shard token", subj)
	}
	return shard, host, nil
}

// AgentRequest is the subject an agent answers live requests on; verb is
// "firewall" (what its firewall holds) or "health".
func AgentRequest(host, verb string) string { return "banfleet.agent." + host + "." + verb }

// BanKey is the KV key of a ban of addr in jail. KV keys cannot hold ':' so
// IPv6 colons become '_'.
func BanKey(jail string, addr netip.Addr) string {
	return jail + "." + strings.ReplaceAll(addr.String(), ":", "_")
}

// CoordStats is the subject a coordinator answers stats requests on.
const CoordStats = "banfleet.coord.stats"

// OffenceRoute returns the host token of a subject HostOffences(host)
// matches (whether or not the subject is valid otherwise): the consumer
// that reads that host's offences is the one that sees it.
func OffenceRoute(subj string) (host string, ok bool) {
	rest, ok := strings.CutPrefix(subj, OffencePrefix+".")
	if !ok {
		return "", false
	}
	_, host, ok = strings.Cut(rest, ".")
	if !ok || host == "" || strings.Contains(host, ".") {
		return "", false
	}
	return host, true
}

// HostOffences matches every offence subject of host.
func HostOffences(host string) string { return OffencePrefix + ".*." + host }

// AgentInbox is the inbox prefix of host's agent: its login may subscribe
// to nothing else of the inboxes.
func AgentInbox(host string) string { return "_INBOX_" + host }

// HostBanKey is the KV key of a ban of addr in jail that only host
// enforces (wire.Ban.Only).
func HostBanKey(jail string, addr netip.Addr, host string) string {
	return BanKey(jail, addr) + "=" + host
}

// BanKeyHost returns the host of a HostBanKey key, "" for a fleet ban's.
func BanKeyHost(key string) string {
	_, h, _ := strings.Cut(key, "=")
	return h
}

// ParseBanKey reverses BanKey (and HostBanKey, without its host).
func ParseBanKey(key string) (jail string, addr netip.Addr, err error) {
	key, _, _ = strings.Cut(key, "=")
	jail, a, ok := strings.Cut(key, ".")
	if !ok || !ValidName(jail) {
		return "", netip.Addr{}, fmt.Errorf("ban key %q: bad jail", key)
	}
	addr, err = netip.ParseAddr(strings.ReplaceAll(a, "_", ":"))
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("ban key %q: %w", key, err)
	}
	return jail, addr, nil
}
