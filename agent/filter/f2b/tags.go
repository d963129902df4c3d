package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"strconv"
	"strings"
	"unicode/utf8"
)

// Fail2Ban's host tags (S/failregex.py R_HOST, RH4TAG), verbatim.
const (
	reIP4    = `(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})`
	reIP6    = `(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))`
	reDNS    = `(?P<dns>[\w\-.^_]*\w)`
	reCIDR   = `(?P<cidr>\d+)`
	reAddr   = `\[?(?:` + reIP4 + `|` + reIP6 + `)\]?`
	reHost   = `(?:` + reAddr + `|` + reDNS + `)`
	reSubnet = `\[?(?:` + reIP4 + `|` + reIP6 + `)(?:/` + reCIDR + `)?\]?`
)

var hostTags = map[string]string{
	"IP4": reIP4, "F-IP4/": reIP4,
	"IP6": reIP6, "F-IP6/": reIP6,
	"ADDR": reAddr, "F-ADDR/": reAddr,
	"CIDR": reCIDR, "F-CIDR/": reCIDR,
	"SUBNET": reSubnet, "F-SUBNET/": reSubnet,
	"DNS": reDNS, "F-DNS/": reDNS,
	"F-ID/":   `(?P<fid>\S+)`,
	"F-PORT/": `(?P<fport>\w+)`,
}

// mapTag2Opt lower-cases a tag name and maps ID to fid and PORT to fport.
func mapTag2Opt(tag string) string {
	t := strings.ToLower(tag)
	switch t {
	case "id":
		return "fid"
	case "port":
		return "fport"
	}
	return t
}

// expandTags is Fail2Ban's Regex._resolveHostTag: it replaces <HOST>,
// <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>, <SKIPLINES>, <F-ID/>,
// <F-PORT/> and <F-X>…</F-X> (as (?P<x>…)) in regex. A closing tag that was
// never opened and every other tag stay as they are. useDNS "no" makes
// <HOST> an <ADDR>.
func expandTags(regex, useDNS string) string {
	var b strings.Builder
	open := map[string]bool{}
	skip := 0
	last := 0
	for i := 0; i < len(regex); i++ {
		if regex[i] != '<' {
			continue
		}
		end, ok := scanTag(regex, i)
		if !ok {
			continue
		}
		tag := regex[i:end]
		tn := tag[1 : len(tag)-1]
		repl, replaced := tag, true
		switch {
		case tn == "HOST":
			if useDNS == "no" {
				repl = reAddr
			} else {
				repl = reHost
			}
		case tn == "SKIPLINES":
			repl = `\n(?P<skiplines` + strconv.Itoa(skip) + `>(?:(?:.*\n)*?))`
			skip++
		case hostTags[tn] != "":
			repl = hostTags[tn]
		default:
			closing, name, isF := customTag(tn)
			switch {
			case !isF:
				replaced = false
			case closing:
				if open[name] {
					repl = ")"
				} else {
					replaced = false
				}
			default:
				open[name] = true
				repl = "(?P<" + mapTag2Opt(name) + ">"
			}
		}
		if replaced {
			b.WriteString(regex[last:i])
			b.WriteString(repl)
			last = end
		}
		i = end - 1
	}
	b.WriteString(regex[last:])
	return b.String()
}

// scanTag matches FTAG_CRE = </?[\w\-]+/?> at i and returns its end.
func scanTag(s string, i int) (int, bool) {
	j := i + 1
	if j < len(s) && s[j] == '/' {
		j++
	}
	k := j
	for k < len(s) {
		r, n := utf8.DecodeRuneInString(s[k:])
		if r != '-' && !pyre.IsWord(r) {
			break
		}
		k += n
	}
	if k == j {
		return 0, false
	}
	if k < len(s) && s[k] == '/' {
		k++
	}
	if k < len(s) && s[k] == '>' {
		return k + 1, true
	}
	return 0, false
}

// customTag matches FCUSTNAME_CRE = ^(/?)F-([A-Z0-9_\-]+)$.
func customTag(tn string) (closing bool, name string, ok bool) {
	if strings.HasPrefix(tn, "/") {
		closing = true
		tn = tn[1:]
	}
	if !strings.HasPrefix(tn, "F-") || len(tn) == 2 {
		return false, "", false
	}
	name = tn[2:]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false, "", false
		}
	}
	return closing, name, true
}

// globalToLocalFlags is Fail2Ban's R_GLOB2LOCFLAGS rewrite:
// (?<!\\)\((?:\?:)?(\(\?[a-z]+)\) -> \1:, so "((?i)x)" and "(?:(?i)x)"
// become "(?i:x)".
func globalToLocalFlags(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '(' || (i > 0 && s[i-1] == '\\') {
			continue
		}
		j := i + 1
		if strings.HasPrefix(s[j:], "?:") {
			j += 2
		}
		if !strings.HasPrefix(s[j:], "(?") {
			continue
		}
		k := j + 2
		for k < len(s) && s[k] >= 'a' && s[k] <= 'z' {
			k++
		}
		if k == j+2 || k >= len(s) || s[k] != ')' {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(s[j:k])
		b.WriteString(":")
		last = k + 1
		i = k
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// complexName matches COMPLNAME_CRE = ^(alt_|tuple_)(.*?)(?:_\d+)?$ on a
// group name longer than "alt_" and returns the kind and the target name.
func complexName(k string) (kind, target string, ok bool) {
	if len(k) <= len("alt_") {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(k, "alt_"):
		kind, k = "alt", k[len("alt_"):]
	case strings.HasPrefix(k, "tuple_"):
		kind, k = "tuple", k[len("tuple_"):]
	default:
		return "", "", false
	}
	// the lazy (.*?) leaves a trailing _\d+ to the optional group
	if i := strings.LastIndexByte(k, '_'); i >= 0 && i+1 < len(k) {
		digits := true
		for _, c := range k[i+1:] {
			if c < '0' || c > '9' {
				digits = false
				break
			}
		}
		if digits {
			// (.*?) is lazy: the shortest prefix such that the rest is _\d+
			j := strings.IndexByte(k, '_')
			for j >= 0 {
				rest := k[j+1:]
				if rest != "" && strings.Trim(rest, "0123456789") == "" {
					k = k[:j]
					break
				}
				n := strings.IndexByte(k[j+1:], '_')
				if n < 0 {
					break
				}
				j += 1 + n
			}
		}
	}
	return kind, mapTag2Opt(k), true
}
