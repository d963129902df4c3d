package filter

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// The sshd rules below are Fail2Ban 1.0.2's filter.d/sshd.conf failregex list
// for mode = normal (publickey = nofail, usedns = no), after Fail2Ban's own
// interpolation, written in Fail2Ban's notation and translated mechanically
// by pyToRE2. Index i here is index i in Fail2Ban's list, so Failure.Rule
// means the same thing in both. Rewrites needed for RE2 are exact:
//
//   - The conditional in the two "Failed …" rules is distributed over its
//     alternatives, in Fail2Ban's backtracking order.
//   - "(?:(?! from ).)*" ("no ' from ' starts here") is expressed as the
//     regular language of strings with no " from " (sshdNoFromTail); the
//     lazy user variant, followed by " from ", additionally cannot end in
//     " from" (sshdNoFromUser). The split is unique, so lazy and greedy agree.
//   - The IPv6 "(?<=:):" lookbehind is always true where it is used.
//
// F-MLFID, F-MLFFORGET and F-MLFGAINED are dropped: they only act together
// with multi-line state, which this package does not keep yet.
const (
	sshdSuff   = `(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*`
	sshdOnPort = `(?: (?:port \d+|on \S+)){0,2}`
	// Strings (without '\n') containing no " from ", and additionally not
	// ending in " from" for the user variant.
	sshdNoFromUser = `(?:[^ \n]| (?: |f |fr |fro )*(?:[^ f\n]|f[^ r\n]|fr[^ o\n]|fro[^ m\n]|from[^ \n]))*(?: (?: |f |fr |fro )*(?:f|fr|fro)?)?`
	sshdNoFromTail = `(?:[^ \n]| (?: |f |fr |fro )*(?:[^ f\n]|f[^ r\n]|fr[^ o\n]|fro[^ m\n]|from[^ \n]))*(?: (?: |f |fr |fro )*(?:f|fr|fro|from)?)?`

	phraseChangeUser = "Change of username or service not allowed"
)

var sshdRepl = strings.NewReplacer(
	"<HOST>", f2bAddr,
	"<SUFF>", sshdSuff,
	"<ONP>", sshdOnPort,
	"<NFU>", sshdNoFromUser,
	"<NFT>", sshdNoFromTail,
)

// anchorKind says how a rule's address is made safe against injected text.
type anchorKind uint8

const (
	// anchorNone: <HOST> sits where client-controlled text cannot move it
	// (right after fixed text, or after a real account name), or the rule
	// is already greedy and end-anchored and so takes the rightmost <HOST>
	// (rules 0, 1, 14).
	anchorNone anchorKind = iota
	// anchorRightmost: Fail2Ban's regex takes the leftmost workable <HOST>
	// after a client-chosen user name; banfleet takes the rightmost one,
	// where sshd put the real address (rules 5, 19). See rightAnchor.
	anchorRightmost
	// anchorFailed: rules 2 and 3, "Failed <method> for …". See
	// resolveFailed.
	anchorFailed
	// anchorChangeUser: rule 16, "Disconnecting invalid user U A port N:
	// Change of username or service not allowed: (U,…) -> (U2,…)". See
	// resolve.
	anchorChangeUser
)

// rightAnchor finds the rightmost position where a rule's text from <HOST>
// on fits: what a greedy "(?P<user>.*)" before it finds. It first tries the
// last few occurrences of the separator with a small tail regex (the real
// address is always among them), then falls back to the greedy whole-line
// regex, so the work stays linear in the line's length whatever it holds.
type rightAnchor struct {
	sep     []byte         // the literal right before <HOST>: " from " or " "
	tail    *regexp.Regexp // "^" + sep + <HOST> + the rest of the rule + "$"
	tailG   groupIndex
	greedy  *regexp.Regexp // the equivalent whole-line regex
	greedyG groupIndex
	// pattern of greedy, Fail2Ban notation (documentation and tests)
	greedyPattern string
}

// rightTries is how many separators, from the right, rightmost tries with
// the tail regex before it runs the whole-line regex. sshd puts the real
// address before at most a few more (" port N [preauth]", " on A port N").
const rightTries = 6

