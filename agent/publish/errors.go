package publish

import "errors"

// errNotSent: an offence was not sent (again) because a send before it
// was refused; it is sent with the rest of the window at the next retry.
var errNotSent = errors.New("not sent: an earlier send was refused")
