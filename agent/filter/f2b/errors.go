package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"errors"
	"fmt"
)

var (
	// ErrEmptyRegex is a regex that is empty or only blanks (Fail2Ban:
	// "Cannot add empty regex").
	ErrEmptyRegex = errors.New("empty regex")
	// ErrNoFailureID is a failregex without a fid, ip4, ip6, dns or mlfid
	// group, in itself or in the prefregex (Fail2Ban: "No failure-id group").
	ErrNoFailureID = errors.New("no failure-id group (<HOST>, <ADDR>, <F-ID>, <F-MLFID>, ...)")
	// ErrNoFailRegex is a definition without any failregex.
	ErrNoFailRegex = errors.New("no failregex")
	// ErrBadOption is an invalid Definition or Options field.
	ErrBadOption = errors.New("bad option")
)

// RegexError is a regex that could not be compiled. Kind is "prefregex",
// "failregex" or "ignoreregex"; Index is the position in its list (0 for
// the prefregex).
type RegexError struct {
	Kind  string
	Index int
	Regex string
	Err   error
}

func (e *RegexError) Error() string {
	if e.Kind == "prefregex" {
		return fmt.Sprintf("prefregex: %v (regex %q)", e.Err, e.Regex)
	}
	return fmt.Sprintf("%s[%d]: %v (regex %q)", e.Kind, e.Index, e.Err, e.Regex)
}

func (e *RegexError) Unwrap() error { return e.Err }

// SyntaxError is a regex Python's re module would reject (or that this
// package cannot read), with the byte offset of the problem.
type SyntaxError = pyre.SyntaxError