// rightmost returns the <HOST> span of the largest pos >= userStart at which
// msg[pos:end] matches the tail; the user is then msg[userStart:pos].
func (a *rightAnchor) rightmost(msg []byte, userStart, end int) (ipS, ipE, pos int, ok bool) {
	hi := end
	for range rightTries {
		if hi < userStart {
			return 0, 0, 0, false
		}
		j := bytes.LastIndex(msg[userStart:hi], a.sep)
		if j < 0 {
			return 0, 0, 0, false
		}
		pos = userStart + j
		if loc := a.tail.FindSubmatchIndex(msg[pos:end]); loc != nil {
			if s, e, found := firstSpan(loc, a.tailG, "ip4", "ip6"); found {
				return pos + s, pos + e, pos, true
			}
			return 0, 0, 0, false // cannot happen: <HOST> is not optional
		}
		hi = pos + len(a.sep) - 1 // occurrences starting before pos
	}
	// Unusual line: let the whole-line regex find the rightmost fit, in
	// linear time. It anchors at the start of msg (and, for rule 16, ends
	// with the phrase at end); the user it captures starts at userStart
	// for every rule using a rightAnchor.
	loc := a.greedy.FindSubmatchIndex(msg)
	if loc == nil {
		return 0, 0, 0, false
	}
	uS, uE, hasUser := span(loc, a.greedyG["user"])
	s, e, found := firstSpan(loc, a.greedyG, "ip4", "ip6")
	if !hasUser || uS != userStart || !found {
		return 0, 0, 0, false
	}
	return s, e, uE, true
}

func newRightAnchor(sep, tail, greedy string) *rightAnchor {
	t := compileRule(tail, sshdRepl)
	g := compileRule(greedy, sshdRepl)
	return &rightAnchor{
		sep: []byte(sep), tail: t, tailG: indexGroups(t),
		greedy: g, greedyG: indexGroups(g), greedyPattern: greedy,
	}
}

type sshdRule struct {
	idx     int
	pattern string // Fail2Ban notation, for documentation and tests
	// re is the whole rule. For rules 2 and 3 it is only used by tests:
	// at run time their branches are tried one by one (same result, and
	// each branch is small enough for Go's fast backtracking matcher).
	re *regexp.Regexp
	g  groupIndex
	// alts are tried in order; the first match is the rule's match.
	alts   []ruleAlt
	anchor anchorKind
	right  *rightAnchor
	// hostless: the rule has no <HOST>; in Fail2Ban its failure waits for
	// an address from another line of the same connection (MLFID).
	hostless bool
	// multiLineOnly: the rule only acts on multi-line state ("Accepted …"
	// is F-MLFGAINED); alone it is not a failure, so it yields NoMatch.
	multiLineOnly bool
}

// ruleAlt is one compiled alternative of a rule.
type ruleAlt struct {
	re *regexp.Regexp
	g  groupIndex
	// need, when set, must occur in the message for re to be able to
	// match; checked first because it is much cheaper.
	need []byte
}

type sshdBranch struct {
	pattern string
	need    string
}

type sshdRuleSpec struct {
	pattern string
	// branches, when set, split pattern's top-level alternation into
	// separate regexes tried in order (see sshdRule.re).
	branches      []sshdBranch
	anchor        anchorKind
	right         *rightAnchor
	hostless      bool
	multiLineOnly bool
}

