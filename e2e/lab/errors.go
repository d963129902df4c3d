package lab

import "errors"

var (
	// ErrTimeout: a connection attempt got no answer in time (packets dropped).
	ErrTimeout = errors.New("connection timed out")
	// ErrRefused: a connection attempt was refused (TCP reset).
	ErrRefused = errors.New("connection refused")
	// ErrUnreachable: a connection attempt was rejected with an ICMP error
	// (host or network unreachable, administratively prohibited).
	ErrUnreachable = errors.New("unreachable")
	// ErrClosed: the lab has been closed.
	ErrClosed = errors.New("lab closed")
	// ErrUnknownNode: a name is not a node of the lab.
	ErrUnknownNode = errors.New("unknown lab node")
	// ErrNoTable: the nftables table does not exist in that namespace.
	ErrNoTable = errors.New("nftables table not found")
	// ErrNoSet: the nftables set does not exist in that table.
	ErrNoSet = errors.New("nftables set not found")
	// ErrNoBinaries: the lab was started without banfleet binaries.
	ErrNoBinaries = errors.New("no banfleet binaries: set Options.Binaries (see Build)")
	// ErrStopTimeout: a process did not exit within the grace period after
	// SIGTERM and was killed.
	ErrStopTimeout = errors.New("process did not stop in time and was killed")
)
