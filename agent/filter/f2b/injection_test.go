package f2b

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// The injection corpus: log lines of stock Fail2Ban filters in which a
// client wrote, into a field it controls, text that names another address
// (the victim) the way the daemon names the client. Every line is the cross
// product of a daemon message (injTemplates), one of its client fields, a
// way of imitating the daemon (the template's mimics), a spelling of the
// victim (injSpellings) and a separator between the imitated words
// (injSeps). The ground truth of every line: the daemon wrote the source
// (template.srcs), the client the victim.

var injFail2Ban = flag.Bool("inj.fail2ban", false, "TestInjectionCorpus: also run Fail2Ban's fail2ban-regex over the corpus and report whom it credits")

// injSpelling is one way to write the victim.
type injSpelling struct {
	name, text string
	addr       netip.Addr // the value Fail2Ban's <HOST> reads from it
}

var (
	injVictim4 = netip.MustParseAddr("192.0.2.66")
	injVictim6 = netip.MustParseAddr("2001:db8::66")
)

var injSpellings = []injSpelling{
	{"plain", "192.0.2.66", injVictim4},
	{"mapped", "::ffff:192.0.2.66", injVictim4},
	{"MAPPED", "::FFFF:192.0.2.66", injVictim4},
	{"mapped-hex", "::ffff:c000:242", injVictim4},
	{"bracket", "[192.0.2.66]", injVictim4},
	{"bracket-mapped", "[::ffff:192.0.2.66]", injVictim4},
	{"zero-padded", "192.000.002.066", injVictim4},
	{"with-port", "192.0.2.66:22", injVictim4},
	{"v6", "2001:db8::66", injVictim6},
	{"bracket-v6", "[2001:db8::66]", injVictim6},
	{"expanded-v6", "2001:0db8:0000:0000:0000:0000:0000:0066", injVictim6},
	{"upper-v6", "2001:DB8::66", injVictim6},
}

// injSeps replace the spaces of the client's imitation: ASCII space, the
// other characters Python's \s matches (Fail2Ban's regexes are Python's),
// and characters that look like a space or nothing to a reader.
var injSeps = []struct{ name, sep string }{
	{"space", " "}, {"tab", "\t"}, {"vt", "\v"}, {"ff", "\f"}, {"fs", "\x1c"}, {"us", "\x1f"},
	{"soh", "\x01"}, {"nbsp", "\u00a0"}, {"nel", "\u0085"}, {"ogham", "\u1680"}, {"emsp", "\u2003"},
	{"lsep", "\u2028"}, {"ideographic", "\u3000"}, {"zwsp", "\u200b"}, {"bom", "\ufeff"},
}

// injTemplate is one message a daemon writes about a failing client.
type injTemplate struct {
	name    string
	filters []string // filter.d specs that count the message as a failure
	// line is the whole log line: {S} where the daemon writes the source,
	// {P} a process id (one per generated line), {name} a client field.
	line   string
	srcs   []string          // how the daemon spells the source (default injSrc4)
	fields map[string]string // the client fields and their ordinary values
	// mimics: how a client imitates the daemon naming {V}; appended to a
	// field's ordinary value, with every space replaced by a separator.
	mimics []string
}

const (
	injSrc4 = "203.0.113.10"
	injSrc6 = "2001:db8:1::10"
)

var sshdModes = []string{"sshd", "sshd[mode=aggressive]"}

const (
	sysDate = "Dec  7 20:00:00 srv "
	isoDate = "2024-12-07 20:00:00 "
)