// sshdNormal is the normal-mode failregex list, in Fail2Ban's order.
var sshdNormal = []sshdRuleSpec{
	0: {pattern: `^[aA]uthentication (?:failure|error|failed) for (?P<user>.*) from <HOST>( via \S+)?<SUFF>$`},
	1: {pattern: `^User not known to the underlying authentication module for (?P<user>.*) from <HOST><SUFF>$`},
	2: {
		pattern: `^Failed publickey for invalid user (?:(?P<brA>)(?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: |(?P<user><NFU>) from <HOST><ONP>(?: ssh\d*)?<NFT>$)`,
		branches: []sshdBranch{
			{`^Failed publickey for invalid user (?P<brA>)(?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: `, ": "},
			{`^Failed publickey for invalid user (?P<user><NFU>) from <HOST><ONP>(?: ssh\d*)?<NFT>$`, ""},
		},
		anchor: anchorFailed,
	},
	3: {
		pattern: `^Failed (?:(?P<nofail>publickey)|\S+) for (?:invalid user (?:(?P<brA>)(?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: |(?P<user><NFU>) from <HOST><ONP>(?: ssh\d*)?<NFT>$)|(?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: |(?P<user>[^:]+) from <HOST><ONP>(?: ssh\d*)?<NFT>$)`,
		// The method alternatives consume the same text ("publickey" is
		// also \S+), so trying the branches one after the other, each
		// with both method alternatives, finds the same first match.
		branches: []sshdBranch{
			{`^Failed (?:(?P<nofail>publickey)|\S+) for invalid user (?P<brA>)(?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: `, ": "},
			{`^Failed (?:(?P<nofail>publickey)|\S+) for invalid user (?P<user><NFU>) from <HOST><ONP>(?: ssh\d*)?<NFT>$`, " for invalid user "},
			{`^Failed (?:(?P<nofail>publickey)|\S+) for (?P<user>\S+) from <HOST><ONP>(?: ssh\d*)?: `, ": "},
			{`^Failed (?:(?P<nofail>publickey)|\S+) for (?P<user>[^:]+) from <HOST><ONP>(?: ssh\d*)?<NFT>$`, ""},
		},
		anchor: anchorFailed,
	},
	4: {pattern: `^(?P<user>ROOT) LOGIN REFUSED FROM <HOST>`},
	5: {
		pattern: `^[iI](?:llegal|nvalid) user (?P<user>.*?) from <HOST><SUFF>$`,
		anchor:  anchorRightmost,
		right: newRightAnchor(" from ", `^ from <HOST><SUFF>$`,
			`^[iI](?:llegal|nvalid) user (?P<user>.*) from <HOST><SUFF>$`),
	},
	6:  {pattern: `^User (?P<user>\S+|.*?) from <HOST> not allowed because not listed in AllowUsers<SUFF>$`},
	7:  {pattern: `^User (?P<user>\S+|.*?) from <HOST> not allowed because listed in DenyUsers<SUFF>$`},
	8:  {pattern: `^User (?P<user>\S+|.*?) from <HOST> not allowed because not in any group<SUFF>$`},
	9:  {pattern: `^refused connect from \S+ \(<HOST>\)`},
	10: {pattern: `^Received disconnect from <HOST><ONP>:\s*3: .*: Auth fail<SUFF>$`},
	11: {pattern: `^User (?P<user>\S+|.*?) from <HOST> not allowed because a group is listed in DenyGroups<SUFF>$`},
	12: {pattern: `^User (?P<user>\S+|.*?) from <HOST> not allowed because none of user's groups are listed in AllowGroups<SUFF>$`},
	13: {pattern: `^(?P<nofail>pam_[a-z]+\(sshd:auth\):\s+authentication failure;)(?:\s+(?:(?:logname|e?uid|tty)=\S*)){0,4}\s+ruser=(?P<altuser>\S*)\s+rhost=<HOST>(?:\s+user=(?P<user>\S*))?<SUFF>$`},
	14: {pattern: `^maximum authentication attempts exceeded for (?P<user>.*) from <HOST><ONP>(?: ssh\d*)?<SUFF>$`},
	15: {pattern: `^User (?P<user>\S+|.*?) not allowed because account is locked<SUFF>`, hostless: true},
	16: {
		pattern: `^Disconnecting(?: from)?(?: (?:invalid|authenticating)) user (?P<user>\S+) <HOST><ONP>:\s*Change of username or service not allowed:\s*.*\[preauth\]\s*$`,
		anchor:  anchorChangeUser,
		// Matched against the text before the (unique) phrase.
		right: newRightAnchor(" ", `^ <HOST><ONP>:\s*$`,
			`^Disconnecting(?: from)?(?: (?:invalid|authenticating)) user (?P<user>.*) <HOST><ONP>:\s*Change of username or service not allowed:`),
	},
	17: {pattern: `^Disconnecting: Too many authentication failures(?: for (?P<user>\S+|.*?))?<SUFF>$`, hostless: true},
	18: {pattern: `^(?P<nofail>Received disconnect) from <HOST><ONP>:\s*11:`},
	19: {
		pattern: `^(?P<nofail>(?:Connection (?:closed|reset)|Disconnected)) (?:by|from)(?: (?:invalid|authenticating) user (?P<user>\S+|.*?))? <HOST>(?:<SUFF>|\s*)$`,
		anchor:  anchorRightmost,
		right: newRightAnchor(" ", `^ <HOST>(?:<SUFF>|\s*)$`,
			`^(?P<nofail>(?:Connection (?:closed|reset)|Disconnected)) (?:by|from)(?: (?:invalid|authenticating) user (?P<user>.*))? <HOST>(?:<SUFF>|\s*)$`),
	},
	20: {pattern: `^Accepted \w+ for (?P<user>\S+) from <HOST>(?:\s|$)`, multiLineOnly: true},
	21: {pattern: `^(?P<nofail>Connection from) <HOST>`},
}

