package journal

import "errors"

var (
	// ErrInvalidMatch is wrapped by [ParseMatch] and [Source.Run] when a
	// journalmatch term is not FIELD=value with a field name journald
	// accepts, or the string cannot be split like a shell line.
	ErrInvalidMatch = errors.New("invalid journal match")
	// ErrInvalidCursor is wrapped by [ValidCursor] for a string that
	// journalctl would refuse as a cursor.
	ErrInvalidCursor = errors.New("invalid journal cursor")
	// ErrInvalidOptions is wrapped by [Source.Run] for contradictory
	// [Options], such as both Directory and Files.
	ErrInvalidOptions = errors.New("invalid journal options")
	// ErrMalformedExport is wrapped when journalctl's export stream cannot
	// be decoded; the source then restarts journalctl from the last cursor.
	ErrMalformedExport = errors.New("malformed journal export stream")
	// ErrStart is wrapped by [Source.Run] when the first journalctl cannot
	// be started at all (missing binary, permissions).
	ErrStart = errors.New("cannot start journalctl")
	// ErrRunning is returned by [Source.Run] when the source is already
	// running in another goroutine.
	ErrRunning = errors.New("journal source already running")
	// ErrNilHandler is returned by [Source.Run] when called without a handler.
	ErrNilHandler = errors.New("nil handler")
)
