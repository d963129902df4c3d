package authlog

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A scenario is one connection, session or job: the lines it logs, with
// their delays. Scenarios run concurrently, so their lines interleave.
type scenario struct {
	name   string
	weight float64
	attack bool   // an sshd connection from an attacker (s.addr, s.pid)
	kinds  []Kind // the kinds it can produce (for Options.Kinds)
	build  func(s *script)
}

func (sc *scenario) produces(want []Kind) bool {
	for _, k := range want {
		if slices.Contains(sc.kinds, k) {
			return true
		}
	}
	return false
}

// script collects a scenario's lines.
type script struct {
	g    *generator
	at   int64 // µs since Options.Start
	addr netip.Addr
	port int
	pid  int
	tag  string
	// victim, in an injection scenario, is the address the client writes
	// into its text; every line of the connection that shows it is marked.
	victim netip.Addr
	lines  []pending
}

func (s *script) rand() *rand.Rand { return s.g.r }

// sshd makes the script an sshd connection: a new pid, a client port.
func (s *script) sshd() {
	s.pid = s.g.newPID()
	s.tag = "sshd[" + strconv.Itoa(s.pid) + "]"
	s.port = 1024 + s.rand().IntN(64512)
}

// wait advances the script's clock by an exponential delay of mean d.
func (s *script) wait(d time.Duration) {
	s.at += int64(s.rand().ExpFloat64() * float64(d/time.Microsecond))
}

// log adds an sshd line of the connection.
func (s *script) log(k Kind, msg string) {
	p := pending{at: s.at, kind: k, tag: s.tag, msg: msg, addr: s.addr, conn: s.pid}
	if s.victim.IsValid() && strings.Contains(msg, s.victim.String()) {
		p.inj = s.victim
	}
	s.lines = append(s.lines, p)
}

// note adds a noise line with its own tag.
func (s *script) note(tag string, k Kind, msg string) {
	s.lines = append(s.lines, pending{at: s.at, kind: k, tag: tag, msg: msg})
}

// a is the client address, ap "A port N", from " from A port N".
func (s *script) a() string    { return s.addr.String() }
func (s *script) ap() string   { return s.a() + " port " + strconv.Itoa(s.port) }
func (s *script) from() string { return " from " + s.ap() }

func (s *script) chance(p float64) bool { return s.rand().Float64() < p }

func (s *script) one(list ...string) string { return list[s.rand().IntN(len(list))] }

func (g *generator) newPID() int {
	g.nextPID += 1 + g.r.IntN(60)
	if g.nextPID > 4_194_304 {
		g.nextPID = 300 + g.r.IntN(1000)
	}
	return g.nextPID
}

// sshUser is how sshd logs a client-chosen user name ("%.100s", then the
// whole message goes through strnvis with VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL).
func sshUser(raw string) string {
	if len(raw) > 100 {
		raw = raw[:100]
	}
	return vis(raw)
}

// vis escapes like OpenSSH's log.c: printable ASCII stays, a backslash is
// doubled, C escapes for \n \r \t \a \b \v \f \0, octal for other bytes.
func vis(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\a':
			b.WriteString(`\a`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\v':
			b.WriteString(`\v`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte('\\')
			b.WriteByte('0' + c>>6)
			b.WriteByte('0' + (c>>3)&7)
			b.WriteByte('0' + c&7)
		}
	}
	return b.String()
}

// Names attackers try; most do not exist on the host.
var invalidNames = []string{
	"admin", "test", "user", "oracle", "postgres", "ubuntu", "guest", "ftpuser",
	"git", "pi", "support", "deploy", "hadoop", "minecraft", "ts3", "nagios",
	"tomcat", "mysql", "jenkins", "ansible", "dev", "steam", "usuario", "123",
	"test1", "administrator", "ftp", "sol", "debian", "centos", "es", "elastic",
	"odoo", "vagrant", "docker", "zabbix", "teamspeak", "user1", "testuser",
	"sshd", "Admin", "ADMIN", "0", "a", "server", "www", "web", "demo",
}

// Accounts that exist on the host.
var validNames = []string{"root", "root", "root", "root", "root", "root", "root", "postgres", "alice", "backup"}

