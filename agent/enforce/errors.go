package enforce

import "errors"

// Why a watch ends for a new one at once.
var (
	errResync = errors.New("resync requested")
	errBehind = errors.New("watch fell behind the bucket")
	errGap    = errors.New("watch lost updates")
)
