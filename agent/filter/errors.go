package filter

import "errors"

var (
	// ErrUnknownFilter is returned by [Builtin] for a name it does not know.
	ErrUnknownFilter = errors.New("unknown built-in filter")
	// ErrUnsupportedMode is returned when Options.Mode names a mode the
	// filter does not implement (so far only "normal").
	ErrUnsupportedMode = errors.New("unsupported filter mode")
)