const pamAuthFailure = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="

func (s *script) invalidName() string { return invalidNames[s.rand().IntN(len(invalidNames))] }
func (s *script) validName() string   { return validNames[s.rand().IntN(len(validNames))] }

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// fingerprint is "TYPE SHA256:<43 base64 characters>".
func (s *script) fingerprint() string {
	var b strings.Builder
	b.WriteString(s.one("RSA", "RSA", "ED25519", "ECDSA"))
	b.WriteString(" SHA256:")
	for range 43 {
		b.WriteByte(b64[s.rand().IntN(64)])
	}
	return b.String()
}

// closeInvalid ends a connection of an invalid user u the ways sshd 9.x does.
func (s *script) closeInvalid(u string) {
	s.wait(2 * time.Second)
	if s.chance(0.5) {
		s.log(ClosedPreauth, "Connection closed by invalid user "+u+" "+s.ap()+" [preauth]")
		return
	}
	s.log(DisconnectBye, "Received disconnect from "+s.ap()+":11: Bye Bye [preauth]")
	s.log(ClosedPreauth, "Disconnected from invalid user "+u+" "+s.ap()+" [preauth]")
}

// closeAuthenticating ends a connection of an existing user u.
func (s *script) closeAuthenticating(u string) {
	s.wait(2 * time.Second)
	switch s.rand().IntN(3) {
	case 0:
		s.log(ClosedPreauth, "Connection closed by authenticating user "+u+" "+s.ap()+" [preauth]")
	case 1:
		s.log(DisconnectBye, "Received disconnect from "+s.ap()+":11: Bye Bye [preauth]")
		s.log(ClosedPreauth, "Disconnected from authenticating user "+u+" "+s.ap()+" [preauth]")
	default:
		s.log(DisconnectBye, "Received disconnect from "+s.ap()+":11:  [preauth]")
		s.log(ClosedPreauth, "Disconnected from authenticating user "+u+" "+s.ap()+" [preauth]")
	}
}

// passwordTries is how many passwords a bot tries on one connection.
func (s *script) passwordTries() int {
	if s.chance(0.15) {
		return 6 // a persistent bot, up to MaxAuthTries
	}
	n := 1
	for n < 6 && s.chance(0.35) {
		n++
	}
	return n
}