var (
	// sshdFailedEOL finds the "from <HOST> port N ssh2" that ends a
	// "Failed … for invalid user …" line. Modern sshd (protocol 2) writes
	// "Failed M for [invalid user ]U from A port N ssh2[: X]", where X is a
	// key type and fingerprint, certificate details or hostbased client
	// details, none of which ends that way; so when such a line does end
	// that way, the last "from … port N ssh2" is the real one whatever the
	// client-chosen user name U holds.
	sshdFailedEOL = newRightAnchor(" from ", `^ from <HOST> port \d+ ssh2\s*$`,
		`^Failed \S+ for invalid user (?P<user>.*) from <HOST> port \d+ ssh2\s*$`)
	// sshdFailedCand finds every "from <HOST> port N ssh2: " in a line.
	sshdFailedCand  = compileRule(` from <HOST><ONP>(?: ssh\d*)?: `, sshdRepl)
	sshdFailedCandG = indexGroups(sshdFailedCand)
)

// sshdFilter is the built-in sshd filter.
type sshdFilter struct {
	loc   *time.Location
	rules []*sshdRule

	// Candidate rules by the literal each rule's content starts with.
	auth, userNotKnown, userNotAllowed, userNotKnownOrAllowed,
	failedPub, failed, rootLogin, invalidUser, refused, recvDisconnect,
	pam, maxAuth, changeUser, tooMany, closed, connFrom []*sshdRule
}

var _ Filter = (*sshdFilter)(nil)

func newSSHD(opts Options) (AtFilter, error) {
	if opts.Mode != "" && opts.Mode != "normal" {
		return nil, fmt.Errorf("mode %q (supported: normal): %w", opts.Mode, ErrUnsupportedMode)
	}
	f := &sshdFilter{loc: opts.Location}
	if f.loc == nil {
		f.loc = time.Local
	}
	for i, s := range sshdNormal {
		r := &sshdRule{
			idx: i, pattern: s.pattern, anchor: s.anchor, right: s.right,
			hostless: s.hostless, multiLineOnly: s.multiLineOnly,
		}
		r.re = compileRule(s.pattern, sshdRepl)
		r.g = indexGroups(r.re)
		if len(s.branches) == 0 {
			r.alts = []ruleAlt{{re: r.re, g: r.g}}
		}
		for _, b := range s.branches {
			re := compileRule(b.pattern, sshdRepl)
			r.alts = append(r.alts, ruleAlt{re: re, g: indexGroups(re), need: []byte(b.need)})
		}
		f.rules = append(f.rules, r)
	}

	r := f.rules
	f.auth = []*sshdRule{r[0]}
	f.userNotKnown = []*sshdRule{r[1]}
	f.userNotAllowed = []*sshdRule{r[6], r[7], r[8], r[11], r[12], r[15]}
	f.userNotKnownOrAllowed = append([]*sshdRule{r[1]}, f.userNotAllowed...)
	f.failedPub = []*sshdRule{r[2], r[3]}
	f.failed = []*sshdRule{r[3]}
	f.rootLogin = []*sshdRule{r[4]}
	f.invalidUser = []*sshdRule{r[5]}
	f.refused = []*sshdRule{r[9]}
	f.recvDisconnect = []*sshdRule{r[10], r[18]}
	f.pam = []*sshdRule{r[13]}
	f.maxAuth = []*sshdRule{r[14]}
	f.changeUser = []*sshdRule{r[16]}
	f.tooMany = []*sshdRule{r[17]}
	f.closed = []*sshdRule{r[19]}
	f.connFrom = []*sshdRule{r[21]}
	return f, nil
}

func (f *sshdFilter) Name() string { return "sshd" }

// Match implements Filter.
func (f *sshdFilter) Match(line []byte, now time.Time) (Failure, Verdict) {
	return f.match(line, now, nil)
}

