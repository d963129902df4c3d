package lab

import (
	"strconv"
	"time"
)

// Line returns msg as the host's rsyslogd writes it to auth.log when
// program tag with pid (no "[pid]" when pid is 0) logs it at t, in the
// host's LogFormat. Tests that log thousands of lines at once write them
// with AppendLog, in a few large writes, rather than send each through
// rsyslogd: the agent reads the same lines from the same file.
func (h *Host) Line(t time.Time, tag string, pid int, msg string) string {
	prog := tag
	if pid > 0 {
		prog += "[" + strconv.Itoa(pid) + "]"
	}
	stamp := t.Format("2006-01-02T15:04:05.000000-07:00") // RSYSLOG_FileFormat
	if h.Format == LogFormatClassic {
		stamp = t.Format(time.Stamp) // RSYSLOG_TraditionalFileFormat
	}
	return stamp + " " + h.Name + " " + prog + ": " + msg
}
