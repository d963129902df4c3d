package firewall

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// maxCommentLen is nft's limit for a rule comment (NFTNL_UDATA_COMMENT_MAXLEN).
const maxCommentLen = 128

// ruleComment is the comment of the rule for set k under spec. It records the
// spec, so that a changed spec can be detected from the kernel's rules.
func ruleComment(k setKey, spec JailSpec) string {
	c := "banfleet " + k.setName() + " " + spec.matchString()
	if len(c) <= maxCommentLen {
		return c
	}
	h := fnv.New64a()
	h.Write([]byte(spec.matchString()))
	return fmt.Sprintf("banfleet %s proto=%s ports#%016x", k.setName(), spec.Proto, h.Sum64())
}

// anonSet is an anonymous constant set a rule needs, to be added to the
// batch before the rule.
type anonSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// ruleFor builds the rule for set k (whose kernel set is named set) under
// spec. nextID hands out set IDs unique within the batch.
func ruleFor(table *nftables.Table, chain *nftables.Chain, k setKey, spec JailSpec, set *nftables.Set, nextID func() uint32) (*nftables.Rule, []anonSet) {
	var (
		exprs []expr.Any
		anons []anonSet
	)
	nfproto := byte(unix.NFPROTO_IPV4)
	if k.fam == v6 {
		nfproto = unix.NFPROTO_IPV6
	}
	// meta nfproto ipv4|ipv6
	exprs = append(exprs,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
	)
	if len(spec.Ports) > 0 {
		// meta l4proto tcp|udp|{ tcp, udp }
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1})
		switch spec.Proto {
		case protoUDP:
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}})
		case protoAll:
			a := newAnonSet(table, nftables.TypeInetProto, nextID(),
				[][]byte{{unix.IPPROTO_TCP}, {unix.IPPROTO_UDP}})
			anons = append(anons, a)
			exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetName: a.set.Name, SetID: a.set.ID})
		default:
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}})
		}
		// th dport 22 | th dport { 22, 2222 }
		exprs = append(exprs, &expr.Payload{
			DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2,
		})
		if len(spec.Ports) == 1 {
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: portBytes(spec.Ports[0])})
		} else {
			keys := make([][]byte, len(spec.Ports))
			for i, p := range spec.Ports {
				keys[i] = portBytes(p)
			}
			a := newAnonSet(table, nftables.TypeInetService, nextID(), keys)
			anons = append(anons, a)
			exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetName: a.set.Name, SetID: a.set.ID})
		}
	}
	// ip saddr @set | ip6 saddr @set
	if k.fam == v4 {
		exprs = append(exprs, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4})
	} else {
		exprs = append(exprs, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16})
	}
	exprs = append(exprs,
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
	return &nftables.Rule{
		Table:    table,
		Chain:    chain,
		Exprs:    exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, ruleComment(k, spec)),
	}, anons
}

func newAnonSet(table *nftables.Table, typ nftables.SetDatatype, id uint32, keys [][]byte) anonSet {
	elems := make([]nftables.SetElement, len(keys))
	for i, k := range keys {
		elems[i] = nftables.SetElement{Key: k}
	}
	return anonSet{
		// The kernel replaces %d; the library only names the set itself
		// when it allocates the ID, which we do ourselves.
		set: &nftables.Set{
			Table:     table,
			ID:        id,
			Name:      "__set%d",
			Anonymous: true,
			Constant:  true,
			KeyType:   typ,
		},
		elems: elems,
	}
}

func portBytes(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

// ruleSetName returns the name of the named (non-anonymous) set a rule looks
// up, or "" if it has none.
func ruleSetName(r *nftables.Rule) string {
	for _, e := range r.Exprs {
		if l, ok := e.(*expr.Lookup); ok && !isAnonName(l.SetName) {
			return l.SetName
		}
	}
	return ""
}

func isAnonName(name string) bool { return len(name) >= 2 && name[:2] == "__" }

// ruleCommentOf returns the comment stored in a rule's user data. It parses
// the TLVs itself because userdata.Get panics on truncated data, and rules in
// the chain may have been written by other tools.
func ruleCommentOf(r *nftables.Rule) string {
	b := r.UserData
	for len(b) >= 2 {
		typ, n := userdata.Type(b[0]), int(b[1])
		if len(b) < 2+n {
			return ""
		}
		if typ == userdata.TypeComment {
			return strings.TrimSuffix(string(b[2:2+n]), "\x00")
		}
		b = b[2+n:]
	}
	return ""
}