var attackScenarios = []scenario{
	{name: "invalid-user-password", weight: 30, attack: true,
		kinds: []Kind{InvalidUser, FailedPasswordInvalid, MaxAuthAttempts, PamAuthFailure, PreauthOther, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.invalidName()
			s.log(InvalidUser, "Invalid user "+u+s.from())
			n := s.passwordTries()
			for i := range n {
				s.wait(1500 * time.Millisecond)
				s.log(PreauthOther, "pam_unix(sshd:auth): check pass; user unknown")
				if i == 0 {
					s.log(PamAuthFailure, pamAuthFailure+s.a())
				}
				s.wait(2 * time.Second)
				s.log(FailedPasswordInvalid, "Failed password for invalid user "+u+s.from()+" ssh2")
			}
			if n == 6 {
				s.wait(time.Second)
				s.log(MaxAuthAttempts, "error: maximum authentication attempts exceeded for invalid user "+u+s.from()+" ssh2 [preauth]")
				s.log(PreauthOther, "Disconnecting invalid user "+u+" "+s.ap()+": Too many authentication failures [preauth]")
			}
			if n > 1 {
				s.log(PreauthOther, "PAM "+strconv.Itoa(n-1)+" more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost="+s.a())
			}
			if n < 6 {
				s.closeInvalid(u)
			}
		}},
	{name: "valid-user-password", weight: 22, attack: true,
		kinds: []Kind{FailedPassword, MaxAuthAttempts, PamAuthFailure, PreauthOther, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.validName()
			n := s.passwordTries()
			s.wait(1500 * time.Millisecond)
			s.log(PamAuthFailure, pamAuthFailure+s.a()+"  user="+u)
			for i := range n {
				if i > 0 {
					s.wait(1500 * time.Millisecond)
				}
				s.wait(2 * time.Second)
				s.log(FailedPassword, "Failed password for "+u+s.from()+" ssh2")
			}
			if n == 6 {
				s.wait(time.Second)
				s.log(MaxAuthAttempts, "error: maximum authentication attempts exceeded for "+u+s.from()+" ssh2 [preauth]")
				s.log(PreauthOther, "Disconnecting authenticating user "+u+" "+s.ap()+": Too many authentication failures [preauth]")
				s.log(PreauthOther, "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost="+s.a()+"  user="+u)
				s.log(PreauthOther, "PAM service(sshd) ignoring max retries; 6 > 3")
				return
			}
			if n > 1 {
				s.log(PreauthOther, "PAM "+strconv.Itoa(n-1)+" more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost="+s.a()+"  user="+u)
			}
			s.closeAuthenticating(u)
		}},
	{name: "invalid-user-probe", weight: 12, attack: true,
		kinds: []Kind{InvalidUser, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.invalidName()
			s.log(InvalidUser, "Invalid user "+u+s.from())
			s.closeInvalid(u)
		}},
	{name: "scanner", weight: 8, attack: true,
		kinds: []Kind{PreauthOther, ClosedPreauth},
		build: func(s *script) {
			switch s.rand().IntN(7) {
			case 0:
				s.log(PreauthOther, "error: kex_exchange_identification: Connection closed by remote host")
				s.log(ClosedPreauth, "Connection closed by "+s.ap())
			case 1:
				s.log(PreauthOther, "error: kex_exchange_identification: read: Connection reset by peer")
				s.log(ClosedPreauth, "Connection reset by "+s.ap())
			case 2:
				s.log(PreauthOther, `error: kex_exchange_identification: client sent invalid protocol identifier "`+s.one("GET / HTTP/1.1", "MGLNDD_192.0.2.1_22", "\\026\\003\\001")+`"`)
				s.log(PreauthOther, "banner exchange: Connection from "+s.ap()+": invalid format")
			case 3:
				s.log(PreauthOther, "error: kex_exchange_identification: banner line contains invalid characters")
				s.log(PreauthOther, "banner exchange: Connection from "+s.ap()+": invalid format")
			case 4:
				s.wait(500 * time.Millisecond)
				s.log(PreauthOther, "Unable to negotiate with "+s.ap()+": no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]")
			case 5:
				s.wait(120 * time.Second)
				s.log(PreauthOther, "fatal: Timeout before authentication for "+s.ap())
			default:
				s.wait(time.Second)
				s.log(ClosedPreauth, s.one("Connection closed by ", "Connection reset by ")+s.ap()+" [preauth]")
			}
		}},
	{name: "invalid-user-publickey", weight: 6, attack: true,
		kinds: []Kind{InvalidUser, FailedPublickeyInvalid, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.invalidName()
			s.log(InvalidUser, "Invalid user "+u+s.from())
			for range 1 + s.rand().IntN(2) {
				s.wait(300 * time.Millisecond)
				s.log(FailedPublickeyInvalid, "Failed publickey for invalid user "+u+s.from()+" ssh2: "+s.fingerprint())
			}
			s.closeInvalid(u)
		}},
	{name: "valid-user-publickeys", weight: 3, attack: true,
		kinds: []Kind{FailedPublickey, TooManyAuthFailures, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.one("root", "root", "git")
			n := 2 + s.rand().IntN(5)
			for range n {
				s.wait(300 * time.Millisecond)
				s.log(FailedPublickey, "Failed publickey for "+u+s.from()+" ssh2: "+s.fingerprint())
			}
			if s.chance(0.7) {
				// OpenSSH before 7.x; still in Fail2Ban's filter.
				s.log(TooManyAuthFailures, "Disconnecting: Too many authentication failures for "+u+" [preauth]")
				s.wait(time.Second)
				s.log(ClosedPreauth, "Connection closed by "+s.ap()+" [preauth]")
				return
			}
			s.closeAuthenticating(u)
		}},
	{name: "keyboard-interactive", weight: 4, attack: true,
		kinds: []Kind{InvalidUser, FailedKbdInt, PamAuthFailure, PreauthOther, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			if s.chance(0.5) {
				u := s.invalidName()
				s.log(InvalidUser, "Invalid user "+u+s.from())
				s.wait(2 * time.Second)
				s.log(PreauthOther, "pam_unix(sshd:auth): check pass; user unknown")
				s.log(PamAuthFailure, pamAuthFailure+s.a())
				s.wait(2 * time.Second)
				s.log(FailedKbdInt, "Failed keyboard-interactive/pam for invalid user "+u+s.from()+" ssh2")
				s.closeInvalid(u)
				return
			}
			u := s.validName()
			s.wait(2 * time.Second)
			s.log(PamAuthFailure, pamAuthFailure+s.a()+"  user="+u)
			s.wait(2 * time.Second)
			s.log(FailedKbdInt, "Failed keyboard-interactive/pam for "+u+s.from()+" ssh2")
			s.closeAuthenticating(u)
		}},
	{name: "user-not-allowed", weight: 4, attack: true,
		kinds: []Kind{NotInAllowUsers, InDenyUsers, NotInAnyGroup, InDenyGroups, NotInAllowGroups, FailedPasswordInvalid, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.one("root", "root", "postgres", "www-data", "backup")
			var k Kind
			var why string
			switch s.rand().IntN(5) {
			case 0:
				k, why = NotInAllowUsers, "not listed in AllowUsers"
			case 1:
				k, why = InDenyUsers, "listed in DenyUsers"
			case 2:
				k, why = NotInAnyGroup, "not in any group"
			case 3:
				k, why = InDenyGroups, "a group is listed in DenyGroups"
			default:
				k, why = NotInAllowGroups, "none of user's groups are listed in AllowGroups"
			}
			s.log(k, "User "+u+" from "+s.a()+" not allowed because "+why)
			if s.chance(0.5) {
				s.wait(2 * time.Second)
				s.log(FailedPasswordInvalid, "Failed password for invalid user "+u+s.from()+" ssh2")
			}
			s.closeInvalid(u)
		}},
	{name: "account-locked", weight: 1.5, attack: true,
		kinds: []Kind{AccountLocked, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.one("root", "mysql", "postgres")
			s.log(AccountLocked, "User "+u+" not allowed because account is locked")
			s.closeInvalid(u)
		}},
	{name: "pam-auth-failure", weight: 1.5, attack: true,
		kinds: []Kind{AuthFailure, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			s.wait(2 * time.Second)
			if s.chance(0.5) {
				u := s.validName()
				s.log(AuthFailure, "error: PAM: "+s.one("Authentication failure", "authentication error")+" for "+u+" from "+s.a())
				s.closeAuthenticating(u)
				return
			}
			u := s.invalidName()
			s.log(AuthFailure, "error: PAM: Authentication failure for illegal user "+u+" from "+s.a())
			s.closeInvalid(u)
		}},
	{name: "pam-user-not-known", weight: 1, attack: true,
		kinds: []Kind{UserNotKnown, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			u := s.invalidName()
			s.wait(2 * time.Second)
			s.log(UserNotKnown, "error: PAM: User not known to the underlying authentication module for illegal user "+u+" from "+s.a())
			s.closeInvalid(u)
		}},
	{name: "root-login-refused", weight: 0.7, attack: true,
		kinds: []Kind{RootLoginRefused, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			if s.chance(0.5) {
				s.log(RootLoginRefused, "ROOT LOGIN REFUSED FROM "+s.a())
			} else {
				s.log(RootLoginRefused, "ROOT LOGIN REFUSED FROM "+s.ap()+" [preauth]")
			}
			s.closeAuthenticating("root")
		}},
	{name: "tcp-wrappers-refused", weight: 1.5, attack: true,
		kinds: []Kind{RefusedConnect},
		build: func(s *script) {
			a := s.a()
			if s.addr.Is4() && s.chance(0.3) {
				a = "::ffff:" + a // sshd listening on a dual-stack socket
			}
			s.log(RefusedConnect, "refused connect from "+a+" ("+a+")")
		}},
	{name: "jsch-auth-fail", weight: 1.5, attack: true,
		kinds: []Kind{FailedPassword, PamAuthFailure, AuthFailDisconnect, ClosedPreauth},
		build: func(s *script) {
			if s.chance(0.5) {
				s.wait(1500 * time.Millisecond)
				s.log(PamAuthFailure, pamAuthFailure+s.a()+"  user=root")
				s.wait(2 * time.Second)
				s.log(FailedPassword, "Failed password for root"+s.from()+" ssh2")
			}
			s.wait(200 * time.Millisecond)
			s.log(AuthFailDisconnect, "error: Received disconnect from "+s.ap()+":3: com.jcraft.jsch.JSchException: Auth fail [preauth]")
			s.log(ClosedPreauth, "Disconnected from authenticating user root "+s.ap()+" [preauth]")
		}},
	{name: "change-of-username", weight: 1, attack: true,
		kinds: []Kind{InvalidUser, ChangeOfUsername},
		build: func(s *script) {
			if s.chance(0.7) {
				u := s.invalidName()
				s.log(InvalidUser, "Invalid user "+u+s.from())
				s.wait(time.Second)
				s.log(ChangeOfUsername, "Disconnecting invalid user "+u+" "+s.ap()+": Change of username or service not allowed: ("+u+",ssh-connection) -> (root,ssh-connection) [preauth]")
				return
			}
			s.wait(time.Second)
			s.log(ChangeOfUsername, "Disconnecting authenticating user root "+s.ap()+": Change of username or service not allowed: (root,ssh-connection) -> (admin,ssh-connection) [preauth]")
		}},
}

