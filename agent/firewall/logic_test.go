package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func e(jail, addr string, timeout time.Duration) Entry {
	return Entry{Jail: jail, Addr: ip(addr), Timeout: timeout}
}

func TestValidJail(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"sshd", true},
		{"nginx-http_auth", true},
		{"A1", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"", false},
		{"with space", false},
		{"dot.ted", false},
		{"ümlaut", false},
		{"semi;colon", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.ok, validJail(tc.name))
		})
	}
}

func TestParseSetName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want setKey
		ok   bool
	}{
		{"sshd_v4", setKey{"sshd", v4}, true},
		{"sshd_v6", setKey{"sshd", v6}, true},
		{"my_jail_v6", setKey{"my_jail", v6}, true},
		{"a-b_v4", setKey{"a-b", v4}, true},
		{"sshd_v5", setKey{}, false},
		{"_v4", setKey{}, false},
		{"sshd", setKey{}, false},
		{"__set0", setKey{}, false},
		{strings.Repeat("a", 33) + "_v4", setKey{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseSetName(tc.name)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
			if ok {
				require.Equal(t, tc.name, got.setName())
			}
		})
	}
}

func TestNormalizeEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []Entry
		want    []Entry
		wantErr bool
	}{
		{name: "empty", in: nil, want: []Entry{}},
		{
			name: "sorted by jail then address",
			in:   []Entry{e("web", "2001:db8::1", 0), e("sshd", "192.0.2.2", 0), e("sshd", "192.0.2.1", time.Hour)},
			want: []Entry{e("sshd", "192.0.2.1", time.Hour), e("sshd", "192.0.2.2", 0), e("web", "2001:db8::1", 0)},
		},
		{
			name: "mapped address is unmapped, zone dropped",
			in:   []Entry{e("sshd", "::ffff:192.0.2.1", 0), e("sshd", "fe80::1%eth0", 0)},
			want: []Entry{e("sshd", "192.0.2.1", 0), e("sshd", "fe80::1", 0)},
		},
		{
			name: "duplicates keep the longest ban",
			in: []Entry{
				e("sshd", "192.0.2.1", time.Minute), e("sshd", "192.0.2.1", time.Hour), e("sshd", "192.0.2.1", time.Second),
				e("sshd", "192.0.2.2", time.Hour), e("sshd", "192.0.2.2", 0),
				e("web", "192.0.2.2", time.Hour),
			},
			want: []Entry{e("sshd", "192.0.2.1", time.Hour), e("sshd", "192.0.2.2", 0), e("web", "192.0.2.2", time.Hour)},
		},
		{name: "bad jail", in: []Entry{e("bad jail", "192.0.2.1", 0)}, wantErr: true},
		{name: "no address", in: []Entry{{Jail: "sshd"}}, wantErr: true},
		{name: "negative timeout", in: []Entry{e("sshd", "192.0.2.1", -time.Second)}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeEntries(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidEntry)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name        string
		want, have  []Entry
		wantStale   []Entry
		wantMissing int
	}{
		{name: "both empty"},
		{
			name:        "all new",
			want:        []Entry{e("a", "192.0.2.1", 0), e("a", "2001:db8::1", 0)},
			wantMissing: 2,
		},
		{
			name:      "all stale",
			have:      []Entry{e("a", "192.0.2.1", 0)},
			wantStale: []Entry{e("a", "192.0.2.1", 0)},
		},
		{
			name: "timeouts do not matter",
			want: []Entry{e("a", "192.0.2.1", time.Hour)},
			have: []Entry{e("a", "192.0.2.1", time.Minute)},
		},
		{
			name:        "same address other jail is distinct",
			want:        []Entry{e("a", "192.0.2.1", 0), e("b", "192.0.2.3", 0)},
			have:        []Entry{e("b", "192.0.2.1", 0), e("b", "192.0.2.3", 0)},
			wantStale:   []Entry{e("b", "192.0.2.1", 0)},
			wantMissing: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stale, missing := diff(tc.want, tc.have)
			require.Equal(t, tc.wantStale, stale)
			require.Equal(t, tc.wantMissing, missing)
		})
	}
}

