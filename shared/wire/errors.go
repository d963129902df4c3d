package wire

import "errors"

var (
	// ErrMalformed marks a message that is not valid JSON of the expected shape
	// or fails validation.
	ErrMalformed = errors.New("malformed message")
	// ErrVersion marks a message whose version this build does not speak.
	ErrVersion = errors.New("unsupported message version")
)
