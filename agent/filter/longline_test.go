package filter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// adversarialLine builds a line of about n bytes that makes the filter work
// hard: many separators and address-like tokens before the real address.
func adversarialLines(n int) map[string]string {
	rep := func(s string) string { return strings.Repeat(s, n/len(s)+1) }
	return map[string]string{
		"closed, many addresses": pfx + "Connection closed by invalid user " + rep("1.2.3.4 ") + "203.0.113.9 port 1 [preauth]",
		"closed, many spaces":    pfx + "Connection closed by invalid user x " + rep(" ") + "203.0.113.9 port 1" + rep(" "),
		"invalid, many from":     pfx + "Invalid user " + rep("x from 1.2.3.4 ") + "from 203.0.113.9 port 1",
		"failed, many from":      pfx + "Failed password for invalid user " + rep(" from 1.2.3.4 port 22 ssh2: ") + " from 203.0.113.9 port 4444 ssh2",
		"failed, extra from":     pfx + "Failed publickey for invalid user x from 203.0.113.9 port 4444 ssh2: " + rep(" from 1.2.3.4 port 22 ssh2: "),
		"failed, valid, many":    pfx + "Failed password for root " + rep("from 1.2.3.4 ") + "from 203.0.113.9 port 1 ssh2",
		"change user, spaces":    pfx + "Disconnecting invalid user x 203.0.113.9 port 1:" + rep(" ") + "Change of username or service not allowed: (x,a) -> (y,b) [preauth]",
		"change user, addresses": pfx + "Disconnecting invalid user x " + rep("1.2.3.4 ") + "203.0.113.9 port 1: Change of username or service not allowed: (x,a) -> (y,b) [preauth]",
		"max auth, many from":    pfx + "maximum authentication attempts exceeded for " + rep("x from 1.2.3.4 ") + "from 203.0.113.9 port 1 ssh2 [preauth]",
		"pam, long":              pfx + "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=" + rep("x") + " rhost=203.0.113.9",
		"user not allowed, long": pfx + "User " + rep("x ") + "from 203.0.113.9 not allowed because not listed in AllowUsers",
	}
}

// TestLongAdversarialLines: long crafted lines never blame an injected
// address. (That per-line work stays linear in the line length is measured
// by BenchmarkLongAdversarialLines, not asserted on wall time.)
func TestLongAdversarialLines(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	for name, line := range adversarialLines(64 << 10) {
		fail, v := f.Match([]byte(line), testNow)
		if fail.Addr.IsValid() && fail.Addr.String() != "203.0.113.9" {
			t.Errorf("%s: blamed %v (%v)", name, fail.Addr, v)
		}
	}
}

// BenchmarkLongAdversarialLines reports ns per byte for 2 KiB and 64 KiB
// crafted lines: equal figures mean linear work.
func BenchmarkLongAdversarialLines(b *testing.B) {
	f := mustSSHD(b, time.UTC)
	for _, size := range []int{2 << 10, 64 << 10} {
		for name, line := range adversarialLines(size) {
			b.Run(fmt.Sprintf("%s/%dKiB", strings.ReplaceAll(name, " ", "_"), size>>10), func(b *testing.B) {
				buf := []byte(line)
				b.SetBytes(int64(len(buf)))
				for range b.N {
					f.Match(buf, testNow)
				}
			})
		}
	}
}
