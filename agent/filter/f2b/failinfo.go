package f2b

import (
	"slices"
	"strings"
	"time"
	"unsafe"
)

// failInfo is Fail2Ban's per-failure dict ("fail" in filter.py): the named
// groups that took part (None values are simply absent) plus the
// bookkeeping keys _mergeFailure uses. Matched lines are only counted.
//
// Values live in the failInfo's own arena (keys are the compiled regexes'
// group names), so a failure costs no allocation once the Matcher has
// warmed up: failInfos dropped from the MLFID cache are reused. Strings read
// from a failInfo must therefore be copied before they leave the Matcher.
type failInfo struct {
	kv            []kv
	kvbuf         [8]kv
	arena         []byte
	ubuf          [2]string
	matches       int // len(fail["matches"])
	nofailMatches int // len(fail["nofail-matches"])
	users         []string
	hasUsers      bool
	pending       bool // fail["mlfpending"]
}

type kv struct{ k, v string }

func (f *failInfo) reset() {
	if f.kv == nil {
		f.kv = f.kvbuf[:0]
		f.users = f.ubuf[:0]
	}
	f.kv = f.kv[:0]
	f.arena = f.arena[:0]
	f.matches, f.nofailMatches = 0, 0
	f.users, f.hasUsers, f.pending = f.users[:0], false, false
}

// own copies v into the arena and returns it as a string.
func (f *failInfo) own(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	start := len(f.arena)
	f.arena = append(f.arena, v...)
	return unsafe.String(&f.arena[start], len(v))
}

// setCopy is set with a value copied into the arena.
func (f *failInfo) setCopy(k string, v []byte) { f.set(k, f.own(v)) }

func (f *failInfo) get(k string) (string, bool) {
	for i := range f.kv {
		if f.kv[i].k == k {
			return f.kv[i].v, true
		}
	}
	return "", false
}

func (f *failInfo) has(k string) bool {
	_, ok := f.get(k)
	return ok
}

// truthy is Python's `if fail.get(k)`: present and non-empty.
func (f *failInfo) truthy(k string) bool {
	v, ok := f.get(k)
	return ok && v != ""
}

func (f *failInfo) set(k, v string) {
	for i := range f.kv {
		if f.kv[i].k == k {
			f.kv[i].v = v
			return
		}
	}
	f.kv = append(f.kv, kv{k, v})
}

// pop removes k and returns its value (Python dict.pop(k, None)).
func (f *failInfo) pop(k string) (string, bool) {
	for i := range f.kv {
		if f.kv[i].k == k {
			v := f.kv[i].v
			f.kv = slices.Delete(f.kv, i, i+1)
			return v, true
		}
	}
	return "", false
}

// cloneInto copies f into c (values into c's arena).
func (f *failInfo) cloneInto(c *failInfo) *failInfo {
	c.reset()
	for _, e := range f.kv {
		c.kv = append(c.kv, kv{e.k, c.own(unsafeBytes(e.v))})
	}
	for _, u := range f.users {
		c.users = append(c.users, c.own(unsafeBytes(u)))
	}
	c.matches, c.nofailMatches, c.hasUsers, c.pending = f.matches, f.nofailMatches, f.hasUsers, f.pending
	return c
}

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// updateUsers is Filter._updateUsers.
func (f *failInfo) updateUsers(user string, hasUser bool) ([]string, bool) {
	if hasUser && user != "" {
		if !f.hasUsers || len(f.users) == 0 {
			f.hasUsers = true
			f.users = f.users[:0]
		}
		if !slices.Contains(f.users, user) {
			f.users = append(f.users, f.own(unsafeBytes(user)))
		}
		return f.users, true
	}
	return f.users, f.hasUsers
}

// mlfidCache is Fail2Ban's Utils.Cache(maxCount=100, maxTime=5*60) keyed
// by the multi-line failure id: insertion ordered (setting a key again keeps
// its place), entries expire after maxTime, and a full cache drops entries
// from the front until it has dropped one that had not expired.
type mlfidCache struct {
	m     map[string]cacheEntry
	order []orderSlot // insertion order; slots of removed keys are skipped
	head  int
	seq   uint64
	// dropped failInfos are reused, but only from the next line on (the
	// current line may still read one)
	dropped, free []*failInfo
}

func (c *mlfidCache) drop(f *failInfo) { c.dropped = append(c.dropped, f) }

// recycle makes the failInfos dropped during the previous line reusable.
func (c *mlfidCache) recycle() {
	if len(c.dropped) > 0 {
		c.free = append(c.free, c.dropped...)
		clear(c.dropped)
		c.dropped = c.dropped[:0]
	}
}

func (c *mlfidCache) alloc() *failInfo {
	if n := len(c.free); n > 0 {
		f := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return f
	}
	return new(failInfo)
}

type cacheEntry struct {
	fail    *failInfo
	expires time.Time
	seq     uint64
}

type orderSlot struct {
	k   string
	seq uint64
}

