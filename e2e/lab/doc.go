// Package lab builds banfleet's fleet lab: a small fleet of hosts made of
// Linux network namespaces on one machine, with real OpenSSH servers, real
// nftables and the real banfleet binaries.
//
// The topology is fixed:
//
//	            bridge br0 (in namespace "sw")
//	  ┌──────┬──────┬──────┬──────┬──────────┬────────┐
//	coord    h1     h2     h3   attacker    client
//	.10     .11    .12    .13     .66        .77       (10.77.0.0/24)
//
// Every namespace is named with a prefix unique to the lab ("bf<pid>-" for the
// first lab of a process), so that several labs and leftovers of crashed runs
// never collide. The lab never changes the machine's own network or firewall:
// the bridge, the veth pairs, the addresses and every nftables table live in
// namespaces the lab created, and [Lab.Close] removes all of them, kills every
// process living in them and deletes the lab's temporary directory, whether
// the lab started completely or failed halfway.
//
// Each of h1, h2 and h3 runs a real rsyslogd and a real sshd in its
// namespace, as a VPS does: sshd (and PAM in it) log through syslog(3) to
// the host's rsyslogd, which writes the host's auth.log with Debian 12's
// default template or the traditional one (see [LogFormat]). Both run with
// the machine's binaries but touch no system file: rsyslogd listens on a
// socket in the lab directory, not /dev/log, and sshd runs in a private
// mount namespace (the one `ip netns exec` creates) in which /run is a
// small tmpfs (for its privilege separation directory), /dev a tmpfs with
// the few devices it needs and /dev/log pointing at the host's rsyslogd, and
// /var/log/{btmp,wtmp,lastlog} are bind mounts of files in the lab
// directory. Rotation is logrotate's: rename and SIGHUP, or copytruncate.
//
// Tests call [New], which checks the prerequisites ([Require]) and closes the
// lab in t.Cleanup, printing the tail of every process log when the test
// failed:
//
//	l := lab.New(t, lab.Options{Binaries: lab.Build(t)})
//	fleet, err := l.StartFleet(lab.FleetOptions{})
//	require.NoError(t, err)
//	require.NoError(t, l.SSHFailedLogin(lab.Attacker, lab.H1))
//
// Programs (the demo) call [Start] and [Lab.Close] themselves. Close is
// idempotent and may run concurrently with anything else, so a signal
// handler can call it; cancelling Start's context aborts a start in
// progress and removes what it made:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	l, err := lab.Start(ctx, lab.Options{Binaries: bins})
//	if err != nil { … }
//	defer l.Close()
//	go func() { <-ctx.Done(); l.Close() }()
//
// Every child process gets Pdeathsig=SIGKILL, so the daemons die with the
// test binary even when it is killed without running Close; the namespaces
// and directory such a run leaves behind are removed by the next Start (its
// names carry the dead run's pid).
package lab
