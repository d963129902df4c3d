package authlog

import "errors"

var (
	// ErrOptions is returned for invalid Options or an unknown format name.
	ErrOptions = errors.New("invalid auth.log generator options")
	// ErrFail2Ban is returned when fail2ban-regex fails or prints output
	// RunFail2Ban cannot attribute to a line of the log.
	ErrFail2Ban = errors.New("fail2ban-regex")
)