// injectedName returns a user name carrying victim v, as attackers write
// them to steer a filter's <HOST> (raw: sshUser escapes it).
func (s *script) injectedName(v netip.Addr) string {
	vs := v.String()
	return s.one(
		"' from "+vs+" port 22 ssh2: '",
		"x from "+vs+" port 22 ssh2: x",
		"x from "+vs,
		"root from "+vs+" port 22 ssh2",
		"x\nsshd[1]: Failed password for root from "+vs+" port 22 ssh2",
	)
}

// pickVictim makes the script an injection attempt against a victim.
func (s *script) pickVictim() netip.Addr {
	s.victim = Victims[s.rand().IntN(len(Victims))]
	return s.victim
}

var injectScenarios = []scenario{
	{name: "inject-user-password", weight: 3, attack: true,
		kinds: []Kind{InjectInvalidUser, InjectFailedPassword, InjectClosed, PamAuthFailure, PreauthOther},
		build: func(s *script) {
			v := s.pickVictim()
			u := sshUser(s.injectedName(v))
			s.log(InjectInvalidUser, "Invalid user "+u+s.from())
			s.wait(1500 * time.Millisecond)
			s.log(PreauthOther, "pam_unix(sshd:auth): check pass; user unknown")
			s.log(PamAuthFailure, pamAuthFailure+s.a())
			s.wait(2 * time.Second)
			s.log(InjectFailedPassword, "Failed password for invalid user "+u+s.from()+" ssh2")
			s.wait(2 * time.Second)
			s.log(InjectClosed, "Connection closed by invalid user "+u+" "+s.ap()+" [preauth]")
		}},
	{name: "inject-change-of-username", weight: 1, attack: true,
		kinds: []Kind{InjectInvalidUser, InjectChangeUsername},
		build: func(s *script) {
			v := s.pickVictim()
			u := sshUser("x " + v.String() + " on")
			s.log(InjectInvalidUser, "Invalid user "+u+s.from())
			s.wait(time.Second)
			s.log(InjectChangeUsername, "Disconnecting invalid user "+u+" "+s.ap()+": Change of username or service not allowed: ("+u+",ssh-connection) -> (root,ssh-connection) [preauth]")
		}},
	{name: "inject-closed", weight: 1, attack: true,
		kinds: []Kind{InjectInvalidUser, InjectClosed},
		build: func(s *script) {
			v := s.pickVictim()
			u := sshUser("x " + v.String() + " on")
			s.log(InjectInvalidUser, "Invalid user "+u+s.from())
			s.wait(2 * time.Second)
			s.log(InjectClosed, "Connection closed by invalid user "+u+" "+s.ap()+" [preauth]")
		}},
	{name: "inject-pam-illegal-user", weight: 1, attack: true,
		kinds: []Kind{InjectAuthFailure, DisconnectBye, ClosedPreauth},
		build: func(s *script) {
			v := s.pickVictim()
			u := sshUser(s.one("x from "+v.String(), "x from "+v.String()+" via", "x from "+v.String()+" port 22"))
			s.wait(2 * time.Second)
			s.log(InjectAuthFailure, "error: PAM: Authentication failure for illegal user "+u+" from "+s.a())
			s.closeInvalid(u)
		}},
	{name: "inject-disconnect-reason", weight: 1, attack: true,
		kinds: []Kind{InjectDisconnect, ClosedPreauth},
		build: func(s *script) {
			v := s.pickVictim()
			s.wait(3 * time.Second)
			s.log(InjectDisconnect, "Received disconnect from "+s.ap()+":11: "+vis("Failed password for root from "+v.String()+" port 22 ssh2")+" [preauth]")
			s.log(ClosedPreauth, "Disconnected from authenticating user root "+s.ap()+" [preauth]")
		}},
	{name: "inject-banner", weight: 1, attack: true,
		kinds: []Kind{InjectBanner, PreauthOther},
		build: func(s *script) {
			v := s.pickVictim()
			id := s.one("Failed password for root from "+v.String()+" port 22 ssh2", "SSH-2.x from "+v.String()+" port 22 ssh2")
			if strings.HasPrefix(id, "SSH-") {
				s.log(InjectBanner, "error: Bad remote protocol version identification: '"+vis(id)+"'")
			} else {
				s.log(InjectBanner, `error: kex_exchange_identification: client sent invalid protocol identifier "`+vis(id)+`"`)
			}
			s.log(PreauthOther, "banner exchange: Connection from "+s.ap()+": invalid format")
		}},
}

