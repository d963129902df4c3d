package config

import "errors"

// ErrInvalid marks a configuration that was read but is not valid.
var ErrInvalid = errors.New("invalid configuration")

// ErrFilterMode: a built-in filter was asked for a mode it does not have.
var ErrFilterMode = errors.New("unknown filter mode")

// NATSError is why a connection to NATS failed, in words (see DiagnoseNATS).
type NATSError struct {
	// Reason is short and stable, fit for a log key and for noticing that
	// it changed: "tls: certificate signed by unknown authority",
	// "authorization violation: wrong user or password", "connection
	// refused", …
	Reason string
	// Hint says what in the configuration to look at ("" if nothing in
	// particular).
	Hint string
	// Unreachable is set when nothing answered (refused, timed out, no
	// such host, no route): the server may be down rather than the
	// configuration wrong.
	Unreachable bool
	// Err is the error the client returned.
	Err error
}

func (e *NATSError) Error() string {
	msg := e.Reason + " (" + e.Err.Error() + ")"
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}
func (e *NATSError) Unwrap() error { return e.Err }

// Unreachable reports whether err says NATS did not answer (-t exits 1),
// as opposed to a wrong configuration (exit 2).
func Unreachable(err error) bool {
	var ne *NATSError
	return errors.As(err, &ne) && ne.Unreachable
}
