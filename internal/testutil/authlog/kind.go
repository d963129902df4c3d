package authlog

import "sort"

// Kind names what a generated line is. Every line has exactly one kind.
type Kind string

// Class groups kinds by what Fail2Ban's sshd filter (mode normal) makes of
// them.
type Class uint8

const (
	// Noise: not an sshd failure, and nothing the filter counts (logins,
	// cron, sudo, firewall, systemd, …).
	Noise Class = iota
	// Failure: a failure in Fail2Ban's sense. It names the client's address
	// itself, except for the Hostless kinds, whose address Fail2Ban takes
	// from other lines of the same connection.
	Failure
	// Companion: an sshd line of an attacking connection that is not a
	// failure on its own: Fail2Ban's NOFAIL helpers (the pam_unix
	// "authentication failure" line, "Connection closed by …",
	// "Received disconnect … 11: …", "Failed publickey" for a valid user)
	// and pre-authentication chatter no rule matches.
	Companion
)

func (c Class) String() string {
	switch c {
	case Noise:
		return "noise"
	case Failure:
		return "failure"
	case Companion:
		return "companion"
	}
	return "class?"
}

// Failure kinds. The number is the index of the matching failregex in
// Fail2Ban 1.0.2's filter.d/sshd.conf, mode normal.
const (
	AuthFailure            Kind = "auth_failure"             // 0: "error: PAM: Authentication failure for [illegal user ]U from A"
	UserNotKnown           Kind = "user_not_known"           // 1: "error: PAM: User not known to the underlying authentication module for illegal user U from A"
	FailedPublickeyInvalid Kind = "failed_publickey_invalid" // 2: "Failed publickey for invalid user U from A port N ssh2: RSA SHA256:…"
	FailedPassword         Kind = "failed_password"          // 3: "Failed password for root from A port N ssh2"
	FailedPasswordInvalid  Kind = "failed_password_invalid"  // 3: "Failed password for invalid user U from A port N ssh2"
	FailedKbdInt           Kind = "failed_kbdint"            // 3: "Failed keyboard-interactive/pam for [invalid user ]U from A port N ssh2"
	RootLoginRefused       Kind = "root_login_refused"       // 4: "ROOT LOGIN REFUSED FROM A port N"
	InvalidUser            Kind = "invalid_user"             // 5: "Invalid user U from A port N"
	NotInAllowUsers        Kind = "not_in_allowusers"        // 6: "User U from A not allowed because not listed in AllowUsers"
	InDenyUsers            Kind = "in_denyusers"             // 7: "… because listed in DenyUsers"
	NotInAnyGroup          Kind = "not_in_any_group"         // 8: "… because not in any group"
	RefusedConnect         Kind = "refused_connect"          // 9: "refused connect from A (A)" (tcp wrappers)
	AuthFailDisconnect     Kind = "disconnect_auth_fail"     // 10: "error: Received disconnect from A port N:3: com.jcraft.jsch.JSchException: Auth fail [preauth]"
	InDenyGroups           Kind = "in_denygroups"            // 11: "… because a group is listed in DenyGroups"
	NotInAllowGroups       Kind = "not_in_allowgroups"       // 12: "… because none of user's groups are listed in AllowGroups"
	MaxAuthAttempts        Kind = "max_auth_attempts"        // 14: "error: maximum authentication attempts exceeded for root from A port N ssh2 [preauth]"
	AccountLocked          Kind = "account_locked"           // 15: "User root not allowed because account is locked" (no address)
	ChangeOfUsername       Kind = "change_of_username"       // 16: "Disconnecting invalid user U A port N: Change of username or service not allowed: … [preauth]"
	TooManyAuthFailures    Kind = "too_many_auth_failures"   // 17: "Disconnecting: Too many authentication failures for root [preauth]" (no address)
)

// Companion kinds.
const (
	PamAuthFailure  Kind = "pam_auth_failure" // 13 NOFAIL: "pam_unix(sshd:auth): authentication failure; … rhost=A[  user=U]"
	FailedPublickey Kind = "failed_publickey" // 3 NOFAIL (publickey=nofail): "Failed publickey for root from A port N ssh2: ED25519 SHA256:…"
	DisconnectBye   Kind = "disconnect_bye"   // 18 NOFAIL: "Received disconnect from A port N:11: Bye Bye [preauth]"
	ClosedPreauth   Kind = "closed_preauth"   // 19 NOFAIL: "Connection closed by [invalid|authenticating user U ]A port N [preauth]", "Disconnected from …"
	PreauthOther    Kind = "preauth_other"    // no rule: "pam_unix(sshd:auth): check pass; user unknown", "PAM 2 more authentication failures; …", kex/banner errors …
)