func TestSubtractAndKeepPresent(t *testing.T) {
	del := []Entry{e("a", "192.0.2.1", 0), e("a", "192.0.2.2", 0), e("b", "192.0.2.1", 0)}
	add := []Entry{e("a", "192.0.2.2", time.Hour)}
	require.Equal(t, []Entry{e("a", "192.0.2.1", 0), e("b", "192.0.2.1", 0)}, subtract(del, add))
	require.Equal(t, del, subtract(del, nil))

	have := []Entry{e("b", "192.0.2.1", time.Minute), e("c", "192.0.2.9", 0)}
	require.Equal(t, []Entry{e("b", "192.0.2.1", 0)}, keepPresent(del, have))
	require.Empty(t, keepPresent(del, nil))
}

func TestChunk(t *testing.T) {
	for _, tc := range []struct {
		n, size int
		want    []int
	}{
		{0, 2000, nil},
		{1, 2000, []int{1}},
		{2000, 2000, []int{2000}},
		{2001, 2000, []int{2000, 1}},
		{4500, 1500, []int{1500, 1500, 1500}},
		{100_000, 2000, func() []int {
			s := make([]int, 50)
			for i := range s {
				s[i] = 2000
			}
			return s
		}()},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.n, tc.size), func(t *testing.T) {
			s := make([]int, tc.n)
			for i := range s {
				s[i] = i
			}
			var lens []int
			next := 0
			for _, c := range chunk(s, tc.size) {
				lens = append(lens, len(c))
				for _, v := range c {
					require.Equal(t, next, v, "order kept")
					next++
				}
			}
			require.Equal(t, tc.want, lens)
			require.Equal(t, tc.n, next)
		})
	}
}

func TestKernelTimeout(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, time.Millisecond}, // never 0 (= permanent) by rounding
		{999 * time.Microsecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{1500 * time.Microsecond, 2 * time.Millisecond},
		{time.Hour, time.Hour},
	} {
		require.Equal(t, tc.want, kernelTimeout(tc.in), "kernelTimeout(%v)", tc.in)
	}
}

