package agent

// SetBeforeFollow makes every follower wait for fn before it starts; the
// returned func undoes it.
func SetBeforeFollow(fn func()) (undo func()) {
	beforeFollow = fn
	return func() { beforeFollow = nil }
}
