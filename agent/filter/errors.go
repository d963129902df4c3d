package filter

import "errors"

// ErrUnknownFilter says a name is not one of the built-in filters.
var ErrUnknownFilter = errors.New("unknown built-in filter")
