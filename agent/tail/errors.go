package tail

import "errors"

var (
	// ErrRunning is returned by [Follower.Run] when the follower is already
	// running in another goroutine.
	ErrRunning = errors.New("follower already running")
	// ErrNilHandler is returned by [Follower.Run] when called without a handler.
	ErrNilHandler = errors.New("nil handler")
	// ErrCorruptState is wrapped by [LoadState] when the state file exists but
	// cannot be decoded or holds impossible values.
	ErrCorruptState = errors.New("corrupt tail state")
)
