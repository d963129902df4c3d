package firewall

import "errors"

var (
	// ErrInvalidEntry reports an Entry with a bad jail name, address or timeout.
	ErrInvalidEntry = errors.New("invalid entry")
	// ErrInvalidSpec reports a JailSpec with a bad name, protocol or port.
	ErrInvalidSpec = errors.New("invalid jail spec")
	// ErrInvalidOptions reports bad NftOptions.
	ErrInvalidOptions = errors.New("invalid nftables options")
	// ErrIncompatibleSet reports a set in banfleet's table that carries one of
	// banfleet's set names but has the wrong key type or lacks the timeout
	// flag; an operator has to delete it ("nft delete set inet <table> <set>").
	ErrIncompatibleSet = errors.New("incompatible set in banfleet table")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("firewall backend closed")
)