func TestEntryFromElement(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    setKey
		el   nftables.SetElement
		want Entry
		ok   bool
	}{
		{"v4 permanent", setKey{"a", v4}, nftables.SetElement{Key: []byte{192, 0, 2, 1}}, e("a", "192.0.2.1", 0), true},
		{"v4 expiring", setKey{"a", v4}, nftables.SetElement{Key: []byte{192, 0, 2, 1}, Timeout: time.Hour, Expires: time.Minute}, e("a", "192.0.2.1", time.Minute), true},
		{"about to expire is not permanent", setKey{"a", v4}, nftables.SetElement{Key: []byte{192, 0, 2, 1}, Timeout: time.Hour}, e("a", "192.0.2.1", time.Millisecond), true},
		{"v6", setKey{"a", v6}, nftables.SetElement{Key: ip("2001:db8::1").AsSlice()}, e("a", "2001:db8::1", 0), true},
		{"v6 key in v4 set", setKey{"a", v4}, nftables.SetElement{Key: ip("2001:db8::1").AsSlice()}, Entry{}, false},
		{"interval end", setKey{"a", v4}, nftables.SetElement{Key: []byte{192, 0, 2, 1}, IntervalEnd: true}, Entry{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := entryFromElement(tc.k, tc.el)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNormalizeSpec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      JailSpec
		want    JailSpec
		wantErr bool
	}{
		{name: "defaults", in: JailSpec{Name: "sshd", Ports: []uint16{22}}, want: JailSpec{Name: "sshd", Ports: []uint16{22}, Proto: "tcp"}},
		{name: "sorted unique", in: JailSpec{Name: "web", Ports: []uint16{443, 80, 443}, Proto: "all"}, want: JailSpec{Name: "web", Ports: []uint16{80, 443}, Proto: "all"}},
		{name: "no ports", in: JailSpec{Name: "x", Ports: []uint16{}, Proto: "udp"}, want: JailSpec{Name: "x", Proto: "udp"}},
		{name: "bad proto", in: JailSpec{Name: "x", Proto: "icmp"}, wantErr: true},
		{name: "port 0", in: JailSpec{Name: "x", Ports: []uint16{0, 22}}, wantErr: true},
		{name: "bad name", in: JailSpec{Name: "x y"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeSpec(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidSpec)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRuleComment(t *testing.T) {
	k := setKey{"sshd", v4}
	require.Equal(t, "banfleet sshd_v4 all", ruleComment(k, JailSpec{Name: "sshd", Proto: "tcp"}))
	require.Equal(t, "banfleet sshd_v4 proto=tcp ports=22,2222", ruleComment(k, JailSpec{Name: "sshd", Proto: "tcp", Ports: []uint16{22, 2222}}))

	many := JailSpec{Name: "sshd", Proto: "udp"}
	for p := uint16(10000); p < 10100; p++ {
		many.Ports = append(many.Ports, p)
	}
	c := ruleComment(k, many)
	require.LessOrEqual(t, len(c), maxCommentLen)
	require.True(t, strings.HasPrefix(c, "banfleet sshd_v4 proto=udp ports#"), c)
	many.Ports = many.Ports[1:]
	require.NotEqual(t, c, ruleComment(k, many), "a changed long port list changes the comment")
}

func TestRuleFor(t *testing.T) {
	table := &nftables.Table{Name: "banfleet", Family: nftables.TableFamilyINet}
	chain := &nftables.Chain{Name: "input", Table: table}
	set := &nftables.Set{Table: table, Name: "j_v4", ID: 7}
	proto := func(p byte) expr.Any { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}} }
	lookup := func(name string, id uint32) expr.Any {
		return &expr.Lookup{SourceRegister: 1, SetName: name, SetID: id}
	}
	nfproto := func(f byte) []expr.Any {
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, proto(f)}
	}
	l4 := &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}
	dport := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	saddr4 := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	saddr6 := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	cat := func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	for _, tc := range []struct {
		name      string
		fam       family
		spec      JailSpec
		want      []expr.Any
		wantAnons []nftables.SetDatatype
	}{
		{
			name: "drop all v4", fam: v4, spec: JailSpec{Name: "j", Proto: "tcp"},
			want: cat(nfproto(unix.NFPROTO_IPV4), []expr.Any{saddr4, lookup("j_v4", 7), drop}),
		},
		{
			name: "drop all v6", fam: v6, spec: JailSpec{Name: "j", Proto: "tcp"},
			want: cat(nfproto(unix.NFPROTO_IPV6), []expr.Any{saddr6, lookup("j_v4", 7), drop}),
		},
		{
			name: "one tcp port", fam: v4, spec: JailSpec{Name: "j", Proto: "tcp", Ports: []uint16{22}},
			want: cat(nfproto(unix.NFPROTO_IPV4), []expr.Any{l4, proto(unix.IPPROTO_TCP), dport,
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}}, saddr4, lookup("j_v4", 7), drop}),
		},
		{
			name: "udp ports", fam: v4, spec: JailSpec{Name: "j", Proto: "udp", Ports: []uint16{53, 5353}},
			want: cat(nfproto(unix.NFPROTO_IPV4), []expr.Any{l4, proto(unix.IPPROTO_UDP), dport,
				lookup("__set%d", 100), saddr4, lookup("j_v4", 7), drop}),
			wantAnons: []nftables.SetDatatype{nftables.TypeInetService},
		},
		{
			name: "all protocols one port", fam: v6, spec: JailSpec{Name: "j", Proto: "all", Ports: []uint16{443}},
			want: cat(nfproto(unix.NFPROTO_IPV6), []expr.Any{l4, lookup("__set%d", 100), dport,
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1, 187}}, saddr6, lookup("j_v4", 7), drop}),
			wantAnons: []nftables.SetDatatype{nftables.TypeInetProto},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := uint32(99)
			rule, anons := ruleFor(table, chain, setKey{"j", tc.fam}, tc.spec, set, func() uint32 { id++; return id })
			require.Equal(t, tc.want, rule.Exprs)
			require.Equal(t, ruleComment(setKey{"j", tc.fam}, tc.spec), ruleCommentOf(rule))
			require.Equal(t, "j_v4", ruleSetName(rule))
			require.Len(t, anons, len(tc.wantAnons))
			for i, a := range anons {
				require.Equal(t, tc.wantAnons[i], a.set.KeyType)
				require.True(t, a.set.Anonymous && a.set.Constant)
			}
		})
	}
}

func TestRuleCommentOfMalformed(t *testing.T) {
	for _, ud := range [][]byte{nil, {0}, {0, 5, 'a'}, {3, 1}, {1, 1, 'x', 0, 3, 'a', 'b', 0}} {
		require.NotPanics(t, func() { ruleCommentOf(&nftables.Rule{UserData: ud}) })
	}
	require.Equal(t, "ab", ruleCommentOf(&nftables.Rule{UserData: []byte{1, 1, 'x', 0, 3, 'a', 'b', 0}}))
}

