package date

import (
	"fmt"
	"time"
)

// ParseTimeZone reads a logtimezone value the way Fail2Ban does
// (strptime.validateTimeZone): an optional zone abbreviation Fail2Ban
// knows (UTC, GMT, CET, CEST, EST, ...) and an optional offset ([+-]hh,
// [+-]hhmm, [+-]hh:mm): "UTC", "UTC+0200", "CET", "+01:00", "GMT-04".
// Abbreviations are fixed offsets (CET never switches to CEST), as in
// Fail2Ban.
func ParseTimeZone(s string) (*time.Location, error) {
	off, ok := zoneOffset(nil, []byte(s))
	if !ok {
		return nil, fmt.Errorf("unknown or unsupported time zone: %q", s)
	}
	return time.FixedZone(s, off*60), nil
}