// MatchAt implements AtFilter: line has no timestamp, t is its time.
func (f *sshdFilter) MatchAt(line []byte, t time.Time) (Failure, Verdict) {
	p, ok := ParseSyslogHeader(line, t)
	if !ok {
		return Failure{}, BadLine
	}
	return f.matchParsed(p, nil)
}

// matchNote records why banfleet's answer differs from Fail2Ban's regex
// result for the same line (tests use it to check every difference is one
// of these, and deliberate).
type matchNote uint8

const (
	noteNone matchNote = iota
	// noteAnchored: the address (and user) come from the anchor, not from
	// the position Fail2Ban's regex chose: the line carries injected text.
	noteAnchored
	// noteAmbiguous: several addresses are equally plausible; none is used.
	noteAmbiguous
)

// matchTrace exposes Fail2Ban-equivalent intermediate results to tests.
type matchTrace struct {
	rule   int    // index of the rule whose Fail2Ban regex matched, or -1
	ip     string // <HOST> text as Fail2Ban's regex captured it
	user   string // user as Fail2Ban's regex captured it
	nofail bool
	note   matchNote
	// reached: the line passed the prefix and program checks; msg is the
	// content Fail2Ban's prefregex would hand to the failregexes.
	reached bool
	msg     []byte
}

func (f *sshdFilter) match(line []byte, now time.Time, tr *matchTrace) (Failure, Verdict) {
	if tr != nil {
		*tr = matchTrace{rule: -1}
	}
	p, ok := ParseSyslogPrefix(line, now, f.loc)
	if !ok {
		return Failure{}, BadLine
	}
	return f.matchParsed(p, tr)
}

func (f *sshdFilter) matchParsed(p SyslogLine, tr *matchTrace) (Failure, Verdict) {
	if !isSSHDaemon(p.Daemon) {
		return Failure{}, NoMatch
	}
	msg := trimSSHDPref(p.Msg)
	if tr != nil {
		tr.reached, tr.msg = true, msg
	}
	if len(msg) == 0 || bytes.IndexByte(msg, '\n') >= 0 {
		// Fail2Ban's prefregex needs non-empty content ending at the line end.
		return Failure{}, NoMatch
	}
	for _, r := range f.candidates(msg) {
		for i := range r.alts {
			a := &r.alts[i]
			if a.need != nil && !bytes.Contains(msg, a.need) {
				continue
			}
			if loc := a.re.FindSubmatchIndex(msg); loc != nil {
				return f.resolve(r, a.g, msg, loc, p.Time, tr)
			}
		}
	}
	return Failure{}, NoMatch
}

// isSSHDaemon accepts "sshd" and OpenSSH 9.8+'s per-session "sshd-session".
// (Fail2Ban 1.0.2's _daemon is "sshd" only.)
func isSSHDaemon(d []byte) bool {
	return string(d) == "sshd" || string(d) == "sshd-session"
}

// trimSSHDPref removes sshd.conf's __pref, "(?:(?:error|fatal): (?:PAM: )?)?",
// the way the prefregex does: greedily, but never leaving the content empty.
func trimSSHDPref(msg []byte) []byte {
	var rest []byte
	switch {
	case bytes.HasPrefix(msg, []byte("error: ")):
		rest = msg[len("error: "):]
	case bytes.HasPrefix(msg, []byte("fatal: ")):
		rest = msg[len("fatal: "):]
	default:
		return msg
	}
	if len(rest) > len("PAM: ") && bytes.HasPrefix(rest, []byte("PAM: ")) {
		return rest[len("PAM: "):]
	}
	if len(rest) == 0 {
		return msg
	}
	return rest
}