const (
	mlfidMaxCount = 100
	mlfidMaxTime  = 5 * time.Minute
)

func (c *mlfidCache) get(k string, now time.Time) *failInfo {
	if len(c.m) == 0 {
		return nil
	}
	e, ok := c.m[k]
	if !ok {
		return nil
	}
	if e.expires.After(now) {
		return e.fail
	}
	c.unset(k)
	return nil
}

// popFront removes the oldest entry.
func (c *mlfidCache) popFront() (cacheEntry, bool) {
	for c.head < len(c.order) {
		s := c.order[c.head]
		c.order[c.head] = orderSlot{}
		c.head++
		if e, ok := c.m[s.k]; ok && e.seq == s.seq {
			delete(c.m, s.k)
			c.drop(e.fail)
			return e, true
		}
	}
	return cacheEntry{}, false
}

func (c *mlfidCache) set(k string, f *failInfo, now time.Time) {
	if c.m == nil {
		c.m = make(map[string]cacheEntry, mlfidMaxCount)
	}
	if len(c.m) >= mlfidMaxCount {
		for len(c.m) > 0 {
			e, ok := c.popFront()
			if !ok {
				break
			}
			if e.expires.After(now) && len(c.m) < mlfidMaxCount {
				break
			}
		}
	}
	if e, ok := c.m[k]; ok {
		if e.fail != f {
			c.drop(e.fail)
		}
		e.fail, e.expires = f, now.Add(mlfidMaxTime)
		c.m[k] = e
		return
	}
	c.seq++
	c.m[k] = cacheEntry{fail: f, expires: now.Add(mlfidMaxTime), seq: c.seq}
	if c.head > 0 && (c.head >= len(c.order)/2 || len(c.order) == cap(c.order)) {
		// drop the consumed front (and skipped slots) before growing
		n := 0
		for _, s := range c.order[c.head:] {
			if e, ok := c.m[s.k]; ok && e.seq == s.seq {
				c.order[n] = s
				n++
			}
		}
		clear(c.order[n:])
		c.order, c.head = c.order[:n], 0
	}
	c.order = append(c.order, orderSlot{k, c.seq})
}

func (c *mlfidCache) unset(k string) {
	if e, ok := c.m[k]; ok {
		delete(c.m, k)
		c.drop(e.fail)
	}
}

// mergeFailure is Filter._mergeFailure. fail is the current failure
// (scratch, not retained unless stored); it returns the merged failure,
// which may be the cached one.
func (m *Matcher) mergeFailure(mlfid string, fail *failInfo, now time.Time) *failInfo {
	cached := m.cache.get(mlfid, now)
	var users []string
	var hasUsers bool
	nfflgs := 0
	if fail.truthy("mlfgained") {
		nfflgs |= 8 | 1
		if !fail.truthy("nofail") {
			v, _ := fail.get("mlfgained")
			fail.set("nofail", v)
		}
	} else if fail.truthy("nofail") {
		nfflgs |= 1
	}
	if v, ok := fail.pop("mlfforget"); ok && v != "" {
		nfflgs |= 2
	}
	user, hasUser := fail.get("user")
	if cached != nil {
		g := cached
		users, hasUsers = g.updateUsers(user, hasUser)
		if v, ok := g.pop("nofail"); ok && v != "" {
			nfflgs |= 4
		}
		if v, ok := g.pop("mlfgained"); ok && v != "" {
			nfflgs |= 4
		}
		if nfflgs&8 != 0 {
			g.pending = false
		}
		if nfflgs&4 == 0 && !g.pending {
			g.matches = 0
		}
		for _, e := range fail.kv {
			g.setCopy(e.k, unsafeBytes(e.v))
		}
		fail = g
		if nfflgs&2 != 0 {
			m.cache.unset(mlfid)
		}
	} else if nfflgs&2 == 0 {
		fail = fail.cloneInto(m.cache.alloc())
		users, hasUsers = fail.updateUsers(user, hasUser)
		// the key must not change while in the map: use the cached copy
		key, _ := fail.get("mlfid")
		m.cache.set(key, fail, now)
	}
	pending := fail.pending
	fail.pending = false
	if pending || (hasUsers && len(users) > 1) {
		fail.pop("nofail")
		fail.pop("mlfgained")
		nfflgs &^= 8 | 1
	}
	switch {
	case nfflgs&1 == 0:
		n := fail.nofailMatches + fail.matches
		fail.nofailMatches = 0
		if nfflgs&8 == 0 {
			n += m.matchedLines
		}
		fail.matches = n
	case nfflgs&3 == 1:
		fail.nofailMatches += m.matchedLines
	}
	return fail
}

// pyTupleRepr renders a Fail2Ban tuple_ group value (a Python tuple of
// str/None) the way str() prints it.
func pyTupleRepr(items []*string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if it == nil {
			b.WriteString("None")
			continue
		}
		b.WriteString(pyStrRepr(*it))
	}
	if len(items) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