var injTemplates = []injTemplate{
	// sshd: user names of invalid users, client versions, key exchange
	// offers, disconnect reasons, hostbased client user and host
	{name: "sshd-failed-password", filters: sshdModes, srcs: []string{injSrc4, injSrc6},
		line:   sysDate + "sshd[{P}]: Failed password for invalid user {user} from {S} port 4444 ssh2",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V} port 22 ssh2", " from {V} port 22 ssh2: "}},
	{name: "sshd-failed-kbdint", filters: sshdModes,
		line:   sysDate + "sshd[{P}]: Failed keyboard-interactive/pam for invalid user {user} from {S} port 4444 ssh2",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V} port 22 ssh2: "}},
	{name: "sshd-failed-publickey", filters: sshdModes,
		line:   sysDate + "sshd[{P}]: Failed publickey for invalid user {user} from {S} port 4444 ssh2: ED25519 SHA256:Fz0bKxTq",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V} port 22 ssh2: "}},
	{name: "sshd-invalid-user", filters: sshdModes, srcs: []string{injSrc4, injSrc6},
		line:   sysDate + "sshd[{P}]: Invalid user {user} from {S} port 4444",
		fields: map[string]string{"user": "oracle"},
		mimics: []string{" from {V}", " from {V} port 22", " from {V} on"}},
	{name: "sshd-max-auth", filters: sshdModes,
		line:   sysDate + "sshd[{P}]: error: maximum authentication attempts exceeded for invalid user {user} from {S} port 4444 ssh2 [preauth]",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V} port 22 ssh2 [preauth]"}},
	{name: "sshd-closed", filters: sshdModes[1:], srcs: []string{injSrc4, injSrc6},
		line:   sysDate + "sshd[{P}]: Connection closed by invalid user {user} {S} port 4444 [preauth]",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" {V}", " {V} port 22", " {V} on"}},
	{name: "sshd-disconnected", filters: sshdModes[1:],
		line:   sysDate + "sshd[{P}]: Disconnected from invalid user {user} {S} port 4444 [preauth]",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" {V}", " {V} port 22 [preauth]"}},
	{name: "sshd-change-of-username", filters: sshdModes,
		line:   sysDate + "sshd[{P}]: Disconnecting invalid user {user} {S} port 4444: Change of username or service not allowed: ({user},ssh-connection) -> (root,ssh-connection) [preauth]",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" {V} on", " {V} port 22: Change of username or service not allowed: (x"}},
	{name: "sshd-bad-protocol", filters: sshdModes[1:],
		line:   sysDate + "sshd[{P}]: Bad protocol version identification '{version}' from {S} port 4444",
		fields: map[string]string{"version": "SSH-2.0-Go"},
		mimics: []string{"' from {V}", "' from {V} port 22 '", " from {V}"}},
	{name: "sshd-negotiate", filters: sshdModes[1:],
		line:   sysDate + "sshd[{P}]: Unable to negotiate with {S} port 4444: no matching key exchange method found. Their offer: {offer} [preauth]",
		fields: map[string]string{"offer": "diffie-hellman-group1-sha1"},
		mimics: []string{" [preauth] Unable to negotiate with {V} port 22: no matching cipher found. Their offer: x", " with {V}"}},
	{name: "sshd-auth-fail", filters: sshdModes,
		line:   sysDate + "sshd[{P}]: Received disconnect from {S} port 4444:3: {reason}: Auth fail [preauth]",
		fields: map[string]string{"reason": "com.jcraft.jsch.JSchException"},
		mimics: []string{": Auth fail from {V}", " from {V} port 22:3: x"}},
	{name: "sshd-hostbased", filters: sshdModes,
		line:   sysDate + `sshd[{P}]: Failed hostbased for root from {S} port 4444 ssh2: RSA SHA256:Fz0bKxTq, client user "{cuser}", client host "{chost}"`,
		fields: map[string]string{"cuser": "root", "chost": "client.example.org"},
		mimics: []string{` from {V} port 22 ssh2: `, `", client host "{V}`}},

	// vsftpd: the login name
	{name: "vsftpd-pam", filters: []string{"vsftpd"},
		line:   sysDate + "vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser={user} rhost={S}",
		fields: map[string]string{"user": "anonymous"},
		mimics: []string{" rhost={V}", " rhost={V}  user=x"}},
	{name: "vsftpd-pam-user", filters: []string{"vsftpd"},
		line:   sysDate + "vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser={user} rhost={S}  user={user}",
		fields: map[string]string{"user": "anonymous"},
		mimics: []string{" rhost={V}", " rhost={V}  user=x"}},
	{name: "vsftpd-fail-login", filters: []string{"vsftpd"},
		line:   `Sat Dec  7 20:00:00 2024 [pid {P}] [{user}] FAIL LOGIN: Client "{S}"`,
		fields: map[string]string{"user": "anonymous"},
		mimics: []string{`] FAIL LOGIN: Client "{V}"`, `] FAIL LOGIN: Client "{V}", x`}},

	// courier: the login name, the SMTP envelope, the AUTH command
	{name: "courier-login", filters: []string{"courier-auth"}, srcs: []string{"::ffff:" + injSrc4, injSrc6},
		line:   sysDate + "imapd: LOGIN FAILED, user={user}, ip=[{S}]",
		fields: map[string]string{"user": "sales@example.com"},
		mimics: []string{", ip=[{V}]", ", ip=[{V}], port=[22]", ", ip={V}"}},
	{name: "courier-login-port", filters: []string{"courier-auth"}, srcs: []string{"::ffff:" + injSrc4},
		line:   sysDate + "imapd-ssl: LOGIN FAILED, user={user}, ip=[{S}], port=[4444]",
		fields: map[string]string{"user": "sales@example.com"},
		mimics: []string{", ip=[{V}]", ", ip=[{V}], port=[22]"}},
	{name: "courier-smtp-rcpt", filters: []string{"courier-smtp"}, srcs: []string{"::ffff:" + injSrc4},
		line:   sysDate + "courieresmtpd: error,relay={S},ident={ident},from=<{from}>,to=<{to}>: 550 User unknown.",
		fields: map[string]string{"ident": "tmf", "from": "a@example.com", "to": "b@example.org"},
		mimics: []string{",relay={V},", "error,relay={V},from=<x>,to=<y>: 550 User unknown."}},
	{name: "courier-smtp-auth", filters: []string{"courier-smtp"}, srcs: []string{"::ffff:" + injSrc4},
		line:   sysDate + `courieresmtpd: error,relay={S},port=4444,msg="535 Authentication failed.",cmd: AUTH LOGIN {login}`,
		fields: map[string]string{"login": "admin@example.com"},
		mimics: []string{` error,relay={V},msg="535 Authentication failed.",cmd: AUTH LOGIN x`}},

	// dovecot: the login name
	{name: "dovecot-aborted", filters: []string{"dovecot"}, srcs: []string{injSrc4, injSrc6},
		line:   sysDate + "dovecot: imap-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<{user}>, method=PLAIN, rip={S}, lip=192.0.2.1, TLS, session=<a1b2c3>",
		fields: map[string]string{"user": "info@example.com"},
		mimics: []string{">, method=PLAIN, rip={V}, lip=192.0.2.1", ">, rip={V}, x=<"}},
	{name: "dovecot-pam", filters: []string{"dovecot"},
		line:   sysDate + "dovecot: auth-worker(304): pam({user},{S},<a1b2c3>): pam_authenticate() failed: Authentication failure (password mismatch?)",
		fields: map[string]string{"user": "info@example.com"},
		mimics: []string{",{V}", ",{V},<x>): pam_authenticate() failed: Authentication failure (password mismatch?) pam(x"}},
	{name: "dovecot-passwd-file", filters: []string{"dovecot"},
		line:   sysDate + "dovecot: auth: passwd-file({user},{S}): unknown user",
		fields: map[string]string{"user": "info@example.com"},
		mimics: []string{",{V}", ",{V}): unknown user passwd-file(x"}},
	{name: "dovecot-sql", filters: []string{"dovecot"},
		line:   sysDate + "dovecot: auth: sql({user},{S},<a1b2c3>): Password mismatch",
		fields: map[string]string{"user": "info@example.com"},
		mimics: []string{",{V}", ",{V},<x>): Password mismatch sql(x"}},
	{name: "dovecot-pam-unix", filters: []string{"dovecot"},
		line:   sysDate + "dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={user} rhost={S}",
		fields: map[string]string{"user": "info"},
		mimics: []string{" rhost={V}", " rhost={V}  user=x"}},

	// postfix: envelope, HELO, pipelined commands, SASL user name
	{name: "postfix-rcpt", filters: []string{"postfix"},
		line:   sysDate + "postfix/smtpd[{P}]: NOQUEUE: reject: RCPT from unknown[{S}]: 554 5.7.1 <{rcpt}>: Relay access denied; from=<{from}> to=<{rcpt}> proto=ESMTP helo=<{helo}>",
		fields: map[string]string{"rcpt": "x@example.org", "from": "a@example.com", "helo": "pc"},
		mimics: []string{" RCPT from unknown[{V}]: 554 5.7.1 <x", "; from unknown[{V}]:"}},
	{name: "postfix-pipelining", filters: []string{"postfix"},
		line:   sysDate + "postfix/smtpd[{P}]: improper command pipelining after CONNECT from unknown[{S}]: {data}",
		fields: map[string]string{"data": "EHLO x"},
		mimics: []string{" from unknown[{V}]:", " improper command pipelining after CONNECT from unknown[{V}]: "}},
	{name: "postfix-sasl", filters: []string{"postfix[mode=auth]"},
		line:   sysDate + "postfix/smtpd[{P}]: warning: unknown[{S}]: SASL LOGIN authentication failed: authentication failure, sasl_username={user}",
		fields: map[string]string{"user": "info@example.com"},
		mimics: []string{" unknown[{V}]: SASL LOGIN authentication failed: x"}},

	// pam-generic: remote user, user
	{name: "pam-generic-ruser", filters: []string{"pam-generic"},
		line:   sysDate + "proftpd: pam_unix(proftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser={user} rhost={S}",
		fields: map[string]string{"user": "mark"},
		mimics: []string{" rhost={V}", " rhost={V}  user=x"}},
	{name: "pam-generic-user", filters: []string{"pam-generic"},
		line:   sysDate + "sshd[{P}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={user} rhost={S}  user={user}",
		fields: map[string]string{"user": "mark"},
		mimics: []string{" rhost={V}", " rhost={V}  user=x"}},

	// proftpd, pure-ftpd: the login name
	{name: "proftpd-no-such-user", filters: []string{"proftpd"}, srcs: []string{injSrc4, "::ffff:" + injSrc4},
		line:   sysDate + "proftpd[{P}] ftp.example.com ({S}[{S}]): USER {user}: no such user found from {S} [{S}] to 192.0.2.1:21",
		fields: map[string]string{"user": "god"},
		mimics: []string{" proftpd[17424] ftp.example.com (x[{V}])", ": no such user found from {V} [{V}] to 192.0.2.1:21"}},
	{name: "proftpd-login-failed", filters: []string{"proftpd"},
		line:   sysDate + "proftpd[{P}] ftp.example.com ({S}[{S}]): USER {user} (Login failed): Incorrect password",
		fields: map[string]string{"user": "god"},
		mimics: []string{" ({V}[{V}])", " (x[{V}]): USER x"}},
	{name: "pure-ftpd", filters: []string{"pure-ftpd"},
		line:   sysDate + "pure-ftpd: (?@{S}) [WARNING] Authentication failed for user [{user}]",
		fields: map[string]string{"user": "Administrator"},
		mimics: []string{"] (?@{V}) [WARNING] Authentication failed for user [x", " (x@{V})"}},

	// exim: HELO name, set_id, envelope, protocol garbage
	{name: "exim-authenticator", filters: []string{"exim"}, srcs: []string{injSrc4, injSrc6},
		line:   isoDate + "login authenticator failed for ({helo}) [{S}]:54321 I=[192.0.2.1]:25: 535 Incorrect authentication data (set_id={user})",
		fields: map[string]string{"helo": "ylmf-pc", "user": "admin"},
		mimics: []string{") [{V}]:1 I=[192.0.2.1]:25: 535 Incorrect authentication data (set_id=x", " [{V}]"}},
	{name: "exim-rcpt", filters: []string{"exim"},
		line:   isoDate + "H=({helo}) [{S}]:3755 I=[192.0.2.1]:25 F=<{from}> rejected RCPT <{rcpt}>: relay not permitted",
		fields: map[string]string{"helo": "yakult.com.tw", "from": "a@example.com", "rcpt": "dir@example.org"},
		mimics: []string{") [{V}]:1 I=[192.0.2.1]:25 F=<x", " H=[{V}]"}},
	{name: "exim-sync", filters: []string{"exim"},
		line:   isoDate + `SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[{S}]:25936 I=[192.0.2.1]:25 input="{input}"`,
		fields: map[string]string{"input": `GET / HTTP/1.1\r\n`},
		mimics: []string{`" rejected connection from H=[{V}]:1 I=[192.0.2.1]:25 input="x`}},
	{name: "exim-nonmail", filters: []string{"exim"},
		line:   isoDate + `SMTP call from pc.example.net [{S}]:3767 I=[192.0.2.1]:25 dropped: too many nonmail commands (last was "{cmd}")`,
		fields: map[string]string{"cmd": "RSET"},
		mimics: []string{`") SMTP call from x [{V}]:1 I=[192.0.2.1]:25 dropped: too many nonmail commands (last was "x`, " [{V}]"}},

	// named: the query name
	{name: "named-query", filters: []string{"named-refused"}, srcs: []string{injSrc4, injSrc6},
		line:   sysDate + "named[{P}]: client @0x7f5d3c00a000 {S}#4795 ({qname}): query '{qname}/A/IN' denied",
		fields: map[string]string{"qname": "example.com"},
		mimics: []string{" client {V}#53", "/A/IN' denied client @0x1 {V}#53 (x): query 'x"}},
	{name: "named-axfr", filters: []string{"named-refused"},
		line:   sysDate + "named[{P}]: client @0x7f5d3c00a000 {S}#4795 ({qname}): zone transfer '{qname}/AXFR/IN' denied",
		fields: map[string]string{"qname": "example.com"},
		mimics: []string{" client {V}#53"}},

	// apache, nginx: user name, URL, Host, Referer
	{name: "apache-not-found", filters: []string{"apache-auth"},
		line:   "[Sat Dec 07 20:00:00.123456 2024] [auth_basic:error] [pid {P}:tid 5678] [client {S}:51380] AH01618: user {user} not found: {url}",
		fields: map[string]string{"user": "admin", "url": "/private/"},
		mimics: []string{" [client {V}:1] AH01618: user x", " [client {V}]"}},
	{name: "apache-mismatch", filters: []string{"apache-auth"},
		line:   `[Sat Dec 07 20:00:00.123456 2024] [auth_basic:error] [pid {P}] [client {S}:51390] AH01617: user {user}: authentication failure for "{url}": Password Mismatch`,
		fields: map[string]string{"user": "admin", "url": "/private/"},
		mimics: []string{" [client {V}]"}},
	{name: "nginx-mismatch", filters: []string{"nginx-http-auth"}, srcs: []string{injSrc4, injSrc6},
		line:   `2024/12/07 20:00:00 [error] {P}#0: *5 user "{user}": password mismatch, client: {S}, server: www.example.com, request: "GET {url} HTTP/1.1", host: "{host}"`,
		fields: map[string]string{"user": "admin", "url": "/private/", "host": "www.example.com"},
		mimics: []string{`": password mismatch, client: {V}, server: x, request: "GET / HTTP/1.1", host: "x`, `, client: {V}, server: x`}},
	{name: "nginx-not-found", filters: []string{"nginx-http-auth"},
		line:   `2024/12/07 20:00:00 [error] {P}#0: *5 user "{user}" was not found in "/etc/nginx/.htpasswd", client: {S}, server: www.example.com, request: "GET {url} HTTP/1.1", host: "{host}", referrer: "{ref}"`,
		fields: map[string]string{"user": "admin", "url": "/private/", "host": "www.example.com", "ref": "http://example.org/"},
		mimics: []string{`" was not found in "/x", client: {V}, server: x, request: "GET / HTTP/1.1", host: "x`}},

	// roundcube: the login name
	{name: "roundcube-imap", filters: []string{"roundcube-auth"},
		line:   sysDate + "roundcube: IMAP Error: Login failed for {user} from {S}. AUTHENTICATE PLAIN: A0002 NO Login failed. in /usr/share/roundcube/program/lib/Roundcube/rcube_imap.php on line 200 (POST /?_task=login&_action=login)",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V}."}},
	{name: "roundcube-session", filters: []string{"roundcube-auth"},
		line:   "[07-Dec-2024 20:00:00 +0000]: <a1b2c3d4> Failed login for {user} from {S} in session a1b2c3d4 (error: 0)",
		fields: map[string]string{"user": "admin"},
		mimics: []string{" from {V}", " from {V} in session x"}},

	// mysqld, sendmail: the user name
	{name: "mysqld-denied", filters: []string{"mysqld-auth"},
		line:   sysDate + "mysqld: 2024-12-07 20:00:00 8756 [Warning] Access denied for user '{user}'@'{S}' (using password: YES)",
		fields: map[string]string{"user": "root"},
		mimics: []string{"'@'{V}' (using password: YES) x"}},
	{name: "sendmail-auth", filters: []string{"sendmail-auth"},
		line:   sysDate + "sm-mta[{P}]: 4B7K00aa005133: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={user}, relay=[{S}]",
		fields: map[string]string{"user": "admin"},
		mimics: []string{", relay=[{V}]", ", relay=x [{V}]"}},
}

