// Package filter is what detection hands the agent: the [Filter] interface
// (a line in, a [Verdict] and a [Failure] out), and banfleet's built-in
// filters, written in Fail2Ban's filter format and run by the failregex
// engine (agent/filter/f2b) like any filter.d filter.
//
// # Shape
//
// agent/jailfilter builds the filter a jail runs:
//
//	mk, err := jailfilter.New("sshd", config.AgentJail{Filter: "sshd[mode=aggressive]"})
//	f := mk() // one per log source: filters keep per-connection state
//	fail, v := f.Match(line, time.Now())
//	if v == filter.Failed { publish(fail.Addr, fail.Time, fail.User) }
//
// # The built-in filters
//
// filter.d/*.conf in this folder is embedded in the binaries
// ([BuiltinConf]); config.LoadFilter reads a jail's filter from the
// Fail2Ban configuration directory when it has one of that name, and from
// here otherwise (an operator's own filter.d/sshd.conf wins; an agent
// without /etc/fail2ban still has sshd). `banfleet-agent regex LOG sshd`
// does the same. The files are banfleet's own: facts about what sshd logs
// carry over from OpenSSH and from Fail2Ban's releases (which messages
// count, in which mode), Fail2Ban's text does not.
//
// filter.d/sshd.conf knows OpenSSH up to 10 (the per-connection process
// logs as sshd-session, PerSourcePenalties' "drop connection" lines, the
// listener's "Timeout before authentication for connection from …"),
// besides the older forms Fail2Ban's sample log keeps. Its modes are
// Fail2Ban's: normal (authentication failures and refused users), ddos
// (+ connections that never authenticate), extra (+ clients that cannot
// agree on algorithms or offer no usable method), aggressive (all). Its
// tests (sshd_test.go, oracle_test.go) check every message kind in every
// mode, and compare it with Fail2Ban 1.0.2's own sshd.conf, run by the
// engine on logs of OpenSSH 9 messages and on Fail2Ban's sample log: the
// two agree but for the differences oracle_test.go lists with reasons.
//
// # Addresses
//
// Every rule puts <HOST> where sshd puts the client's address, followed by
// sshd's own fixed text, and takes a user name the client chooses greedily,
// so that the address read is the last that fits: for "Invalid user x from
// 192.0.2.66 from 203.0.113.9 port 1" it is 203.0.113.9. Rules after whose
// address client text may follow (hostbased client names, SSH-1's ruser)
// take the user name as one word. The agent runs every filter with the
// engine's address guard (f2b.Options.AddressGuard), which credits nobody
// when the rule, or another rule of the filter, could have read another
// address of the line with the text between them in a field the client
// fills. An injected address is never credited; a line readable both ways
// counts for nobody.
//
// # Verdicts
//
// Failed is a failure with an address. Ignored covers lines a rule matched
// that are no failure on their own: Fail2Ban's NOFAIL helpers (which give
// their connection an address and carry none themselves), a success
// ("Accepted …"), an address-less failure waiting for its connection's
// address, and failures whose address the guard refused or that is no IP
// address. NoMatch and BadLine allocate nothing.
package filter
