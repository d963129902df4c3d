package agent

// SetBeforeFollow makes every follower of a wait for fn before it starts.
func SetBeforeFollow(a *Agent, fn func()) { a.beforeFollow = fn }
