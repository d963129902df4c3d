package date

import "time"

// fields are the strptime values a match produced, in the shape of
// strptime.reGroupDictStrptime's locals. A field is set when its has* flag
// is; bad marks a value Python would refuse (int('x'), an unknown zone).
type fields struct {
	year, month, day      int
	hour, minute, second  int
	weekday, julian, week int
	tzoff                 int // minutes east of UTC
	hasYear, hasMonth     bool
	hasDay, hasWeekday    bool
	hasJulian, hasWeek    bool
	weekStartsMon, hasTZ  bool
	bad                   bool
}

// clock is "now" as reGroupDictStrptime sees it: a naive local wall
// clock (MyTime.now()) in civil seconds. Its fraction of a second never
// matters: dates are whole seconds and only compared with "later than".
type clock struct {
	wall         int64
	year, mon, d int
}

func newClock(now time.Time) clock {
	y, mo, d := now.Date()
	hh, mm, ss := now.Clock()
	return clock{
		wall: civilSeconds(y, int(mo), d, hh, mm, ss),
		year: y, mon: int(mo), d: d,
	}
}

// after reports whether the naive datetime w (whole seconds) is later than
// the clock plus delta seconds, comparing as Python compares datetimes.
func (c clock) after(w int64, delta int64) bool { return w > c.wall+delta }

// zoneRule says how to read a wall clock without a zone in the line.
type zoneRule struct {
	dayY, dayM, dayD int   // the last date converted ...
	days             int64 // ... and its daysFromCivil
	loc              *time.Location
	fixed            bool // loc has a single offset: Fail2Ban's logtimezone
	offset           int  // minutes, when fixed
	zc               zoneCache
}

// resolve turns fields into Unix seconds as reGroupDictStrptime does.
// ok is false where Python raises (and Fail2Ban finds no date).
func (f *fields) resolve(now clock, zr *zoneRule) (int64, bool) {
	if f.bad {
		return 0, false
	}
	year, month, day := f.year, f.month, f.day
	assumeYear := false
	if !f.hasYear {
		year = now.year
		assumeYear = true
	}
	hasMonth, hasDay := f.hasMonth, f.hasDay
	if !hasMonth || !hasDay {
		julian, hasJulian := f.julian, f.hasJulian
		if !hasJulian && f.hasWeek && f.hasWeekday {
			if year < 1 || year > 9999 {
				return 0, false
			}
			julian, hasJulian = julianFromWeek(year, f.week, f.weekday, f.weekStartsMon), true
		}
		if hasJulian {
			if year < 1 || year > 9999 {
				return 0, false
			}
			o := int64(julian-1) + ordinal(year, 1, 1)
			if o < 1 || o > ordinal(9999, 12, 31) {
				return 0, false
			}
			year, month, day = civilFromDays(o - 719163)
			hasMonth, hasDay = true, true
		}
	}
	assumeToday := false
	if !hasMonth && !hasDay {
		month, day = now.mon, now.d
		assumeToday = true
	} else if !hasMonth || !hasDay {
		return 0, false // datetime(year, None, day): TypeError
	}
	if !validDate(year, month, day, f.hour, f.minute, f.second) {
		return 0, false
	}
	if year != zr.dayY || month != zr.dayM || day != zr.dayD {
		zr.dayY, zr.dayM, zr.dayD, zr.days = year, month, day, daysFromCivil(year, month, day)
	}
	w := zr.days*secondsPerDay + int64(f.hour*3600+f.minute*60+f.second)
	hasTZ, tzoff := f.hasTZ, f.tzoff
	if !hasTZ && zr.fixed {
		hasTZ, tzoff = true, zr.offset
	}
	if hasTZ {
		w -= int64(tzoff) * 60
		if w < minCivil || w > maxCivil {
			return 0, false
		}
	}
	if assumeToday && now.after(w, 0) {
		w -= secondsPerDay
		if w < minCivil {
			return 0, false
		}
	}
	if assumeYear && now.after(w, secondsPerDay) {
		// date_result.replace(year=year-1, month=month, day=day): the time
		// of day stays, even if the zone moved the date.
		_, _, _, hh, mm, ss := splitCivil(w)
		if !validDate(year-1, month, day, hh, mm, ss) {
			return 0, false
		}
		w = civilSeconds(year-1, month, day, hh, mm, ss)
	}
	if hasTZ {
		return w, true
	}
	return zr.zc.localToUnix(w, zr.loc), true
}

// julianFromWeek is _strptime._calc_julian_from_U_or_W.
func julianFromWeek(year, week, weekday int, weekStartsMon bool) int {
	// datetime_date(year, 1, 1).weekday(): Monday is 0
	first := int((daysFromCivil(year, 1, 1)%7 + 7 + 3) % 7)
	if !weekStartsMon {
		first = (first + 1) % 7
		weekday = (weekday + 1) % 7
	}
	week0 := (7 - first) % 7
	if week == 0 {
		return 1 + weekday - first
	}
	return 1 + week0 + 7*(week-1) + weekday
}
