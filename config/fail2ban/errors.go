package fail2ban

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the package returns wraps one of them; most
// come wrapped in an *Error that says where.
var (
	// ErrSyntax: a file is not a valid Fail2Ban INI file (configparser would
	// raise ParsingError, MissingSectionHeaderError, DuplicateSectionError or
	// DuplicateOptionError), or is not UTF-8.
	ErrSyntax = errors.New("syntax error")
	// ErrInterpolation: a %(name)s reference cannot be resolved: unknown
	// option, bad syntax, or nested deeper than configparser's 10 levels.
	ErrInterpolation = errors.New("interpolation error")
	// ErrTagRecursion: a <tag> refers to itself, or one tag was substituted
	// more than 25 times into one value (helpers.substituteRecursiveTags).
	ErrTagRecursion = errors.New("recursive tag definition")
	// ErrOptionSyntax: a name[opt=value, ...] spec is malformed
	// (helpers.extractOptions).
	ErrOptionSyntax = errors.New("bad option syntax")
	// ErrNotFound: no file of a configuration (X.conf, X.d/*.conf, X.local,
	// X.d/*.local) exists, e.g. a jail's filter.
	ErrNotFound = errors.New("configuration not found")
	// ErrValue: a value has the wrong form: an integer, a Fail2Ban time
	// string, a journalmatch that shlex cannot split, a logpath option that
	// is not head or tail.
	ErrValue = errors.New("invalid value")
	// ErrNoBytes is returned by Provider.ReadBytes: the Provider has no
	// byte form for a koanf.Parser; load it with a nil parser (Read).
	ErrNoBytes = errors.New("fail2ban provider: ReadBytes is not supported, load with a nil parser")
)

// Error locates a problem in a configuration file. File and Line are those
// of the option's first line (of the section header for a syntax error);
// they are empty when the value did not come from a file (a filter argument
// given in a spec).
type Error struct {
	File    string
	Line    int
	Section string
	Key     string
	Err     error  // one of the sentinel errors
	Detail  string // what is wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Section != "" {
		fmt.Fprintf(&b, "[%s] ", e.Section)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errAt builds an *Error for the option v (which may be nil) of section.
func errAt(v *value, section, key string, sentinel error, format string, args ...any) *Error {
	e := &Error{Section: section, Key: key, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	if v != nil {
		e.File, e.Line = v.file, v.line
	}
	return e
}

// errNoSection and errNoOption mirror configparser's NoSectionError and
// NoOptionError: lookups that Fail2Ban's readers catch and fall back from.
// They never leave the package.
var (
	errNoSection = errors.New("no section")
	errNoOption  = errors.New("no option")
)

func isLookupMiss(err error) bool { return errors.Is(err, errNoSection) || errors.Is(err, errNoOption) }

// JailError is a problem with one jail. LoadJails joins one per broken
// jail (errors.Join); errors.As finds the first.
type JailError struct {
	Jail string
	Err  error
}

func (e *JailError) Error() string { return "jail " + e.Jail + ": " + e.Err.Error() }
func (e *JailError) Unwrap() error { return e.Err }

// locate gives an *Error without a place the place of option key.
func locate(err error, v *value, section, key string) error {
	var e *Error
	if errors.As(err, &e) && e.File == "" && e.Section == "" {
		c := *e
		if v != nil {
			c.File, c.Line = v.file, v.line
		}
		c.Section, c.Key = section, key
		return &c
	}
	return err
}
