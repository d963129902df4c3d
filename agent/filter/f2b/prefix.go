package f2b

// The prefregex's fast path.
//
// Most filters' prefregex is a syslog header (the date is already cut
// out), then the message: Fail2Ban's common.conf
//
//	^<F-MLFID>%(__prefix_line)s</F-MLFID>%(__pref)s<F-CONTENT>.+</F-CONTENT>$
//
// and banfleet's own filter.d/sshd.conf
//
//	^<F-MLFID>%(_head)s</F-MLFID> (?:\[ID \d+ \S+\] )?%(_level)s<F-CONTENT>.+</F-CONTENT>$
//
// Whatever its text, a prefregex of the shape "^ P (?P<content>.+)$",
// where P holds only literals, character classes and their repeats,
// optional groups, alternations and groups, runs as pyre's prefix
// program (pyre.PrefixProg): a backtracking walk over P alone, in
// Python's order, which stops at the message. It decides every line but
// pathological ones (a step bound), which go to the regex; the tests
// compare it with the regex on generated headers for every stock
// prefregex and banfleet's.
