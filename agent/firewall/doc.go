// Package firewall mirrors banfleet's ban list into the kernel's firewall.
//
// A [Backend] holds, per jail, the set of banned addresses. Two backends exist:
// [Nftables], which programs the kernel through netlink (no nft binary is
// needed), and [None], which only logs and keeps the list in memory (dry run).
//
// # Kernel layout
//
// Everything banfleet owns lives in one table, by default "inet banfleet"; the
// backend never reads or writes any other table, and never flushes anything.
//
//	table inet banfleet {
//		set sshd_v4 {
//			type ipv4_addr
//			flags timeout
//			elements = { 192.0.2.7 timeout 1h expires 59m12s }
//		}
//		set sshd_v6 {
//			type ipv6_addr
//			flags timeout
//		}
//		chain input {
//			type filter hook input priority filter - 10; policy accept;
//			tcp dport 22 ip saddr @sshd_v4 drop comment "banfleet sshd_v4 proto=tcp ports=22"
//			tcp dport 22 ip6 saddr @sshd_v6 drop comment "banfleet sshd_v6 proto=tcp ports=22"
//		}
//	}
//
// (as "nft list table inet banfleet" prints it; each rule starts with
// "meta nfproto ipv4" or "ipv6", which nft leaves out because "ip saddr"
// implies it, and "tcp dport" is "meta l4proto tcp th dport").
//
// Per jail and address family there is one set, <jail>_v4 (ipv4_addr) or
// <jail>_v6 (ipv6_addr), with the timeout flag, so every element carries its
// own timeout and the kernel expires bans by itself, even while the agent is
// down. Per set there is exactly one rule in the input chain:
//
//   - a jail declared without ports (or never declared) drops everything
//     from the address: "meta nfproto ipv4 ip saddr @<jail>_v4 drop";
//   - with one port: "meta l4proto tcp th dport 22 ...";
//   - with several ports the ports form an anonymous set ("th dport { 80, 443 }");
//   - proto "all" with ports matches "meta l4proto { tcp, udp }".
//
// The rule's comment records the jail's spec; when a later [Backend.Declare]
// changes the spec, the rule is replaced. Sets and rules are created lazily,
// in the same transaction as the first elements of their jail and family.
//
// # Transactions
//
// Every Apply and Reconcile is one netlink batch (one transaction): either all
// of it takes effect or none. Elements are sent in chunks that keep each
// netlink attribute below 64 KiB (a netlink attribute length is 16 bits), and
// the socket buffers are enlarged so that a batch of some 100k elements fits
// in one send. Each element message carries as many elements as the 64 KiB
// attribute holds (2340 IPv4 or 1638 IPv6 elements with timeouts).
//
// A transaction that only adds and removes elements of existing sets (the
// common case) is encoded by the backend itself into one buffer and sent
// on a netlink connection of its own, removing with NFT_MSG_DESTROYSETELEM
// (Linux 6.3), which is no error for an element that is not there: the
// kernel may expire a ban at any moment. Transactions that create sets or
// rules go through the nftables library, and so does everything on a
// kernel without DESTROYSETELEM; there the kernel refuses to delete an
// element that is not there (ENOENT, which aborts the whole batch), and the
// backend re-reads the sets and retries without the missing elements (a
// walk of the sets: costly at a million elements).
//
// Re-adding a present element refreshes its timeout, and also turns a timed
// ban into a permanent one and back. This relies on the kernel updating
// elements on re-add (verified on Linux 6.18; kernels older than about 6.10
// keep the old timeout).
//
// # Reading
//
// List, Walk and Reconcile dump the sets. A set dump is not atomic: the
// kernel walks the set's hash table again for every netlink message, and
// when the table resizes itself meanwhile (after many additions or
// deletions) the dump repeats some elements and misses others. Walking it
// again from the start for each message of at most 32 KiB (some 800
// elements) also makes a dump's cost grow with the square of the set's
// size: about ten seconds of kernel time for a million elements. The backend repeats a dump that
// contains duplicates, after a short pause. It also primes the socket so that
// the kernel fills dump messages up to 32 KiB rather than one page, which
// makes dumping 100k elements about three times faster.
package firewall
