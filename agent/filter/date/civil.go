package date

import "time"

// Civil (zone-less) date arithmetic, as Python's naive datetime does it:
// proleptic Gregorian calendar, years 1..9999, whole seconds.

// daysFromCivil returns days since 1970-01-01 (Howard Hinnant's
// algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// validDate is what datetime.datetime(y, m, d, H, M, S) accepts.
func validDate(y, m, d, hh, mm, ss int) bool {
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m) &&
		hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59 && ss >= 0 && ss <= 59
}

// Naive datetimes are seconds since 1970-01-01T00:00:00 of a wall clock.
const (
	minCivil = -62135596800 // 0001-01-01T00:00:00
	maxCivil = 253402300799 // 9999-12-31T23:59:59
)

func civilSeconds(y, m, d, hh, mm, ss int) int64 {
	return daysFromCivil(y, m, d)*86400 + int64(hh*3600+mm*60+ss)
}

func splitCivil(s int64) (y, m, d, hh, mm, ss int) {
	days := s / 86400
	rem := s % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d = civilFromDays(days)
	return y, m, d, int(rem / 3600), int(rem / 60 % 60), int(rem % 60)
}

// ordinal is datetime.date.toordinal (0001-01-01 is 1).
func ordinal(y, m, d int) int64 { return daysFromCivil(y, m, d) + 719163 }

// zoneCache remembers the last zone period seen, so that converting wall
// clock times inside it needs no zone lookup, and the offset of the last
// conversion, which glibc's mktime starts from.
type zoneCache struct {
	start, end int64 // period [start, end) in Unix seconds
	offset     int64 // its offset
	valid      bool
	guess      int64 // offset of the last conversion (glibc's localtime_offset)
}

const secondsPerDay = 86400

// localToUnix converts a wall clock time in loc to Unix seconds the way
// glibc's mktime does with tm_isdst = -1 (Python's time.mktime on a naive
// datetime): a time that exists twice (when clocks go back) gets the offset
// of the previous conversion if that offset fits, else the first one that
// fits; a time that does not exist (clocks go forward) is read with the
// offset before the change.
func (zc *zoneCache) localToUnix(wall int64, loc *time.Location) int64 {
	if zc.valid {
		u := wall - zc.offset
		if u-2*secondsPerDay >= zc.start && u+2*secondsPerDay < zc.end {
			zc.guess = zc.offset
			return u
		}
	}
	offAt := func(u int64) (int64, int64, int64) {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		s, e := t.ZoneBounds()
		start, end := int64(minCivil-secondsPerDay), int64(maxCivil+secondsPerDay)
		if !s.IsZero() {
			start = s.Unix()
		}
		if !e.IsZero() {
			end = e.Unix()
		}
		return int64(off), start, end
	}
	u := wall - zc.guess
	off, s, e := offAt(u)
	if off != zc.guess {
		u = wall - off
		var off2 int64
		off2, s, e = offAt(u)
		if off2 != off {
			// in a gap
			before, _, _ := offAt(wall - secondsPerDay)
			zc.guess = before
			zc.valid = false
			return wall - before
		}
	}
	zc.start, zc.end, zc.offset, zc.valid = s, e, off, true
	zc.guess = off
	return u
}