func TestMakePlan(t *testing.T) {
	web := JailSpec{Name: "web", Proto: "tcp", Ports: []uint16{80}}
	for _, tc := range []struct {
		name       string
		sets       map[setKey]*kernelSet
		specs      map[string]JailSpec
		add, del   []Entry
		wantCreate []setKey
		wantFix    []setKey
		wantDel    []setKey
	}{
		{
			name:       "first entries create sets per family",
			add:        []Entry{e("web", "192.0.2.1", 0), e("web", "2001:db8::1", 0), e("sshd", "192.0.2.1", 0)},
			wantCreate: []setKey{{"sshd", v4}, {"web", v4}, {"web", v6}},
		},
		{
			name: "deletes from missing sets are dropped",
			sets: map[setKey]*kernelSet{{"web", v4}: {rules: []*nftables.Rule{ruleWithComment("banfleet web_v4 all")}}},
			del:  []Entry{e("web", "192.0.2.1", 0), e("web", "2001:db8::1", 0), e("other", "192.0.2.1", 0)},
			// web_v4 has the drop-all rule of an undeclared jail and is not
			// touched by add, so it is left alone.
			wantDel: []setKey{{"web", v4}},
		},
		{
			name:    "declared spec differs from the rule",
			sets:    map[setKey]*kernelSet{{"web", v4}: {rules: []*nftables.Rule{ruleWithComment("banfleet web_v4 all")}}},
			specs:   map[string]JailSpec{"web": web},
			wantFix: []setKey{{"web", v4}},
		},
		{
			name:  "rule up to date",
			sets:  map[setKey]*kernelSet{{"web", v4}: {rules: []*nftables.Rule{ruleWithComment("banfleet web_v4 proto=tcp ports=80")}}},
			specs: map[string]JailSpec{"web": web},
			add:   []Entry{e("web", "192.0.2.1", 0)},
		},
		{
			name:    "missing rule is recreated",
			sets:    map[setKey]*kernelSet{{"web", v4}: {}},
			add:     []Entry{e("web", "192.0.2.1", 0)},
			wantFix: []setKey{{"web", v4}},
		},
		{
			name: "duplicate rules are collapsed",
			sets: map[setKey]*kernelSet{{"web", v4}: {rules: []*nftables.Rule{
				ruleWithComment("banfleet web_v4 proto=tcp ports=80"), ruleWithComment("banfleet web_v4 proto=tcp ports=80"),
			}}},
			specs:   map[string]JailSpec{"web": web},
			wantFix: []setKey{{"web", v4}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs := tc.specs
			if specs == nil {
				specs = map[string]JailSpec{}
			}
			p := makePlan(tc.sets, specs, tc.add, tc.del)
			require.Equal(t, tc.wantCreate, p.create)
			require.Equal(t, tc.wantFix, p.fix)
			var dels []setKey
			if len(p.del) > 0 {
				dels = sortedKeys(p.del)
			}
			require.Equal(t, tc.wantDel, dels)
			require.Len(t, p.add, len(groupBySet(tc.add)))
		})
	}
}

// ruleWithComment is a kernel rule as GetRules returns it, with a comment.
func ruleWithComment(comment string) *nftables.Rule {
	return &nftables.Rule{Handle: 1, UserData: userdata.AppendString(nil, userdata.TypeComment, comment)}
}

// recorder is an nftables connection that records batches instead of
// sending them to the kernel.
type recorder struct {
	batches [][]netlink.Message
}

func (r *recorder) conn(t *testing.T) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		if len(req) == 0 { // a Receive
			return nil, nil
		}
		r.batches = append(r.batches, req)
		var acks []netlink.Message
		for _, m := range req {
			if m.Header.Flags&netlink.Acknowledge != 0 {
				acks = append(acks, netlink.Message{
					Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence, PID: m.Header.PID},
					Data:   make([]byte, 4),
				})
			}
		}
		return acks, nil
	}))
	require.NoError(t, err)
	return c
}

// newRecordingBackend returns an Nftables that believes its table is empty
// and records what it would send.
func newRecordingBackend(t *testing.T) (*Nftables, *recorder) {
	t.Helper()
	r := &recorder{}
	table := &nftables.Table{Name: "banfleet", Family: nftables.TableFamilyINet}
	n := &Nftables{
		log:   slog.New(slog.DiscardHandler),
		conn:  r.conn(t),
		table: table,
		chain: &nftables.Chain{Name: "input", Table: table},
		specs: map[string]JailSpec{},
		sets:  map[setKey]*kernelSet{},
	}
	return n, r
}

