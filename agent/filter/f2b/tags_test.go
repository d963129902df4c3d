package f2b

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

var tagCases = []string{
	`^<HOST>$`,
	`from <HOST> port`,
	`<ADDR>`, `<IP4>`, `<IP6>`, `<DNS>`, `<CIDR>`, `<SUBNET>`, `<F-IP4/><F-IP6/><F-ADDR/><F-DNS/><F-CIDR/><F-SUBNET/>`,
	`user <F-USER>\S+</F-USER> from <HOST>`,
	`<F-ID>\w+</F-ID> <F-PORT>\d+</F-PORT>`,
	`<F-ID/> on <F-PORT/>`,
	`<F-ALT_USER>\S*</F-ALT_USER> <F-ALT_USER1>\S*</F-ALT_USER1> <F-ALT_USER_2>x</F-ALT_USER_2>`,
	`stray </F-USER> close`,
	`<F-MLFID>pre</F-MLFID><F-CONTENT>.+</F-CONTENT>`,
	`<F-NOFAIL>x</F-NOFAIL><F-MLFFORGET>y</F-MLFFORGET><F-MLFGAINED>z</F-MLFGAINED>`,
	`a<SKIPLINES>b<SKIPLINES>c`,
	`<unknown> <host> <F-lower>x</F-lower> <F-X/> <F-1-2>x</F-1-2>`,
	`(?P<ip4>x)<F-USER/>`,
	`<<HOST>> </<HOST>`,
	`<F-USER>a<F-USER>b</F-USER>c</F-USER>`,
	`<HOST/> <F-ID/ > <F-ID//>`,
	`(?i)x((?i)y)(?:(?s)z)\((?m)w)`,
	`((?ix)a)`,
	``, `   `,
}

// TestTagsMatchFail2Ban compares tag expansion, the global-to-local flag
// rewrite and the ALT_/TUPLE_ name rule with Fail2Ban's own code.
func TestTagsMatchFail2Ban(t *testing.T) {
	tree, err := f2bref.Find()
	if err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// Fail2Ban's code comes from the reference tree only, never from a
	// system-wide install.
	script := `
import sys, json, re
sys.path.insert(0, ` + strconv.Quote(tree.PyPath) + `)
from fail2ban.server import failregex as FR
inp = json.load(sys.stdin)
out = {'tags': [], 'names': []}
for c in inp['tags']:
    r = []
    for dns in ('yes', 'no'):
        x = FR.Regex._resolveHostTag(c, useDns=dns)
        if FR.R_GLOB2LOCFLAGS:
            x = FR.R_GLOB2LOCFLAGS[0].sub(FR.R_GLOB2LOCFLAGS[1], x)
        r.append(x)
    out['tags'].append(r)
for n in inp['names']:
    m = FR.COMPLNAME_CRE.match(n) if len(n) > len(FR.COMPLNAME_PRE[0]) else None
    out['names'].append([m.group(1)[:-1], FR.mapTag2Opt(m.group(2))] if m else None)
json.dump(out, sys.stdout)
`
	names := []string{"alt_user", "alt_user1", "alt_user_1", "alt_user_1_2", "alt_", "alt_x", "tuple_id", "tuple_id_3", "alt_ID", "alt_port_9", "user", "alt__1", "alt_a_b"}
	raw := pythonRe(t, script, map[string]any{"tags": tagCases, "names": names})
	var py struct {
		Tags  [][2]string `json:"tags"`
		Names [][]string  `json:"names"`
	}
	require.NoError(t, json.Unmarshal(raw, &py))
	for i, c := range tagCases {
		require.Equal(t, py.Tags[i][0], globalToLocalFlags(expandTags(c, "yes")), "usedns yes: %q", c)
		require.Equal(t, py.Tags[i][1], globalToLocalFlags(expandTags(c, "no")), "usedns no: %q", c)
	}
	for i, n := range names {
		kind, target, ok := complexName(n)
		if py.Names[i] == nil {
			require.False(t, ok, n)
			continue
		}
		require.True(t, ok, n)
		require.Equal(t, py.Names[i], []string{kind, target}, n)
	}
}

func TestTagExpansion(t *testing.T) {
	require.Equal(t, `(?:`+reAddr+`|`+reDNS+`)`, expandTags("<HOST>", "warn"))
	require.Equal(t, reAddr, expandTags("<HOST>", "no"))
	require.Equal(t, `(?P<user>\S+)`, expandTags(`<F-USER>\S+</F-USER>`, "no"))
	require.Equal(t, `(?P<fid>\S+)(?P<fport>\w+)`, expandTags(`<F-ID/><F-PORT/>`, "no"))
	require.Equal(t, `(?P<fid>x)(?P<fport>y)`, expandTags(`<F-ID>x</F-ID><F-PORT>y</F-PORT>`, "no"))
	require.Equal(t, `x</F-USER>`, expandTags(`x</F-USER>`, "no"))
	require.Equal(t, `(?P<alt_user1>x)`, expandTags(`<F-ALT_USER1>x</F-ALT_USER1>`, "no"))
	require.Equal(t, `\n(?P<skiplines0>(?:(?:.*\n)*?))\n(?P<skiplines1>(?:(?:.*\n)*?))`, expandTags(`<SKIPLINES><SKIPLINES>`, "no"))
}
