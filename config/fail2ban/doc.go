// Package fail2ban reads Fail2Ban configuration directories (such as
// /etc/fail2ban) with Fail2Ban 1.0.2's exact semantics, so that banfleet can
// run the jails and filters a host already has.
//
//	jails, err := fail2ban.LoadJails("/etc/fail2ban")      // enabled jails
//	f, err := fail2ban.LoadFilter("/etc/fail2ban", "sshd[mode=aggressive]", nil)
//	k.Load(fail2ban.NewProvider("/etc/fail2ban"), nil)     // as koanf config
//
// A FilterDef holds the final strings Fail2Ban would hand to its regex
// compiler (prefregex, failregex, ignoreregex), after both interpolation
// passes; the regex tags <HOST>, <ADDR>, <F-USER>... are left for the
// regex compiler (agent/filter). The package's tests compare every filter of
// Debian's Fail2Ban 1.0.2 (every mode, both backends), every jail of its
// jail.conf, and the fixtures under testdata with what Fail2Ban's own
// readers produce (testdata/f2b_reference.py writes the golden file at test
// time from the reference tree; it is cached under .cache/f2bfixtures).
//
// # Reading files
//
// Configuration X (a filter "filter.d/sshd", "jail") is read from X.conf,
// X.d/*.conf, X.local and X.d/*.local (sorted, hidden files skipped), in
// that order. Each file's [INCLUDES] "before" and "after" files (one per
// line, relative to the including file, recursively, each followed by its
// .local) are read before and after it; a file including one of its
// includers is skipped. Files that do not exist are skipped silently.
//
// Each file is parsed like Python's configparser as Fail2Ban sets it up:
// "=" or ":" between key and value; "#" and ";" start full-line comments;
// ";" after whitespace starts an inline comment ("#" does not); keys are
// lower-cased, section names are not; lines indented deeper than the key
// continue the value (joined with "\n", empty lines kept inside, trailing
// ones dropped); a section or a key repeated within one file is an error;
// [DEFAULT] supplies defaults to every section; [Name?cond] adds its keys to
// [Name] as "key?cond". Lines end with "\n", "\r\n" or "\r".
//
// Later files override earlier ones key by key. The overridden value stays
// reachable as %(known/key)s and <known/key> (DEFAULT's as the current
// value).
//
// # Interpolation
//
// Pass 1 is configparser's %(name)s: the name is looked up, lower-cased,
// among the caller's options (a filter's arguments), then the section, then
// DEFAULT; %(__name__)s is the section's name; %(sec/opt)s reads section sec
// (raw, interpolated in the current section), %(default/opt)s DEFAULT,
// %(known/opt)s the overridden value; "%%" is "%". References nest at most
// 10 deep. A missing name is an error.
//
// Pass 2 is helpers.substituteRecursiveTags: in every combined option (the
// filter's [Definition] options, its [Init] options and the spec's
// arguments), each <name> is replaced by that option, or else by the
// [Definition] lookup of name (DEFAULT included, "sec/opt" and
// "known/opt" forms allowed), recursively and in option order, so nested
// tags such as <lt_<logtype>/__prefix_line> and <mdre-<mode>> resolve from
// the inside out. Unknown tags stay. An option referring to itself, or one
// tag substituted more than 25 times (MaxTagReplaceCount) into one value,
// is an error (ErrTagRecursion).
//
// # Filters and jails
//
// A spec name[k=v, k2="v 2"] (ExtractOptions) passes arguments that
// override the filter's same-named [Init] defaults and [Definition]
// options. logtype is "journal" for a systemd* backend, else "file", unless
// set. A jail's own prefregex, failregex, ignoreregex, maxlines,
// datepattern, usedns and journalmatch replace the filter's [Definition]
// ones (which stay reachable as %(known/failregex)s); jail.conf's [DEFAULT]
// usedns = warn is such a jail option. One quirk is kept: a prefregex,
// usedns or maxlines the filter gets from a spec argument or its [Init]
// wins over the jail's (Fail2Ban sends the jail's first), while failregex,
// ignoreregex and journalmatch from both are used. A systemd* backend
// ignores logpath. logpath holds one glob per line, optionally followed by
// " head" or " tail".
//
// Times (bantime, findtime) are Fail2Ban time strings (ParseTime): "600",
// "10m", "1h 30m", "1d12h", "-1". Jail.BanTime is negative for a permanent
// ban ("-1" gives -1s); Jail.PermanentBan reports it.
//
// # Where this package differs from Fail2Ban
//
// It is stricter where Fail2Ban would go on with a warning, fail later, or
// quietly not watch a file; each case is an error naming file, line and key:
//
//   - a file that is not UTF-8 (Fail2Ban logs an error and skips the file);
//   - an integer option (maxretry, maxmatches, maxlines) that does not
//     parse (Fail2Ban warns and uses its default);
//   - a findtime or bantime ParseTime rejects (Fail2Ban's server fails to
//     start the jail; ParseTime evaluates arithmetic only, where Fail2Ban
//     calls Python's eval);
//   - a logpath line whose last word is not head or tail, i.e. a glob with
//     a space (Fail2Ban splits it the same way and then finds no file, or
//     fails in the server);
//   - a broken jail does not stop LoadJails from returning the others
//     (Fail2Ban's client stops on interpolation errors);
//   - a value grown past 1 MiB by tag substitution is an error.
//
// Jail actions (action.d) are not read: banfleet enforces bans itself. The
// action option is still interpolated, so errors in it are reported as
// Fail2Ban would.
package fail2ban