var (
	legitUsers = []struct {
		name string
		uid  int
	}{{"alice", 1000}, {"bob", 1001}, {"carol", 1002}, {"backup", 34}}
	cronJobs = []string{
		"command -v debian-sa1 > /dev/null && debian-sa1 1 1",
		"   cd / && run-parts --report /etc/cron.hourly",
		"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
		"/usr/local/bin/backup.sh >/dev/null 2>&1",
		"test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
	}
	sudoCmds = []string{
		"/usr/bin/apt update", "/usr/bin/apt upgrade -y", "/usr/bin/systemctl restart nginx",
		"/usr/bin/journalctl -u ssh", "/usr/bin/tail -f /var/log/auth.log", "/usr/sbin/ufw status",
		"/usr/bin/docker ps", "/usr/bin/vim /etc/ssh/sshd_config",
	}
	systemdUnits = [][2]string{
		{"apt-daily.service", "Daily apt download activities"},
		{"apt-daily-upgrade.service", "Daily apt upgrade and clean activities"},
		{"systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"},
		{"man-db.service", "Daily man-db regeneration"},
		{"logrotate.service", "Rotate log files"},
		{"sysstat-collect.service", "system activity accounting tool"},
	}
)

const logindTag = "systemd-logind[612]"

var noiseScenarios = []scenario{
	{name: "cron", weight: 35, kinds: []Kind{CronSession, CronCmd},
		build: func(s *script) {
			tag := "CRON[" + strconv.Itoa(s.g.newPID()) + "]"
			u, uid := "root", "0"
			if s.chance(0.1) {
				u, uid = "www-data", "33"
			}
			s.note(tag, CronSession, "pam_unix(cron:session): session opened for user "+u+"(uid="+uid+") by (uid=0)")
			s.note(tag, CronCmd, "("+u+") CMD ("+s.one(cronJobs...)+")")
			s.wait(20 * time.Second)
			s.note(tag, CronSession, "pam_unix(cron:session): session closed for user "+u)
		}},
	{name: "ssh-login", weight: 10, kinds: []Kind{SSHDAccepted, SSHDSession, Logind, Systemd},
		build: func(s *script) {
			lu := legitUsers[s.rand().IntN(len(legitUsers))]
			u, uid := lu.name, strconv.Itoa(lu.uid)
			s.addr = legit[s.rand().IntN(len(legit))]
			s.sshd()
			sess := strconv.Itoa(s.g.nextSession)
			s.g.nextSession++
			if s.chance(0.8) {
				s.note(s.tag, SSHDAccepted, "Accepted publickey for "+u+s.from()+" ssh2: "+s.fingerprint())
			} else {
				s.note(s.tag, SSHDAccepted, "Accepted password for "+u+s.from()+" ssh2")
			}
			s.note(s.tag, SSHDSession, "pam_unix(sshd:session): session opened for user "+u+"(uid="+uid+") by (uid=0)")
			s.note(logindTag, Logind, "New session "+sess+" of user "+u+".")
			s.note("systemd[1]", Systemd, "Started session-"+sess+".scope - Session "+sess+" of User "+u+".")
			s.wait(25 * time.Minute)
			s.note(s.tag, SSHDSession, "Received disconnect from "+s.ap()+":11: disconnected by user")
			s.note(s.tag, SSHDSession, "Disconnected from user "+u+" "+s.ap())
			s.note(s.tag, SSHDSession, "pam_unix(sshd:session): session closed for user "+u)
			s.note(logindTag, Logind, "Session "+sess+" logged out. Waiting for processes to exit.")
			s.wait(50 * time.Millisecond)
			s.note("systemd[1]", Systemd, "session-"+sess+".scope: Deactivated successfully.")
			s.note(logindTag, Logind, "Removed session "+sess+".")
		}},
	{name: "sudo", weight: 15, kinds: []Kind{SudoCmd, SudoSession},
		build: func(s *script) {
			lu := legitUsers[s.rand().IntN(3)]
			u, uid := lu.name, strconv.Itoa(lu.uid)
			s.note("sudo", SudoCmd, "   "+u+" : TTY=pts/"+strconv.Itoa(s.rand().IntN(4))+" ; PWD=/home/"+u+" ; USER=root ; COMMAND="+s.one(sudoCmds...))
			s.note("sudo", SudoSession, "pam_unix(sudo:session): session opened for user root(uid=0) by "+u+"(uid="+uid+")")
			s.wait(10 * time.Second)
			s.note("sudo", SudoSession, "pam_unix(sudo:session): session closed for user root")
		}},
	{name: "ufw-block", weight: 25, kinds: []Kind{UFWBlock},
		build: func(s *script) {
			src := s.g.att.next(s.rand())
			spt, dpt := 1024+s.rand().IntN(64512), []int{22, 23, 80, 443, 445, 2222, 3389, 5900, 8080}[s.rand().IntN(9)]
			proto := " PROTO=TCP SPT=" + strconv.Itoa(spt) + " DPT=" + strconv.Itoa(dpt) + " WINDOW=" + strconv.Itoa(1024+s.rand().IntN(64000)) + " RES=0x00 SYN URGP=0"
			if src.Is4() {
				s.note("kernel", UFWBlock, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:8a:1c:3e:00:00:5e:00:01:01:08:00 SRC="+src.String()+" DST="+ServerAddr4.String()+
					" LEN=44 TOS=0x00 PREC=0x00 TTL="+strconv.Itoa(40+s.rand().IntN(210))+" ID="+strconv.Itoa(s.rand().IntN(65536))+proto)
				return
			}
			s.note("kernel", UFWBlock, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:8a:1c:3e:00:00:5e:00:01:01:86:dd SRC="+src.String()+" DST="+ServerAddr6.String()+
				" LEN=80 TC=0 HOPLIMIT="+strconv.Itoa(40+s.rand().IntN(210))+" FLOWLBL="+strconv.Itoa(s.rand().IntN(1<<20))+proto)
		}},
	{name: "systemd", weight: 15, kinds: []Kind{Systemd},
		build: func(s *script) {
			u := systemdUnits[s.rand().IntN(len(systemdUnits))]
			s.note("systemd[1]", Systemd, "Starting "+u[0]+" - "+u[1]+"...")
			s.wait(2 * time.Second)
			s.note("systemd[1]", Systemd, u[0]+": Deactivated successfully.")
			s.note("systemd[1]", Systemd, "Finished "+u[0]+" - "+u[1]+".")
		}},
}
