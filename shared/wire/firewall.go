package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/banfleet/banfleet/shared/subject"
)

// A firewall request (subject.AgentRequest(host, "firewall")) with an
// empty payload is answered with one FirewallState holding every element:
// what coord asked before digests, which fails once the answer outgrows
// the server's max payload. A request whose payload is a FirewallQuery is
// answered with FirewallParts, several messages to the request's reply
// subject, the last one marked Final:
//
//   - a digest query (no Shards) gets the firewall's FirewallDigest: per
//     shard of (jail, address) the element count and a sum of the
//     elements' hashes, which the asker compares with its own for what the
//     host should hold; the parts list the host's local bans (and every
//     element when there are at most List of them);
//   - a shards query gets the elements of the listed shards, at most Max.
//
// Elements are (jail, address) alone: their time left differs from host to
// host and is not compared.

// Digest shard counts: a query asks for 1<<Bits shards.
const (
	MinFirewallBits = 4
	MaxFirewallBits = 16
)

// MaxFirewallMessage bounds one message of a firewall answer (a part, or an
// older agent's whole FirewallState): the largest max payload a NATS
// server allows. What the asker's server lets through is smaller.
const MaxFirewallMessage = 64 << 20

// digestShardBytes is one shard's size in FirewallPart.Digest: count
// (uint32) and sum (uint64), little-endian.
const digestShardBytes = 12

// FirewallQuery is a firewall request's payload.
type FirewallQuery struct {
	V int `json:"v"`
	// Bits: the digest has, and Shards number, 1<<Bits shards.
	Bits int `json:"bits"`
	// Shards asks for the elements of these shards; empty: the digest.
	Shards []int `json:"shards,omitempty"`
	// Max bounds the elements a shards query lists (0: no bound).
	Max int `json:"max,omitempty"`
	// List asks a digest query for every element as well when the
	// firewall holds at most List of them (0: the local bans only).
	List int `json:"list,omitempty"`
}

// Validate checks a query's fields.
func (q *FirewallQuery) Validate() error {
	if q.Bits < MinFirewallBits || q.Bits > MaxFirewallBits {
		return fmt.Errorf("%w: firewall query: bits %d not in %d..%d", ErrMalformed, q.Bits, MinFirewallBits, MaxFirewallBits)
	}
	for _, s := range q.Shards {
		if s < 0 || s >= 1<<q.Bits {
			return fmt.Errorf("%w: firewall query: shard %d not in 0..%d", ErrMalformed, s, 1<<q.Bits-1)
		}
	}
	if q.Max < 0 || q.List < 0 {
		return fmt.Errorf("%w: firewall query: negative max or list", ErrMalformed)
	}
	return nil
}

// FirewallPart is one message of an agent's answer to a FirewallQuery.
// The parts are numbered from 1 in the order sent; the last one is Final
// and says how many parts and elements were sent in all, so that the asker
// tells a lost part from a complete answer.
type FirewallPart struct {
	V    int    `json:"v"`
	Host string `json:"host"`
	Part int    `json:"part"` // 1, 2, …
	// Entries: a digest query's local bans (Local set; every element when
	// Listed), a shards query's elements of those shards.
	Entries []FirewallEntry `json:"entries,omitempty"`

	// The rest is set on the final part only.
	Final   bool   `json:"final,omitempty"`
	Parts   int    `json:"parts,omitempty"`   // parts sent, this one included
	Total   int    `json:"total,omitempty"`   // entries sent in all parts
	Backend string `json:"backend,omitempty"` // the firewall backend
	Error   string `json:"error,omitempty"`   // the firewall could not be read (or the query was refused)
	// Behind is how many bucket revisions the firewall has not taken yet.
	Behind uint64 `json:"behind,omitempty"`
	// Count is how many elements the walk met: in the digest (local bans
	// not counted), or in the shards asked for.
	Count int `json:"count,omitempty"`
	// Digest (a digest query) is FirewallDigest.Bytes of the elements that
	// are not local bans.
	Digest []byte `json:"digest,omitempty"`
	// Listed: a digest query's parts list every element (there were at
	// most List).
	Listed bool `json:"listed,omitempty"`
	// Cut: a shards query met more than Max elements; the first Max are
	// listed.
	Cut bool `json:"cut,omitempty"`
}

// Validate checks a part's fields.
func (p *FirewallPart) Validate() error {
	if !subject.ValidName(p.Host) {
		return fmt.Errorf("%w: firewall part host %q invalid", ErrMalformed, p.Host)
	}
	if p.Part < 1 {
		return fmt.Errorf("%w: firewall part number %d", ErrMalformed, p.Part)
	}
	if p.Final && (p.Parts != p.Part || p.Total < 0 || p.Count < 0) {
		return fmt.Errorf("%w: final firewall part %d says %d parts", ErrMalformed, p.Part, p.Parts)
	}
	if len(p.Digest)%digestShardBytes != 0 {
		return fmt.Errorf("%w: firewall digest of %d bytes", ErrMalformed, len(p.Digest))
	}
	for _, e := range p.Entries {
		if !subject.ValidName(e.Jail) || !e.Addr.IsValid() {
			return fmt.Errorf("%w: firewall part entry %q/%v invalid", ErrMalformed, e.Jail, e.Addr)
		}
	}
	return nil
}