func msgType(m netlink.Message) int { return int(m.Header.Type) & 0xff }

// TestBatching checks, without a kernel, that a large Apply is one batch
// whose element messages each stay below the 16-bit netlink attribute limit.
func TestBatching(t *testing.T) {
	const perFamily = 10_000
	var add []Entry
	for i := range perFamily {
		var a4 [4]byte
		binary.BigEndian.PutUint32(a4[:], 0x0a000000+uint32(i))
		a16 := [16]byte{0x20, 0x01, 0x0d, 0xb8}
		binary.BigEndian.PutUint32(a16[12:], uint32(i))
		add = append(add,
			Entry{Jail: "big", Addr: netip.AddrFrom4(a4), Timeout: 365 * 24 * time.Hour},
			Entry{Jail: "big", Addr: netip.AddrFrom16(a16), Timeout: 365 * 24 * time.Hour})
	}
	n, r := newRecordingBackend(t)
	require.NoError(t, n.Apply(add, nil))
	require.Equal(t, 1, len(r.batches), "one Flush")

	counts := map[int]int{}
	for _, m := range r.batches[0] {
		typ := msgType(m)
		counts[typ]++
		if typ == unix.NFT_MSG_NEWSETELEM {
			// 4 bytes nfgenmsg, then attributes; the element list is the
			// last and largest one.
			ad, err := netlink.NewAttributeDecoder(m.Data[4:])
			require.NoError(t, err)
			for ad.Next() {
				require.Less(t, len(ad.Bytes()), 65535-4, "attribute %d too long", ad.Type())
			}
			require.NoError(t, ad.Err())
		}
	}
	wantElemMsgs := (perFamily+chunkV4-1)/chunkV4 + (perFamily+chunkV6-1)/chunkV6
	require.Equal(t, wantElemMsgs, counts[unix.NFT_MSG_NEWSETELEM])
	require.Equal(t, 2, counts[unix.NFT_MSG_NEWSET], "one set per family")
	require.Equal(t, 2, counts[unix.NFT_MSG_NEWRULE], "one rule per family")
	require.Equal(t, 1, counts[unix.NFT_MSG_NEWTABLE])
	require.Equal(t, 1, counts[unix.NFT_MSG_NEWCHAIN])
}

// TestApplyAddWins checks that an entry in both add and del is only added.
func TestApplyAddWins(t *testing.T) {
	n, r := newRecordingBackend(t)
	n.sets[setKey{"a", v4}] = &kernelSet{rules: []*nftables.Rule{ruleWithComment("banfleet a_v4 all")}}
	x := e("a", "192.0.2.1", time.Hour)
	require.NoError(t, n.Apply([]Entry{x}, []Entry{x}))
	require.Equal(t, 1, len(r.batches))
	counts := map[int]int{}
	for _, m := range r.batches[0] {
		counts[msgType(m)]++
	}
	require.Equal(t, 1, counts[unix.NFT_MSG_NEWSETELEM])
	require.Zero(t, counts[unix.NFT_MSG_DELSETELEM])
	require.Zero(t, counts[unix.NFT_MSG_NEWRULE], "rule up to date")
}

func TestApplyInvalid(t *testing.T) {
	n, r := newRecordingBackend(t)
	err := n.Apply([]Entry{{Jail: "ok", Addr: ip("192.0.2.1")}, {Jail: "not ok", Addr: ip("192.0.2.1")}}, nil)
	require.ErrorIs(t, err, ErrInvalidEntry)
	require.Empty(t, r.batches, "nothing sent for a bad batch")
	_, _, err = n.Reconcile([]Entry{{Jail: "x"}})
	require.ErrorIs(t, err, ErrInvalidEntry)
}

func TestClosed(t *testing.T) {
	n, _ := newRecordingBackend(t)
	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "idempotent")
	require.ErrorIs(t, n.Apply([]Entry{e("a", "192.0.2.1", 0)}, nil), ErrClosed)
	_, _, err := n.Reconcile(nil)
	require.ErrorIs(t, err, ErrClosed)
	_, err = n.List()
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, n.Declare(JailSpec{Name: "a"}), ErrClosed)
	require.True(t, errors.Is(n.Remove(), ErrClosed))
}
