package config

import "errors"

// ErrInvalid marks a configuration that was read but is not valid.
var ErrInvalid = errors.New("invalid configuration")