// Injection kinds: lines whose attacker-controlled text (an invalid user
// name, a client identification string, a disconnect reason) carries another
// address, the "injected" one (Truth.Injected). They are logged exactly as
// sshd 9.x would: user names cut to 100 bytes, control characters escaped.
const (
	InjectInvalidUser    Kind = "inject_invalid_user"    // 5: "Invalid user x from V from A port N"
	InjectFailedPassword Kind = "inject_failed_password" // 3: "Failed password for invalid user ' from V port 22 ssh2: ' from A port N ssh2"
	InjectAuthFailure    Kind = "inject_auth_failure"    // 0: "error: PAM: Authentication failure for illegal user x from V from A"
	InjectChangeUsername Kind = "inject_change_username" // 16: "Disconnecting invalid user x V on A port N: Change of username …"
	InjectClosed         Kind = "inject_closed"          // 19 NOFAIL: "Connection closed by invalid user x V on A port N [preauth]"
	InjectDisconnect     Kind = "inject_disconnect"      // 18 NOFAIL: "Received disconnect from A port N:11: Failed password for root from V port 22 ssh2 [preauth]"
	InjectBanner         Kind = "inject_banner"          // none: "error: kex_exchange_identification: client sent invalid protocol identifier \"… from V …\""
)

// Noise kinds.
const (
	SSHDAccepted Kind = "sshd_accepted" // "Accepted publickey for alice from A port N ssh2: ED25519 SHA256:…"
	SSHDSession  Kind = "sshd_session"  // pam_unix(sshd:session) opened/closed, "Received disconnect … disconnected by user", "Disconnected from user …"
	Logind       Kind = "logind"        // systemd-logind: New session / logged out / Removed session
	CronSession  Kind = "cron_session"  // CRON[pid]: pam_unix(cron:session): session opened/closed
	CronCmd      Kind = "cron_cmd"      // CRON[pid]: (root) CMD (…)
	SudoCmd      Kind = "sudo_cmd"      // sudo:    alice : TTY=pts/0 ; PWD=… ; USER=root ; COMMAND=…
	SudoSession  Kind = "sudo_session"  // sudo: pam_unix(sudo:session): session opened/closed …
	UFWBlock     Kind = "ufw_block"     // kernel: [uptime] [UFW BLOCK] IN=eth0 … SRC=A DST=…
	Systemd      Kind = "systemd"       // systemd[1]: Started/Starting/Finished …
)

type kindInfo struct {
	class    Class
	rule     int // failregex index in sshd.conf (mode normal), -1 for none
	hostless bool
	inject   bool
}

var kinds = map[Kind]kindInfo{
	AuthFailure:            {Failure, 0, false, false},
	UserNotKnown:           {Failure, 1, false, false},
	FailedPublickeyInvalid: {Failure, 2, false, false},
	FailedPassword:         {Failure, 3, false, false},
	FailedPasswordInvalid:  {Failure, 3, false, false},
	FailedKbdInt:           {Failure, 3, false, false},
	RootLoginRefused:       {Failure, 4, false, false},
	InvalidUser:            {Failure, 5, false, false},
	NotInAllowUsers:        {Failure, 6, false, false},
	InDenyUsers:            {Failure, 7, false, false},
	NotInAnyGroup:          {Failure, 8, false, false},
	RefusedConnect:         {Failure, 9, false, false},
	AuthFailDisconnect:     {Failure, 10, false, false},
	InDenyGroups:           {Failure, 11, false, false},
	NotInAllowGroups:       {Failure, 12, false, false},
	MaxAuthAttempts:        {Failure, 14, false, false},
	AccountLocked:          {Failure, 15, true, false},
	ChangeOfUsername:       {Failure, 16, false, false},
	TooManyAuthFailures:    {Failure, 17, true, false},

	PamAuthFailure:  {Companion, 13, false, false},
	FailedPublickey: {Companion, 3, false, false},
	DisconnectBye:   {Companion, 18, false, false},
	ClosedPreauth:   {Companion, 19, false, false},
	PreauthOther:    {Companion, -1, false, false},

	InjectInvalidUser:    {Failure, 5, false, true},
	InjectFailedPassword: {Failure, 3, false, true},
	InjectAuthFailure:    {Failure, 0, false, true},
	InjectChangeUsername: {Failure, 16, false, true},
	InjectClosed:         {Companion, 19, false, true},
	InjectDisconnect:     {Companion, 18, false, true},
	InjectBanner:         {Companion, -1, false, true},

	SSHDAccepted: {Noise, -1, false, false},
	SSHDSession:  {Noise, -1, false, false},
	Logind:       {Noise, -1, false, false},
	CronSession:  {Noise, -1, false, false},
	CronCmd:      {Noise, -1, false, false},
	SudoCmd:      {Noise, -1, false, false},
	SudoSession:  {Noise, -1, false, false},
	UFWBlock:     {Noise, -1, false, false},
	Systemd:      {Noise, -1, false, false},
}

// Class says what Fail2Ban's sshd filter makes of lines of this kind.
func (k Kind) Class() Class { return kinds[k].class }

// Rule is the index of the failregex of Fail2Ban's sshd.conf (mode normal)
// that matches lines of this kind, or -1.
func (k Kind) Rule() int {
	if i, ok := kinds[k]; ok {
		return i.rule
	}
	return -1
}

// Hostless reports failure kinds whose line names no address: Fail2Ban
// takes it from another line of the same sshd connection (F-MLFID).
func (k Kind) Hostless() bool { return kinds[k].hostless }

// Injection reports kinds whose lines carry an injected address.
func (k Kind) Injection() bool { return kinds[k].inject }

// Kinds lists every kind, sorted.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// FailureKinds lists the kinds of class Failure, sorted.
func FailureKinds() []Kind {
	var out []Kind
	for _, k := range Kinds() {
		if k.Class() == Failure {
			out = append(out, k)
		}
	}
	return out
}
