package date

import "fmt"

// PatternError is a datepattern line Fail2Ban would refuse (or that this
// package cannot run).
type PatternError struct {
	Pattern string
	Err     error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("datepattern %q: %v", e.Pattern, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }
