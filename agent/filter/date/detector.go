package date

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/banfleet/banfleet/agent/filter/internal/pyre"
)

// Options configure a Detector.
type Options struct {
	// Pattern is a filter's or jail's datepattern value, after Fail2Ban's
	// config interpolation (so "%%" already became "%"). One template per
	// line. "" means Fail2Ban's default templates.
	Pattern string
	// Location reads dates that carry no zone (Fail2Ban's logtimezone);
	// nil means time.Local. A zone in the line wins. Fail2Ban only knows
	// fixed offsets (see ParseTimeZone); a zone with daylight saving time
	// is read the way Fail2Ban reads the system's local time.
	Location *time.Location
	// Year is the current year Fail2Ban derives %ExY from when it starts
	// (2026 accepts 2000-2029). 0 means time.Now().Year().
	Year int
}

// Detector finds the date in a log line, as Fail2Ban's DateDetector does.
// Not safe for concurrent use (it reorders templates by hits, like
// Fail2Ban); make one per log source.
type Detector struct {
	b       *builder
	entries []*entry
	names   map[string]bool
	zr      zoneRule
	m       pyre.Machine
	fs      fastState
	zm      pyre.Machine // for zone names, while m holds a match

	// Fail2Ban's __lastPos, __lastEndPos (character indices and the
	// characters around them; noChar for Python's '') and friends.
	lastPos, lastEnd         int
	lastPosPrev, lastPosAt   rune
	lastEndPrev, lastEndNext rune
	lastIdx                  int
	firstUnused              int

	// the line being searched
	line      []byte
	asciiN    int  // bytes known to be ASCII at the start of the line
	asciiDone bool // asciiN is the whole ASCII prefix

	hms      int8  // hasHMS of the line: 0 unknown, 1 yes, -1 no
	clock    clock // "now" of the last Find, by second
	clockSec int64
	clockLoc *time.Location

	last     *template // the template of the last match (LastTemplate)
	searches int       // templates tried (for tests)
	engine   int       // of which by the regex engine (for tests)
}

// entry is a template in one detector's list (DateDetectorTemplate).
type entry struct {
	t        *template
	hits     int
	lastUsed float64
	distance int
}

func (e *entry) weight() float64 {
	return float64(e.hits) * e.t.weight / float64(max(1, e.distance))
}

// noChar stands for Python's empty string where Fail2Ban slices a
// character out of the line.
const noChar rune = -1

const unusedTime = 300 // seconds before a template counts as long unused

// New builds a Detector. The error names the datepattern line that Fail2Ban
// would refuse.
func New(o Options) (*Detector, error) {
	year := o.Year
	if year == 0 {
		year = time.Now().Year()
	}
	b, err := builderFor(year)
	if err != nil {
		return nil, err
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	d := &Detector{
		b:       b,
		names:   map[string]bool{},
		lastPos: 1, lastEnd: 0x7fffffff,
		lastPosPrev: noChar, lastPosAt: noChar, lastEndPrev: noChar, lastEndNext: noChar,
		lastIdx: 0x7fffffff,
		zr:      newZoneRule(loc),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range splitPattern(o.Pattern) {
		if err := d.appendTemplate(p); err != nil {
			return nil, &PatternError{Pattern: p, Err: err}
		}
	}
	if len(d.entries) == 0 {
		for _, t := range b.defs.all {
			d.add(t, false)
		}
	}
	return d, nil
}

// splitPattern is Filter.setDatePattern's split of a multi-line value.
func splitPattern(p string) []string {
	var out []string
	for _, l := range strings.Split(p, "\n") {
		l = strings.TrimFunc(l, pyre.IsSpace)
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func newZoneRule(loc *time.Location) zoneRule {
	zr := zoneRule{loc: loc}
	// A zone without transitions is a fixed offset: Fail2Ban's
	// logtimezone, applied before the year guess as Fail2Ban does.
	t := time.Unix(0, 0).In(loc)
	s, e := t.ZoneBounds()
	if s.IsZero() && e.IsZero() {
		_, off := t.Zone()
		if off%60 == 0 {
			zr.fixed = true
			zr.offset = off / 60
		}
	}
	return zr
}

// appendTemplate is DateDetector.appendTemplate.
func (d *Detector) appendTemplate(pattern string) error {
	key := patternKey(pattern)
	b := d.b
	if _, cached := b.cache[key]; !cached {
		switch {
		case key == "{^LN-BEG}" || key == "{DEFAULT}":
			ignoreDup := len(d.entries) > 0
			for _, t := range b.defs.all {
				if key == "{^LN-BEG}" && t.flags&flagLineBegin == 0 {
					continue
				}
				if err := d.add(t, ignoreDup); err != nil {
					return err
				}
			}
			return nil
		case strings.Contains(key, "{DATE}"):
			ignoreDup := len(d.entries) > 0
			for _, t := range b.defs.base {
				t2, err := b.dateTemplate(t, pattern)
				if err != nil {
					return err
				}
				if err := d.add(t2, ignoreDup); err != nil {
					return err
				}
			}
			return nil
		case key == "{NONE}":
			t, err := b.templateFor("{UNB}^", key)
			if err != nil {
				return err
			}
			return d.add(t, false)
		}
	}
	t, err := b.templateFor(pattern, key)
	if err != nil {
		return err
	}
	return d.add(t, false)
}

func (d *Detector) add(t *template, ignoreDup bool) error {
	if d.names[t.name] {
		if ignoreDup {
			return nil
		}
		return fmt.Errorf("there is already a template with name %s", t.name)
	}
	d.names[t.name] = true
	d.entries = append(d.entries, &entry{t: t, distance: 0x7fffffff})
	return nil
}

// matchResult is what one template's search found, copied out of the
// matcher so that a reserved match survives later searches.
type matchResult struct {
	s0, e0 int // whole match, bytes
	s1, e1 int // group 1, bytes; -1 if it took no part
	f      fields
	ns, ne int // kindEpoch/kindTAI64N: the number's span
}

// Find returns the line's time and the byte span [start,end) of the date
// text that Fail2Ban cuts out of the line before matching failregex.
// ok=false when no template matches.
//
// When a template matches but yields no time, ok is true and t is the zero
// Time: with start == end the template matched empty text (as {NONE}
// does), and Fail2Ban uses the previous date if it is under a minute old,
// else now; with start < end the text is not a valid date (Feb 30, an
// unknown zone name) and Fail2Ban logs an error and proceeds as without a
// date.
//
// now is the current time: its wall clock (in now's location, as Fail2Ban
// uses the local clock) decides the year of dates without one, and it
// ages the templates' use for reordering.
func (d *Detector) Find(line []byte, now time.Time) (t time.Time, start, end int, ok bool) {
	var res matchResult
	tmpl := d.matchTime(line, now, &res)
	d.last = tmpl
	if tmpl == nil {
		return time.Time{}, 0, 0, false
	}
	if res.s1 < 0 || res.s1 >= res.e1 {
		return time.Time{}, res.s0, res.s0, true
	}
	t, good := d.getDate(tmpl, line, &res, now)
	if !good {
		return time.Time{}, res.s1, res.e1, true
	}
	return t, res.s1, res.e1, true
}

func (d *Detector) setLine(line []byte) {
	d.line = line
	d.asciiN = 0
	d.asciiDone = false
	d.hms = 0
}

// hasHMS reports whether the line holds a digit, a colon, one or two
// digits, a colon and a digit (Python's \d: any Unicode decimal digit),
// which every template with %H:%M:%S (or a variant) needs.
func hasHMS(line []byte) bool {
	digitAt := func(i int) int { // width of a digit at i, or 0
		if i >= len(line) {
			return 0
		}
		if c := line[i]; c < utf8.RuneSelf {
			if c >= '0' && c <= '9' {
				return 1
			}
			return 0
		}
		r, w := utf8.DecodeRune(line[i:])
		if pyre.IsDigit(r) {
			return w
		}
		return 0
	}
	digitBefore := func(i int) bool {
		if i == 0 {
			return false
		}
		if c := line[i-1]; c < utf8.RuneSelf {
			return c >= '0' && c <= '9'
		}
		r, _ := utf8.DecodeLastRune(line[:i])
		return pyre.IsDigit(r)
	}
	for i := 0; i < len(line); {
		j := bytes.IndexByte(line[i:], ':')
		if j < 0 {
			return false
		}
		j += i
		i = j + 1
		if !digitBefore(j) {
			continue
		}
		k := j + 1
		for n := 0; n < 2; n++ {
			w := digitAt(k)
			if w == 0 {
				break
			}
			k += w
			if k < len(line) && line[k] == ':' && digitAt(k+1) > 0 {
				return true
			}
		}
	}
	return false
}

// ascii makes sure the line's ASCII prefix is known up to i (character
// index == byte offset there) and returns its known length.
func (d *Detector) ascii(i int) int {
	if d.asciiDone || i < d.asciiN {
		return d.asciiN
	}
	n := d.asciiN
	line := d.line
	for n+8 <= len(line) && n <= i {
		if binary.LittleEndian.Uint64(line[n:])&0x8080808080808080 != 0 {
			break
		}
		n += 8
	}
	for n < len(line) && n <= i {
		if line[n] >= utf8.RuneSelf {
			d.asciiDone = true
			break
		}
		n++
	}
	if n == len(line) {
		d.asciiDone = true
	}
	d.asciiN = n
	return n
}

// charAt is line[i] for a character index (noChar outside the line).
func (d *Detector) charAt(i int) rune {
	if i < 0 {
		return noChar
	}
	if i < d.ascii(i) {
		return rune(d.line[i])
	}
	b := d.byteOf(i)
	if b >= len(d.line) {
		return noChar
	}
	r, _ := utf8.DecodeRune(d.line[b:])
	return r
}

// byteOf converts a character index to a byte offset (clamped to the
// line).
func (d *Detector) byteOf(i int) int {
	n := d.ascii(i)
	if i <= n {
		return i
	}
	b, c := n, n
	for b < len(d.line) && c < i {
		_, w := utf8.DecodeRune(d.line[b:])
		b += w
		c++
	}
	return b
}

// charOf converts a byte offset to a character index.
func (d *Detector) charOf(b int) int {
	n := d.ascii(b)
	if b <= n {
		return b
	}
	return n + utf8.RuneCount(d.line[n:b])
}

func isAlnumChar(r rune) bool { return r != noChar && pyre.IsAlnum(r) }

// search runs one template over line[pos:endpos] (byte offsets; endpos < 0
// means the whole line). With prefilter, templates that need "H:M:S" are
// skipped on lines without it (worth it when many templates are tried).
func (d *Detector) search(t *template, pos, endpos int, res *matchResult, prefilter bool) bool {
	line := d.line
	if endpos < 0 || endpos > len(line) {
		endpos = len(line)
	}
	d.searches++
	if prefilter && t.needsHMS {
		if d.hms == 0 {
			d.hms = -1
			if hasHMS(line) {
				d.hms = 1
			}
		}
		if d.hms < 0 {
			return false
		}
	}
	if t.fast != nil {
		d.fs.zm = &d.zm
		switch t.fast.search(&d.fs, line, pos, endpos, res) {
		case fastMatch:
			return true
		case fastNoMatch:
			return false
		}
	}
	d.engine++
	if !t.re.Search(&d.m, line, pos, endpos) {
		return false
	}
	res.s0, res.e0 = d.m.Group(0)
	res.s1, res.e1 = d.m.Group(1)
	switch t.kind {
	case kindPattern:
		t.extract(&d.m, &d.zm, line, &res.f)
	case kindEpoch:
		res.ns, res.ne = d.m.Group(t.epochGroup)
	case kindTAI64N:
		res.ns, res.ne = d.m.Group(1)
	}
	return true
}

// matchTime is DateDetector.matchTime: try the template that matched last
// (within the same bounds if it is not anchored), else search all in order,
// preferring the match nearest the start of the line; then count the hit
// and move the template up the list.
func (d *Detector) matchTime(line []byte, now time.Time, res *matchResult) *template {
	d.setLine(line)
	var (
		matched           bool
		e                 *entry
		distance, endpos  int
		ignoreBySearch    = 0x7fffffff
		found             matchResult
		foundOK           bool
		foundDist, foundI = 0x7fffffff, -1
		foundEnd          int
	)
	i := d.lastIdx
	if i < len(d.entries) {
		e = d.entries[i]
		t := e.t
		if t.flags&(flagLineBegin|flagLineEnd) != 0 {
			matched = d.search(t, 0, -1, res, false)
			ignoreBySearch = i
		} else {
			distance, endpos = d.lastPos, d.lastEnd
			if (d.charAt(distance-1) == d.lastPosPrev || d.charAt(distance) == d.lastPosAt && !isAlnumChar(d.lastPosAt)) &&
				(d.charAt(endpos) == d.lastEndNext || d.charAt(endpos-1) == d.lastEndPrev && !isAlnumChar(d.lastEndPrev)) {
				matched = d.search(t, d.byteOf(distance), d.byteOf(endpos), res, false)
			} else {
				matched = d.search(t, 0, -1, res, false)
				ignoreBySearch = i
			}
		}
		if matched {
			distance, endpos = d.charOf(res.s0), d.charOf(res.e0)
			if !(len(d.entries) == 1 || t.flags&(flagLineBegin|flagLineEnd) != 0 ||
				distance == d.lastPos && endpos == d.lastEnd) {
				// collision: keep it in reserve and search all templates
				found, foundOK, foundDist, foundEnd, foundI = *res, true, distance, endpos, i
				matched = false
			}
		}
	}
	if !matched {
		for i = 0; i < len(d.entries); i++ {
			if i == ignoreBySearch {
				continue
			}
			e = d.entries[i]
			t := e.t
			if !d.search(t, 0, -1, res, true) {
				continue
			}
			distance, endpos = d.charOf(res.s0), d.charOf(res.e0)
			if i+1 >= len(d.entries) || t.flags&(flagLineBegin|flagLineEnd) != 0 {
				matched = true
				break
			}
			// (Fail2Ban also stops when distance == 0 and the next template
			// never matched; the test below stops there anyway.)
			if distance > e.distance || distance > d.lastPos {
				// the date may be in the message: keep the nearest, go on
				if distance < foundDist {
					found, foundOK, foundDist, foundEnd, foundI = *res, true, distance, endpos, i
				}
				continue
			}
			matched = true
			break
		}
		if !matched && foundOK {
			*res = found
			distance, endpos, i = foundDist, foundEnd, foundI
			e = d.entries[i]
			matched = true
		}
	}
	if !matched {
		return nil
	}
	e.hits++
	e.lastUsed = float64(now.UnixNano()) / 1e9
	e.distance = distance
	if d.firstUnused == i {
		d.firstUnused++
	}
	at := d.charAt(distance)
	if at == noChar {
		// Fail2Ban's line[distance] raises IndexError for a match that
		// starts at the end of the line; the line is dropped.
		return nil
	}
	d.lastPos, d.lastPosPrev, d.lastPosAt = distance, d.charAt(distance-1), at
	d.lastEndPrev = d.charAt(endpos - 1)
	if endpos == 0 {
		d.lastEndPrev = d.lastChar() // Python's line[-1]
	}
	d.lastEnd, d.lastEndNext = endpos, d.charAt(endpos)
	if i != 0 && i != d.lastIdx {
		i = d.reorder(i)
	}
	d.lastIdx = i
	return e.t
}

func (d *Detector) lastChar() rune {
	if len(d.line) == 0 {
		return noChar
	}
	r, _ := utf8.DecodeLastRune(d.line)
	return r
}

// reorder is DateDetector._reorderTemplate: bubble a template up.
func (d *Detector) reorder(num int) int {
	if num == 0 {
		return num
	}
	ts := d.entries
	e := ts[num]
	untime := e.lastUsed - unusedTime
	weight := e.weight()
	pos := num / 2
	if d.firstUnused < num {
		pos = d.firstUnused
	}
	movable := func() bool {
		p := ts[pos]
		return weight > p.weight() || untime > p.lastUsed
	}
	if !movable() {
		if pos == num-1 {
			return num
		}
		pos = num - 1
		if !movable() {
			return num
		}
	}
	copy(ts[pos+1:num+1], ts[pos:num])
	ts[pos] = e
	for d.firstUnused < len(ts) && ts[d.firstUnused].hits != 0 {
		d.firstUnused++
	}
	return pos
}

// extract reads the strptime groups of a match, as reGroupDictStrptime
// walks groupdict().
func (t *template) extract(m, zm *pyre.Machine, line []byte, f *fields) {
	*f = fields{}
	var ampm []byte
	ampmNone := false
	if t.ampmGroup >= 0 {
		if s, e := m.Group(t.ampmGroup); s >= 0 {
			ampm = line[s:e]
		} else {
			ampmNone = true
		}
	}
	for _, fg := range t.fields {
		s, e := m.Group(fg.group)
		if s < 0 {
			continue
		}
		if !f.set(zm, fg.key, line[s:e], ampm, ampmNone) {
			f.bad = true
			return
		}
	}
}

// set stores one strptime value; false where Python raises.
func (f *fields) set(zm *pyre.Machine, k fieldKey, val, ampm []byte, ampmNone bool) bool {
	num := func() (int, bool) {
		if v, ok := atoiASCII(val); ok {
			return v, true
		}
		return pyInt(string(val))
	}
	var ok bool
	switch k {
	case fkY2:
		f.year, ok = num()
		if f.year <= 2000 {
			f.year += 2000
		}
		f.hasYear = true
	case fkY:
		f.year, ok = num()
		f.hasYear = true
	case fkMonth:
		f.month, ok = num()
		f.hasMonth = true
	case fkMonthFull, fkMonthAbbr:
		list := monthAbbr
		if k == fkMonthFull {
			list = monthFull
		}
		f.month = lowerIndex(list, val)
		ok, f.hasMonth = f.month >= 0, true
	case fkDay:
		f.day, ok = num()
		f.hasDay = true
	case fkHour:
		f.hour, ok = num()
	case fkHour12:
		f.hour, ok = num()
		if ampmNone {
			return false // None.lower(): AttributeError
		}
		switch {
		case len(ampm) == 0 || lowerIndex([]string{"am"}, ampm) == 0:
			if f.hour == 12 {
				f.hour = 0
			}
		case lowerIndex([]string{"pm"}, ampm) == 0:
			if f.hour != 12 {
				f.hour += 12
			}
		}
	case fkMinute:
		f.minute, ok = num()
	case fkSecond:
		f.second, ok = num()
	case fkWeekdayFull, fkWeekdayAbbr:
		list := weekdayAbbr
		if k == fkWeekdayFull {
			list = weekdayFull
		}
		f.weekday = lowerIndex(list, val)
		ok, f.hasWeekday = f.weekday >= 0, true
	case fkWeekdayNum:
		f.weekday, ok = num()
		f.weekday--
		if f.weekday < 0 {
			f.weekday = 6
		}
		f.hasWeekday = true
	case fkJulian:
		f.julian, ok = num()
		f.hasJulian = true
	case fkWeekU, fkWeekW:
		f.week, ok = num()
		f.hasWeek, f.weekStartsMon = true, k == fkWeekW
	case fkZone:
		f.hasTZ = true
		switch string(val) {
		case "Z", "UTC", "GMT":
			f.tzoff, ok = 0, true
		default:
			f.tzoff, ok = zoneOffset(zm, val)
		}
	case fkAMPM:
		ok = true
	}
	return ok
}

// atoiASCII parses plain ASCII digits (the common case of pyInt).
func atoiASCII(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// getDate is the template's getDate: the time a match stands for.
func (d *Detector) getDate(t *template, line []byte, res *matchResult, now time.Time) (time.Time, bool) {
	switch t.kind {
	case kindEpoch:
		if res.ns < 0 {
			return time.Time{}, false
		}
		f, ok := epochValue(line[res.ns:res.ne], t.longEpoch)
		if !ok {
			return time.Time{}, false
		}
		return floatTime(f).In(d.zr.loc), true
	case kindTAI64N:
		// @4000000041f4104f00000000: Fail2Ban reads value[2:17] as hex
		// seconds (no TAI offset, no nanoseconds)
		v := line[res.ns:res.ne]
		if len(v) < 17 {
			return time.Time{}, false
		}
		var sec int64
		for _, c := range v[2:17] {
			switch {
			case c >= '0' && c <= '9':
				sec = sec*16 + int64(c-'0')
			case c >= 'a' && c <= 'f':
				sec = sec*16 + int64(c-'a'+10)
			default:
				return time.Time{}, false
			}
		}
		return time.Unix(sec, 0).In(d.zr.loc), true
	}
	if sec := now.Unix(); sec != d.clockSec || now.Location() != d.clockLoc || d.clockLoc == nil {
		d.clock, d.clockSec, d.clockLoc = newClock(now), sec, now.Location()
	}
	u, ok := res.f.resolve(d.clock, &d.zr)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(u, 0).In(d.zr.loc), true
}

// epochValue is DateEpoch.getDate: float(v), for LEPOCH divided by 1000
// (13 to 15 digits or a fraction) or 1000000 (16 digits or more).
func epochValue(v []byte, long bool) (float64, bool) {
	f, ok := parseDecimal(v)
	if !ok {
		s := asciiDigits(string(v))
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false
		}
		v = []byte(s)
	}
	if long && utf8.RuneCount(v) >= 13 {
		if utf8.RuneCount(v) >= 16 && bytes.IndexByte(v, '.') < 0 {
			f /= 1000000
		} else {
			f /= 1000
		}
	}
	return f, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseDecimal reads ASCII digits with at most one '.' when there are at
// most 15 digits: the value and the power of ten are then exact, so one
// division rounds correctly, as Python's float() does. ok is false for
// anything else (the caller falls back to strconv).
func parseDecimal(v []byte) (float64, bool) {
	var m uint64
	digits, frac, dot := 0, 0, false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	return float64(m) / pow10[frac], true
}

// floatTime converts Unix seconds held in a float64 (as Fail2Ban's epoch
// templates produce) to a Time, to the nanosecond the float allows.
func floatTime(f float64) time.Time {
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec))
}
