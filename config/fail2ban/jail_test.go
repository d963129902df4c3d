package fail2ban

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func jailsByName(js []Jail) map[string]Jail {
	m := map[string]Jail{}
	for _, j := range js {
		m[j.Name] = j
	}
	return m
}

// TestLoadJailsDebian reads the real Debian configuration: only sshd is
// enabled (jail.d/defaults-debian.conf).
func TestLoadJailsDebian(t *testing.T) {
	tree := requireTree(t)
	jails, err := LoadJails(tree.ConfDir)
	require.NoError(t, err)
	require.Len(t, jails, 1)
	j := jails[0]
	require.Equal(t, "sshd", j.Name)
	require.True(t, j.Enabled)
	require.Equal(t, "sshd[mode=normal]", j.FilterSpec)
	require.Equal(t, []LogPath{{Glob: "/var/log/auth.log"}}, j.LogPath)
	require.Equal(t, "auto", j.Backend)
	require.False(t, j.Journal)
	require.Equal(t, []string{"ssh"}, j.Port)
	require.Equal(t, "tcp", j.Protocol)
	require.Equal(t, 5, j.MaxRetry)
	require.Equal(t, 10*time.Minute, j.FindTime)
	require.Equal(t, 10*time.Minute, j.BanTime)
	require.False(t, j.PermanentBan())
	require.Equal(t, "warn", j.UseDNS)
	require.Nil(t, j.IgnoreIP)
	f := j.Filter
	require.Equal(t, "sshd", f.Name)
	require.Equal(t, "normal", f.Mode)
	require.Equal(t, "file", f.Options["logtype"])
	require.Equal(t, "{^LN-BEG}", f.DatePattern)
	require.Equal(t, [][]string{{"_SYSTEMD_UNIT=sshd.service"}, {"_COMM=sshd"}}, f.JournalMatch)
	require.Len(t, f.FailRegex, 22)
	require.Contains(t, f.PrefRegex, "<F-CONTENT>.+</F-CONTENT>$")
	require.NotContains(t, f.PrefRegex, "%(")
	require.Equal(t, "^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>", f.FailRegex[len(f.FailRegex)-1])
}

// TestLoadJailsFixture lays testdata/fixture's jail.local, jail.d/custom.conf
// and filter.d/sshd.local over a copy of the Debian configuration.
func TestLoadJailsFixture(t *testing.T) {
	tree := requireTree(t)
	dir := fixtureTree(t, tree.ConfDir)
	jails, err := LoadJails(dir)
	require.NoError(t, err)
	var names []string
	for _, j := range jails {
		names = append(names, j.Name)
	}
	// in order of first appearance: jail.conf's sections, then the new ones
	require.Equal(t, []string{"sshd", "apache-auth", "nginx-http-auth", "dovecot", "postfix-sasl", "recidive",
		"custom", "sshd-journal"}, names)
	m := jailsByName(jails)

	sshd := m["sshd"]
	require.Equal(t, "sshd[mode=aggressive]", sshd.FilterSpec, "mode from jail.local")
	require.Equal(t, []string{"ssh", "2222"}, sshd.Port)
	require.Equal(t, 26*time.Hour, sshd.FindTime)
	require.Equal(t, time.Hour, sshd.BanTime, "DEFAULT of jail.local")
	require.Equal(t, []string{"127.0.0.1/8", "::1"}, sshd.IgnoreIP)
	require.Equal(t, "^banfleet test <HOST>$", sshd.Filter.FailRegex[len(sshd.Filter.FailRegex)-1], "filter.d/sshd.local")
	require.Contains(t, sshd.Filter.Files[len(sshd.Filter.Files)-1], "filter.d/sshd.local")

	sj := m["sshd-journal"]
	require.True(t, sj.Journal)
	require.Equal(t, "systemd", sj.Backend)
	require.Nil(t, sj.LogPath)
	require.Equal(t, "journal", sj.Filter.Options["logtype"])
	require.Equal(t, "ddos", sj.Filter.Mode)
	require.NotEqual(t, sshd.Filter.PrefRegex, sj.Filter.PrefRegex, "journal prefix line")

	ngx := m["nginx-http-auth"]
	require.Equal(t, []LogPath{{Glob: "/var/log/nginx/a.log", Tail: true}, {Glob: "/var/log/nginx/*error.log"}}, ngx.LogPath)

	require.True(t, m["postfix-sasl"].PermanentBan())
	require.Equal(t, -time.Second, m["postfix-sasl"].BanTime)
	require.Equal(t, "auth", m["postfix-sasl"].Filter.Mode)

	rec := m["recidive"]
	require.Equal(t, BanTimeIncrement{Increment: "true", Factor: "2"}, rec.BanTimeIncrement)
	require.Equal(t, 7*24*time.Hour, rec.BanTime, "recidive's own bantime = 1w")

	aa := m["apache-auth"]
	require.Equal(t, "^custom <HOST>$", aa.Filter.FailRegex[len(aa.Filter.FailRegex)-1])
	require.Greater(t, len(aa.Filter.FailRegex), 1, "%(known/failregex)s kept the filter's")
	require.Equal(t, "^%Y-%m-%d", aa.Filter.DatePattern)
	require.Equal(t, "no", aa.UseDNS)

	dc := m["dovecot"]
	require.Equal(t, [][]string{{"_SYSTEMD_UNIT=dovecot.service"}}, dc.Filter.JournalMatch, "jail journalmatch replaces the filter's")

	c := m["custom"]
	require.Equal(t, "", c.FilterSpec)
	require.Equal(t, []string{"^bad login from <HOST>$"}, c.Filter.FailRegex)
	require.Equal(t, []string{"1000:1010"}, c.Port)
	require.Equal(t, "udp", c.Protocol)
}