// injLine is one line of the corpus with its ground truth.
type injLine struct {
	tmpl          *injTemplate
	filter        string
	field, mimic  string
	spelling, sep string
	line          string
	src, victim   netip.Addr
}

// fill writes the template's line with src as the source and the fields
// given (the others take their ordinary values).
func (t *injTemplate) fill(pid int, src string, fields map[string]string) string {
	pairs := []string{"{S}", src, "{P}", fmt.Sprint(pid)}
	for k, v := range t.fields {
		if f, ok := fields[k]; ok {
			v = f
		}
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(t.line)
}

// fieldNames returns the template's client fields in order.
func (t *injTemplate) fieldNames() []string {
	names := make([]string, 0, len(t.fields))
	for k := range t.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (t *injTemplate) sources() []string {
	if len(t.srcs) == 0 {
		return []string{injSrc4}
	}
	return t.srcs
}

// injPayload is the text a client writes into a field: the ordinary value
// and an imitation of the daemon naming the victim.
func injPayload(ordinary, mimic, victim, sep string) string {
	return ordinary + strings.ReplaceAll(strings.ReplaceAll(mimic, " ", sep), "{V}", victim)
}

// injCorpus generates the corpus.
func injCorpus() []injLine {
	var out []injLine
	pid := 1000
	for i := range injTemplates {
		t := &injTemplates[i]
		fields := t.fieldNames()
		for _, src := range t.sources() {
			for _, f := range fields {
				for _, mimic := range t.mimics {
					for _, sp := range injSpellings {
						for _, sep := range injSeps {
							pid++
							line := t.fill(pid, src, map[string]string{f: injPayload(t.fields[f], mimic, sp.text, sep.sep)})
							for _, flt := range t.filters {
								out = append(out, injLine{tmpl: t, filter: flt, field: f, mimic: mimic, spelling: sp.name, sep: sep.name,
									line: line, src: netip.MustParseAddr(src).Unmap(), victim: sp.addr})
							}
						}
					}
				}
			}
		}
	}
	return out
}

var injNow = time.Date(2024, 12, 8, 0, 0, 0, 0, time.UTC)

// agentDates is the date detector the agent runs (agent/jailfilter).
func agentDates(pattern string, loc *time.Location) (DateFinder, error) {
	return date.New(date.Options{Pattern: pattern, Location: loc})
}

// injFilters compiles the corpus' filters from the reference Fail2Ban, as
// the agent does (config/fail2ban, the date detector), keyed by spec.
type injFilters map[string]*Compiled

func loadInjFilters(t testing.TB, tr *f2bref.Tree, specs []string, useDNS string, guard bool) injFilters {
	t.Helper()
	fs := injFilters{}
	for _, spec := range specs {
		if fs[spec] != nil {
			continue
		}
		def, err := fail2ban.LoadFilter(tr.ConfDir, spec, nil)
		require.NoError(t, err, spec)
		dns := useDNS
		if dns == "" {
			dns = def.UseDNS
		}
		c, err := Compile(Definition{Name: spec, PrefRegex: def.PrefRegex, FailRegex: def.FailRegex, IgnoreRegex: def.IgnoreRegex,
			MaxLines: def.MaxLines, DatePattern: def.DatePattern, UseDNS: dns, LogType: "file"},
			Options{Dates: agentDates, Location: time.UTC, AddressGuard: guard})
		require.NoError(t, err, spec)
		fs[spec] = c
	}
	return fs
}

func injSpecs() []string {
	var specs []string
	for _, t := range injTemplates {
		for _, f := range t.filters {
			if !slices.Contains(specs, f) {
				specs = append(specs, f)
			}
		}
	}
	return specs
}

// injOutcome classifies what an engine made of an injection line.
type injOutcome int

const (
	injNoMatch  injOutcome = iota // no failregex
	injDeclined                   // a failregex, no address credited
	injSource                     // credited to the source
	injVictim                     // credited to the victim
	injOther                      // credited to another address
)

func classify(r Result, l *injLine) injOutcome {
	switch {
	case r.Verdict == filter.NoMatch || r.Rule < 0:
		return injNoMatch
	case r.Verdict != filter.Failed:
		return injDeclined
	case r.Addr == l.src:
		return injSource
	case r.Addr == l.victim:
		return injVictim
	}
	return injOther
}

type injTally [injOther + 1]int

// TestInjectionCorpus: with the address guard, no line of the corpus is
// credited to the victim, nor to any address but the source. Every
// template's clean line (no injection) is a failure of its filters credited
// to the source, so the corpus exercises the rules it means to.
func TestInjectionCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus-sized: the test task runs it; -short (the race task) does not")
	}
	tr := f2bref.Require(t)
	corpus := injCorpus()
	specs := injSpecs()
	require.GreaterOrEqual(t, len(corpus), 150)
	for _, useDNS := range []string{"", "no"} {
		t.Run("usedns="+orDefault(useDNS, "default"), func(t *testing.T) {
			guarded := loadInjFilters(t, tr, specs, useDNS, true)
			plain := loadInjFilters(t, tr, specs, useDNS, false)
			// the templates as the daemons write them
			for i := range injTemplates {
				tm := &injTemplates[i]
				for _, src := range tm.sources() {
					line := tm.fill(1, src, nil)
					for _, f := range tm.filters {
						r := guarded[f].New().Process([]byte(line), injNow)
						require.Equal(t, filter.Failed, r.Verdict, "%s [%s]: %q: %+v", tm.name, f, line, r)
						require.Equal(t, netip.MustParseAddr(src).Unmap(), r.Addr, "%s [%s]: %q", tm.name, f, line)
					}
				}
			}
			perFilter := map[string]*[2]injTally{}
			var total [2]injTally
			bad := 0
			for i := range corpus {
				l := &corpus[i]
				g := guarded[l.filter].New().Process([]byte(l.line), injNow)
				u := plain[l.filter].New().Process([]byte(l.line), injNow)
				og, ou := classify(g, l), classify(u, l)
				if perFilter[l.filter] == nil {
					perFilter[l.filter] = new([2]injTally)
				}
				perFilter[l.filter][0][og]++
				perFilter[l.filter][1][ou]++
				total[0][og]++
				total[1][ou]++
				if og == injVictim || og == injOther {
					bad++
					if bad <= 40 {
						t.Errorf("%s [%s] field %s, %s, sep %s: credited %s (source %s, victim %s), rule %d\n      %q",
							l.tmpl.name, l.filter, l.field, l.spelling, l.sep, g.Addr, l.src, l.victim, g.Rule, l.line)
					}
				}
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "filter\tlines\tsource\tdeclined\tno match\tvictim\tother\t|\tunguarded: source\tvictim\tother\t")
			row := func(name string, p *[2]injTally) {
				n := 0
				for _, v := range p[0] {
					n += v
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t|\t%d\t%d\t%d\t\n", name, n, p[0][injSource], p[0][injDeclined], p[0][injNoMatch],
					p[0][injVictim], p[0][injOther], p[1][injSource], p[1][injVictim], p[1][injOther])
			}
			names := make([]string, 0, len(perFilter))
			for n := range perFilter {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				row(n, perFilter[n])
			}
			row("TOTAL", &total)
			tw.Flush()
			t.Logf("injection corpus: %d lines, %d filters, %d templates, %d spellings, %d separators (with the guard; unguarded = Fail2Ban's reading)\n%s",
				len(corpus), len(perFilter), len(injTemplates), len(injSpellings), len(injSeps), b.String())
			require.Zero(t, bad, "lines credited to the victim or another address")
		})
	}
	if *injFail2Ban {
		injRunFail2Ban(t, tr, corpus)
	}
}