// candidates returns, without allocating, the rules that can match msg, in
// Fail2Ban's order. Every normal-mode rule is anchored with ^ and starts with
// a literal, so the first bytes select a handful of rules; further cheap
// keyword checks drop lines no rule can match before any regex runs.
func (f *sshdFilter) candidates(msg []byte) []*sshdRule {
	switch msg[0] {
	case 'A':
		if hasPrefix(msg, "Authentication ") {
			return f.auth
		}
		// "Accepted …" (rule 20) only acts on multi-line state.
	case 'a':
		if hasPrefix(msg, "authentication ") {
			return f.auth
		}
	case 'C':
		switch {
		case hasPrefix(msg, "Connection closed ") || hasPrefix(msg, "Connection reset "):
			return f.closed
		case hasPrefix(msg, "Connection from "):
			return f.connFrom
		}
	case 'D':
		switch {
		case hasPrefix(msg, "Disconnecting: Too many authentication failures"):
			return f.tooMany
		case hasPrefix(msg, "Disconnecting") && bytes.Contains(msg, []byte(phraseChangeUser)):
			return f.changeUser
		case hasPrefix(msg, "Disconnected from user "):
			// Ends every normal session ("Disconnected from user U A
			// port N"); rule 19 cannot match it: "user " cannot start
			// an address.
		case hasPrefix(msg, "Disconnected "):
			return f.closed
		}
	case 'F':
		switch {
		case hasPrefix(msg, "Failed publickey for invalid user "):
			return f.failedPub
		case hasPrefix(msg, "Failed "):
			return f.failed
		}
	case 'I', 'i':
		if hasPrefix(msg[1:], "nvalid user ") || hasPrefix(msg[1:], "llegal user ") {
			return f.invalidUser
		}
	case 'R':
		switch {
		case hasPrefix(msg, "ROOT LOGIN REFUSED FROM "):
			return f.rootLogin
		case hasPrefix(msg, "Received disconnect from "):
			return f.recvDisconnect
		}
	case 'U':
		if !hasPrefix(msg, "User ") {
			return nil
		}
		allowed := bytes.Contains(msg, []byte(" not allowed because "))
		switch {
		case hasPrefix(msg, "User not known to the underlying authentication module for "):
			if allowed {
				return f.userNotKnownOrAllowed
			}
			return f.userNotKnown
		case allowed:
			return f.userNotAllowed
		}
	case 'm':
		if hasPrefix(msg, "maximum authentication attempts exceeded for ") {
			return f.maxAuth
		}
	case 'p':
		if isPamSSHDAuth(msg) {
			return f.pam
		}
	case 'r':
		if hasPrefix(msg, "refused connect from ") {
			return f.refused
		}
	}
	return nil
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// isPamSSHDAuth checks for rule 13's "pam_[a-z]+(sshd:auth):" by hand, so that
// the pam_unix session lines of every login never reach a regex.
func isPamSSHDAuth(msg []byte) bool {
	if !hasPrefix(msg, "pam_") {
		return false
	}
	i := len("pam_")
	j := i
	for j < len(msg) && msg[j] >= 'a' && msg[j] <= 'z' {
		j++
	}
	return j > i && hasPrefix(msg[j:], "(sshd:auth):")
}

// resolve turns a rule match into a verdict, applying the rule's anchoring.
func (f *sshdFilter) resolve(r *sshdRule, g groupIndex, msg []byte, loc []int, t time.Time, tr *matchTrace) (Failure, Verdict) {
	ipS, ipE, hasIP := firstSpan(loc, g, "ip4", "ip6")
	user := userText(msg, loc, g)
	// F-NOFAIL counts only when it captured something (Python truthiness).
	nfS, nfE, _ := span(loc, g["nofail"])
	nofail := nfE > nfS
	if tr != nil {
		tr.rule, tr.user, tr.nofail = r.idx, user, nofail
		if hasIP {
			tr.ip = string(msg[ipS:ipE])
		}
	}
	if r.multiLineOnly {
		return Failure{}, NoMatch
	}

	refuse := false
	uS, _, hasUser := span(loc, g["user"])
	switch r.anchor {
	case anchorRightmost:
		// With a single " from ", rule 5's leftmost and rightmost agree.
		if hasUser && (r.idx != 5 || bytes.Count(msg, []byte(" from ")) > 1) {
			s, e, pos, ok := r.right.rightmost(msg, uS, len(msg))
			if ok {
				ipS, ipE, user = s, e, string(msg[uS:pos])
			} else {
				refuse = true // cannot happen: the anchor's language is the rule's
			}
		}
	case anchorFailed:
		var ok bool
		ipS, ipE, user, ok = resolveFailed(g, msg, loc, ipS, ipE, user)
		refuse = !ok
	case anchorChangeUser:
		// The client chooses both user names; the phrase must occur once,
		// so that it is sshd's, and the address is the last one that fits
		// right before it.
		k := bytes.Index(msg, []byte(phraseChangeUser))
		if bytes.Count(msg, []byte(phraseChangeUser)) != 1 {
			refuse = true
		} else if s, e, pos, ok := r.right.rightmost(msg, uS, k); ok {
			ipS, ipE, user = s, e, string(msg[uS:pos])
		} else {
			refuse = true
		}
	}

	res := Failure{Time: t, Rule: r.idx, User: user}
	if tr != nil {
		switch {
		case refuse:
			tr.note = noteAmbiguous
		case hasIP && (string(msg[ipS:ipE]) != tr.ip || user != tr.user):
			tr.note = noteAnchored
		}
	}
	if hasIP && !refuse {
		if a, err := netip.ParseAddr(string(msg[ipS:ipE])); err == nil {
			res.Addr = a.Unmap()
		}
	}
	if nofail || r.hostless || refuse || !res.Addr.IsValid() {
		return res, Ignored
	}
	return res, Failed
}

// resolveFailed secures the address of rules 2 and 3, "Failed <method> for
// [invalid user ]<user> from <HOST> port N ssh2[: <extra>]".
//
// For a valid user the name is an account name, which a client cannot shape,
// and Fail2Ban's result stands: the first word followed by "from <HOST> …: ",
// or the last " from " with no other after it and no ':' before it.
//
// For an invalid user sshd logs whatever name the client sent, spaces and
// all, so Fail2Ban's first branch (first word of the name, then
// "from <HOST> … ssh2: ") can take text the client wrote:
//
//  1. If the line ends in "from <HOST> port N ssh2", that one is real: the
//     client cannot write after it, and no <extra> of protocol-2 sshd ends
//     that way (SSH-1's client-chosen "ruser" did; see the package doc).
//  2. Otherwise, if Fail2Ban took that first branch, every
//     "from <HOST> …: " in the line must name the same address, or none is
//     used. (Fail2Ban's other branches are unique by construction: a single
//     " from ", or the last one with none after it and no ':' before it.)
func resolveFailed(g groupIndex, msg []byte, loc []int, ipS, ipE int, user string) (int, int, string, bool) {
	uS := invalidUserStart(msg)
	if uS < 0 {
		return ipS, ipE, user, true
	}
	if s, e, pos, ok := sshdFailedEOL.rightmost(msg, uS, len(msg)); ok {
		return s, e, string(msg[uS:pos]), true
	}
	if _, _, branchA := span(loc, g["brA"]); !branchA {
		return ipS, ipE, user, true
	}
	want := msg[ipS:ipE]
	for _, c := range sshdFailedCand.FindAllSubmatchIndex(msg, -1) {
		s, e, ok := firstSpan(c, sshdFailedCandG, "ip4", "ip6")
		if ok && !sameAddr(msg[s:e], want) {
			return ipS, ipE, user, false
		}
	}
	return ipS, ipE, user, true
}

// invalidUserStart returns where the user name starts in
// "Failed <method> for invalid user <name> …", or -1 for another shape.
func invalidUserStart(msg []byte) int {
	const lead, mid = "Failed ", " for invalid user "
	i := len(lead)
	for i < len(msg) && msg[i] != ' ' {
		i++
	}
	if !hasPrefix(msg[i:], mid) {
		return -1
	}
	return i + len(mid)
}

// sameAddr compares two <HOST> texts as addresses when both parse, as
// text otherwise.
func sameAddr(a, b []byte) bool {
	x, err1 := netip.ParseAddr(string(a))
	y, err2 := netip.ParseAddr(string(b))
	if err1 == nil && err2 == nil {
		return x.Unmap() == y.Unmap()
	}
	return bytes.Equal(a, b)
}

func firstSpan(loc []int, g groupIndex, names ...string) (int, int, bool) {
	for _, n := range names {
		if s, e, ok := span(loc, g[n]); ok {
			return s, e, true
		}
	}
	return 0, 0, false
}

func groupText(msg []byte, loc []int, g groupIndex, names ...string) string {
	if s, e, ok := firstSpan(loc, g, names...); ok {
		return string(msg[s:e])
	}
	return ""
}

// userText is F-USER, falling back to F-ALT_USER when the user is empty
// (Fail2Ban's alt_ groups fill an empty value).
func userText(msg []byte, loc []int, g groupIndex) string {
	if s, e, ok := span(loc, g["user"]); ok && e > s {
		return string(msg[s:e])
	}
	if s, e, ok := span(loc, g["altuser"]); ok && e > s {
		return string(msg[s:e])
	}
	return ""
}