func TestLoadJailsUnit(t *testing.T) {
	jails, err := LoadJails(unitConf)
	m := jailsByName(jails)
	var names []string
	for _, j := range jails {
		names = append(names, j.Name)
	}
	require.Equal(t, []string{"t-includes", "t-nested", "t-journal", "t-journal-file", "t-init", "t-own", "t-override",
		"t-increment", "t-enabled-by-local", "t-initpref", "t-from-jaild"}, names)

	// broken jails are reported, one JailError each, naming file, line, key
	bad := map[string]error{}
	for _, e := range unjoin(err) {
		var je *JailError
		require.ErrorAs(t, e, &je)
		bad[je.Jail] = je.Err
	}
	var badNames []string
	for n := range bad {
		badNames = append(badNames, n)
	}
	sort.Strings(badNames)
	require.Equal(t, []string{"t-bad-filter", "t-bad-findtime", "t-bad-interp", "t-bad-logpath", "t-bad-maxretry",
		"t-bad-spec", "t-missing-filter", "t-none-known"}, badNames, "t-disabled's missing filter is no error")
	for name, want := range map[string]struct {
		sentinel error
		msg      string
	}{
		"t-missing-filter": {ErrNotFound, `testdata/conf/jail.conf:89: [t-missing-filter] filter: configuration not found: unable to read the filter "no-such-filter"`},
		"t-bad-interp":     {ErrInterpolation, "testdata/conf/jail.conf:95: [t-bad-interp] ignorecommand: interpolation error"},
		"t-bad-filter":     {ErrInterpolation, "testdata/conf/filter.d/t-badinterp.conf:2: [Definition] failregex"},
		"t-bad-spec":       {ErrOptionSyntax, `testdata/conf/jail.conf:105: [t-bad-spec] filter: bad option syntax: "t-init[port=22]x": unexpected option syntax`},
		"t-bad-maxretry":   {ErrValue, "testdata/conf/jail.conf:114: [t-bad-maxretry] maxretry"},
		"t-bad-findtime":   {ErrValue, "testdata/conf/jail.conf:120: [t-bad-findtime] findtime"},
		"t-bad-logpath":    {ErrValue, "testdata/conf/jail.conf:126: [t-bad-logpath] logpath"},
		"t-none-known":     {ErrInterpolation, "testdata/conf/jail.conf:142: [t-none-known] datepattern: interpolation error: %(known/usedns)s: option has no value"},
	} {
		require.ErrorIs(t, bad[name], want.sentinel, name)
		require.Contains(t, bad[name].Error(), want.msg, name)
	}
	var je *JailError
	require.True(t, errors.As(err, &je))

	inc := m["t-includes"]
	require.Equal(t, 2, inc.MaxRetry, "jail.local overrides jail.conf")
	require.Equal(t, time.Hour, inc.BanTime, "jail.local's DEFAULT")
	require.Equal(t, []LogPath{{Glob: "/var/log/test-overridden.log"}}, inc.LogPath, "paths-overrides.local (after include)")
	require.Equal(t, "2", inc.Options["maxmatches"], "DEFAULT's maxmatches = %(maxretry)s is interpolated in the jail's section")
	require.Equal(t, []string{"0:65535"}, inc.Port)

	n := m["t-nested"]
	require.Equal(t, "t-nested[mode=aggressive]", n.FilterSpec)
	require.Equal(t, []string{"http", "https", "8080"}, n.Port, "%(known/port)s in jail.d/20-override.local")
	require.Equal(t, []LogPath{{Glob: "/var/log/nested-a.log", Tail: true}, {Glob: "/var/log/nested-b*.log"}, {Glob: "/var/log/nested-c.log"}}, n.LogPath)

	require.True(t, m["t-journal"].Journal)
	require.Nil(t, m["t-journal"].LogPath)
	require.Equal(t, "journal", m["t-journal"].Filter.Options["logtype"])
	require.Equal(t, "auto", m["t-journal-file"].Backend, "%(default/backend)s")
	require.Equal(t, "file", m["t-journal-file"].Filter.Options["logtype"])

	in := m["t-init"]
	require.Equal(t, 7, in.MaxRetry)
	require.Equal(t, 26*time.Hour, in.FindTime)
	require.True(t, in.PermanentBan())
	require.Equal(t, []string{"127.0.0.1/8", "::1", "10.0.0.0/8", "192.0.2.1"}, in.IgnoreIP)
	require.Equal(t, "^hello big world port=2222 <HOST>$", in.Filter.FailRegex[0])

	own := m["t-own"]
	require.Equal(t, []string{"^own <HOST>$"}, own.Filter.FailRegex)
	require.Equal(t, 2, own.Filter.MaxLines)
	require.Equal(t, "udp", own.Protocol)

	ov := m["t-override"]
	require.Equal(t, []string{"^first <HOST>$", "^second <HOST>$", "^jail <HOST>$"}, ov.Filter.FailRegex)
	require.Equal(t, "^jail", ov.Filter.DatePattern)
	require.Equal(t, "no", ov.UseDNS)
	require.Equal(t, [][]string{{"_COMM=jail"}}, ov.Filter.JournalMatch)

	require.Equal(t, BanTimeIncrement{Increment: "true", Factor: "2", MaxTime: "5w"}, m["t-increment"].BanTimeIncrement)
	require.Equal(t, "t-nested[mode=extra]", m["t-from-jaild"].FilterSpec)

	// the filter's own prefregex, usedns and maxlines (from [Init]) win over
	// the jail's; its datepattern does not
	ip := m["t-initpref"].Filter
	require.Equal(t, "^init-pref <F-CONTENT>.+</F-CONTENT>$", ip.PrefRegex)
	require.Equal(t, "no", ip.UseDNS)
	require.Equal(t, 4, ip.MaxLines)
	require.Equal(t, "^jail", ip.DatePattern)
}

func TestLoadJailsBroken(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadJails(dir)
	require.ErrorIs(t, err, ErrNotFound)

	writeFile(t, dir+"/jail.conf", "[DEFAULT]\nenabled = true\n[a]\nfilter =\n")
	writeFile(t, dir+"/jail.local", "[a]\nmaxretry = 3\nbroken line\n")
	_, err = LoadJails(dir)
	require.ErrorIs(t, err, ErrSyntax)
	require.Contains(t, err.Error(), "jail.local:3:")
}