// injExamples: lines the guard once credited to the victim (the brief's
// measurements and the fuzzer's findings, testdata/fuzz/FuzzInjection);
// Fail2Ban's reading (the engine without the guard) credits the victim on
// each.
var injExamples = []struct{ name, filter, line, src, victim string }{
	{"courier: mapped addresses in the user name", "courier-auth",
		sysDate + "imapd: LOGIN FAILED, user=x, ip=[::ffff:192.0.2.66], ip=[::ffff:203.0.113.10]", "203.0.113.10", "192.0.2.66"},
	{"courier: a bracket of the user name's own", "courier-auth",
		sysDate + "imapd: LOGIN FAILED, user=sales@example.com, ip=[[192.0.2.66], ip=[2001:db8:1::10]", "2001:db8:1::10", "192.0.2.66"},
	{"sshd: bracketed address in the user name", "sshd",
		sysDate + "sshd[1234]: Failed password for invalid user x from [192.0.2.66] port 22 ssh2: from 203.0.113.10 port 5555 ssh2", "203.0.113.10", "192.0.2.66"},
	{"sshd: bracketed IPv6 in the user name", "sshd",
		sysDate + "sshd[1234]: Failed password for invalid user x from [2001:db8::66] port 22 ssh2: from 203.0.113.10 port 5555 ssh2", "203.0.113.10", "2001:db8::66"},
	{"sshd: mapped address in the user name", "sshd[mode=aggressive]",
		sysDate + "sshd[1234]: Connection closed by invalid user x ::ffff:192.0.2.66 on 203.0.113.10 port 4444 [preauth]", "203.0.113.10", "192.0.2.66"},
	{"dovecot: another rule's message in the user name", "dovecot",
		sysDate + "dovecot: auth-worker(304): pam(info@example.com,2001:DB8::660): Password mismatch,203.0.113.10,<a1b2c3>): pam_authenticate() failed: Authentication failure (password mismatch?)", "203.0.113.10", "2001:db8::660"},
	{"nginx: a Host header naming another client", "nginx-http-auth",
		`2024/12/07 20:00:00 [error] 1#0: *5 user "admin": password mismatch, client: 203.0.113.10, server: www.example.com, request: "GET / HTTP/1.1", host: "www.example.com": password mismatch, client: [2001:db8::66], server: x, request: "GET / HTTP/1.1", host: "x"`, "203.0.113.10", "2001:db8::66"},
}