// EncodeFirewall sets the version of a FirewallQuery or FirewallPart and
// marshals it.
func EncodeFirewall(msg interface{ setVersion() }) ([]byte, error) {
	msg.setVersion()
	return json.Marshal(msg)
}

func (q *FirewallQuery) setVersion() { q.V = Version }
func (p *FirewallPart) setVersion()  { p.V = Version }

// DecodeFirewallQuery decodes a firewall request's payload.
func DecodeFirewallQuery(data []byte) (*FirewallQuery, error) {
	if len(data) > MaxMessage*16 {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), MaxMessage*16)
	}
	var q FirewallQuery
	if err := decodeJSON(data, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// DecodeFirewallAnswer decodes one message of an answer to a firewall
// request: a part (a current agent) or a whole FirewallState (an agent
// that predates FirewallQuery and ignores it). Exactly one of the two is
// returned, or an error.
func DecodeFirewallAnswer(data []byte) (*FirewallPart, *FirewallState, error) {
	if len(data) > MaxFirewallMessage {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), MaxFirewallMessage)
	}
	var probe struct {
		Part *int `json:"part"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.Part == nil {
		var st FirewallState
		if err := decodeJSON(data, &st); err != nil {
			return nil, nil, err
		}
		return nil, &st, nil
	}
	var p FirewallPart
	if err := decodeJSON(data, &p); err != nil {
		return nil, nil, err
	}
	return &p, nil, nil
}

// FirewallHash is the hash of one element, the same in every process and
// on every architecture: FNV-1a of the jail, mixed with the address's 16
// bytes (an IPv4 address as its IPv4-mapped form; callers pass addresses
// unmapped, as netaddr.Canonical makes them) by SplitMix64's finalizer.
func FirewallHash(jail string, addr netip.Addr) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(jail); i++ {
		h ^= uint64(jail[i])
		h *= 1099511628211
	}
	b := addr.As16()
	h = mix64(h ^ binary.BigEndian.Uint64(b[:8]))
	return mix64(h ^ binary.BigEndian.Uint64(b[8:]))
}

// mix64 is SplitMix64's finalizer: every input bit flips about half the
// output bits.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// FirewallDigest sums a set of elements by shard: for each of its 1<<Bits
// shards the count of elements and the sum (modulo 2^64) of a second hash
// of each, which does not depend on the order the elements come in. Two
// sets whose shard differs in count or sum differ in that shard; sets
// that differ but agree in both are as unlikely as a 64-bit collision.
type FirewallDigest struct {
	Bits int
	N    []uint32
	Sum  []uint64
}

// NewFirewallDigest returns an empty digest of 1<<bits shards (bits within
// MinFirewallBits..MaxFirewallBits).
func NewFirewallDigest(bits int) *FirewallDigest {
	return &FirewallDigest{Bits: bits, N: make([]uint32, 1<<bits), Sum: make([]uint64, 1<<bits)}
}

// Shard is the shard of an element whose FirewallHash is h.
func (d *FirewallDigest) Shard(h uint64) int { return int(h >> (64 - d.Bits)) }

// Add counts the element whose FirewallHash is h and returns its shard.
func (d *FirewallDigest) Add(h uint64) int {
	s := d.Shard(h)
	d.N[s]++
	// The shard is h's top bits: the sum takes a hash of its own.
	d.Sum[s] += mix64(h ^ 0x9e3779b97f4a7c15)
	return s
}

// Equal reports whether shard s holds the same in d and o (of as many
// shards).
func (d *FirewallDigest) Equal(o *FirewallDigest, s int) bool {
	return d.N[s] == o.N[s] && d.Sum[s] == o.Sum[s]
}

// Bytes is the digest as FirewallPart.Digest carries it: 12 bytes a shard,
// count (uint32) and sum (uint64), little-endian.
func (d *FirewallDigest) Bytes() []byte {
	out := make([]byte, len(d.N)*digestShardBytes)
	for s := range d.N {
		binary.LittleEndian.PutUint32(out[s*digestShardBytes:], d.N[s])
		binary.LittleEndian.PutUint64(out[s*digestShardBytes+4:], d.Sum[s])
	}
	return out
}

// ParseFirewallDigest reads FirewallDigest.Bytes of 1<<bits shards.
func ParseFirewallDigest(bits int, b []byte) (*FirewallDigest, error) {
	if bits < MinFirewallBits || bits > MaxFirewallBits {
		return nil, fmt.Errorf("%w: firewall digest: bits %d", ErrMalformed, bits)
	}
	if len(b) != digestShardBytes<<bits {
		return nil, fmt.Errorf("%w: firewall digest of %d bytes, want %d for %d shards", ErrMalformed, len(b), digestShardBytes<<bits, 1<<bits)
	}
	d := NewFirewallDigest(bits)
	for s := range d.N {
		d.N[s] = binary.LittleEndian.Uint32(b[s*digestShardBytes:])
		d.Sum[s] = binary.LittleEndian.Uint64(b[s*digestShardBytes+4:])
	}
	return d, nil
}