func TestInjectionExamples(t *testing.T) {
	tr := f2bref.Require(t)
	var specs []string
	for _, e := range injExamples {
		specs = append(specs, e.filter)
	}
	guarded := loadInjFilters(t, tr, specs, "", true)
	plain := loadInjFilters(t, tr, specs, "", false)
	for _, e := range injExamples {
		t.Run(e.name, func(t *testing.T) {
			victim := netip.MustParseAddr(e.victim)
			u := plain[e.filter].New().Process([]byte(e.line), injNow)
			require.Equal(t, filter.Failed, u.Verdict, "Fail2Ban's reading")
			require.Equal(t, victim, u.Addr, "Fail2Ban's reading")
			g := guarded[e.filter].New().Process([]byte(e.line), injNow)
			require.Equal(t, u.Rule, g.Rule, "the guard never changes the rule")
			if g.Verdict == filter.Failed {
				require.Equal(t, netip.MustParseAddr(e.src), g.Addr)
			}
			require.NotEqual(t, victim, g.Addr)
		})
	}
}

// FuzzInjection: the fuzzer writes a client field of a corpus template
// (text where "{V}" stands for the victim in one of injSpellings and every
// space may become one of injSeps) and the daemon's line is built around
// the true source. The guarded engine, run as the agent runs it, credits
// the source or nobody (with the filter's usedns and with usedns = no):
// anything else credited is an address the client chose.
func FuzzInjection(f *testing.F) {
	tr := f2bref.Require(f)
	byDNS := []injFilters{loadInjFilters(f, tr, injSpecs(), "", true), loadInjFilters(f, tr, injSpecs(), "no", true)}
	for i, tm := range injTemplates {
		for j := range tm.fieldNames() {
			for k, mimic := range tm.mimics {
				f.Add(uint8(i), uint8(j), uint8(i+k), uint8(0), mimic)
			}
		}
	}
	f.Fuzz(func(t *testing.T, ti, fi, spi, sepi uint8, text string) {
		if len(text) > 300 || strings.ContainsAny(text, "\n\r") {
			return // a daemon writes one line; \r ends a line for Fail2Ban
		}
		tm := &injTemplates[int(ti)%len(injTemplates)]
		names := tm.fieldNames()
		field := names[int(fi)%len(names)]
		srcs := tm.sources()
		src := srcs[int(spi>>4)%len(srcs)]
		sp := injSpellings[int(spi)%len(injSpellings)]
		sep := injSeps[int(sepi)%len(injSeps)]
		line := []byte(tm.fill(1, src, map[string]string{field: injPayload(tm.fields[field], text, sp.text, sep.sep)}))
		want := netip.MustParseAddr(src).Unmap()
		for _, filters := range byDNS {
			for _, spec := range tm.filters {
				r := filters[spec].New().Process(line, injNow)
				if r.Verdict == filter.Failed && r.Addr != want {
					t.Fatalf("%s [%s] field %s: credited %s (rule %d), the daemon wrote %s\n%q", tm.name, spec, field, r.Addr, r.Rule, want, line)
				}
			}
		}
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// injRunFail2Ban runs Fail2Ban's fail2ban-regex (--usedns=no, first
// matching failregex as the daemon) over the corpus, filter by filter, and
// reports whom it credits.
func injRunFail2Ban(t *testing.T, tr *f2bref.Tree, corpus []injLine) {
	const begin, end = "@@bf@@\t", "\t@@end@@"
	byFilter := map[string][]int{}
	for i := range corpus {
		byFilter[corpus[i].filter] = append(byFilter[corpus[i].filter], i)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "filter\tlines\tsource\tvictim\tother\tnobody\t")
	var total injTally
	for _, spec := range injSpecs() {
		idx := byFilter[spec]
		path := filepath.Join(t.TempDir(), "inj.log")
		var lines strings.Builder
		pending := map[string][]int{} // line text -> corpus indexes not yet credited
		for _, i := range idx {
			lines.WriteString(corpus[i].line + "\n")
			pending[corpus[i].line] = append(pending[corpus[i].line], i)
		}
		require.NoError(t, os.WriteFile(path, []byte(lines.String()), 0o600))
		out, err := tr.Regex("-c", tr.ConfDir, "--usedns=no", "-o", begin+"<ip>\t<matches>"+end, path, spec).Output()
		require.NoError(t, err, spec)
		var tally injTally
		credited := 0
		for _, rec := range strings.Split(string(out), begin)[1:] {
			rec, _, _ = strings.Cut(rec, end)
			ipText, matches, _ := strings.Cut(rec, "\t")
			last := matches[strings.LastIndexByte(matches, '\n')+1:]
			q := pending[last]
			if len(q) == 0 {
				t.Logf("%s: Fail2Ban credited %s for a line not in the corpus: %q", spec, ipText, last)
				continue
			}
			l := &corpus[q[0]]
			pending[last] = q[1:]
			credited++
			switch a := looseAddr([]byte(ipText)); a {
			case l.src:
				tally[injSource]++
			case l.victim:
				tally[injVictim]++
			default:
				tally[injOther]++
			}
		}
		tally[injNoMatch] = len(idx) - credited
		for k, v := range tally {
			total[k] += v
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", spec, len(idx), tally[injSource], tally[injVictim], tally[injOther], tally[injNoMatch])
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\t\n", len(corpus), total[injSource], total[injVictim], total[injOther], total[injNoMatch])
	tw.Flush()
	t.Logf("Fail2Ban (fail2ban-regex --usedns=no) on the injection corpus:\n%s", b.String())
}
