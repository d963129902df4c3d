#!/usr/bin/python3
"""Python 3 re as the oracle for the pyre engine.

Writes a gzip-compressed JSON list of {pattern, error, cases: [[input, pos,
endpos, spans]]} to stdout: a fixed list of patterns plus random ones from a small grammar,
each searched in several inputs. Spans are UTF-8 byte offsets per group
(-1 when a group did not take part); spans is null when there is no match.

Run: /usr/bin/python3 pyre_oracle.py > pyre_golden.json.gz
"""
import gzip
import json
import random
import re
import sys

FIXED = [
    r"a|ab", r"(a|ab)(c|bcd)(d*)", r"(a*)*b", r"(a|)*b", r"(a?)*?b", r"(?:(a)|b)*",
    r"\bfoo\b", r"\Bo\B", r"^a", r"a$", r"a\Z", r"\Aa", r"(?m)^b", r"(?m)a$",
    r"(?i)ABC", r"(?i)[a-z]+", r"(?i)s", r"(?i)k", r"(?i)i", r"[^a-c]+", r"[\d\-]+",
    r"(?P<x>a+)(?P=x)", r"(a)(b)?(?(2)c|d)", r"(?<=ab)c", r"(?<!a)b", r"a(?=b)", r"a(?!b)",
    r"(?>a+)b", r"a++b", r"a*+a", r"x{2,3}", r"x{,2}y", r"x{2,}?", r"x{}", r"{DATE}",
    r"\d{10,11}\b(?:\.\d{3,6})?", r"(?:\W{0,2})?(\w+)", r"[]a]", r"[^]a]", r"[a-]", r"\x41\u00e9",
    r"(?x) a b # comment\n c", r"(?s).+", r".+", r"\s+", r"\S+", r"\w+", r"\W+", r"\d+",
    r"(?a)\w+", r"(?i:a)b", r"(?i)a(?-i:b)", r"()", r"(?:)*", r"(a*)+", r"(a*)*?b",
    r"(?=^|\b|\W)(\d+)(?=\b|\W|$)", r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))\d{10,11}\b(?:\.\d{3,6})?)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))",
    r"(?iu)^(?:\W{0,2})?((?:(?P<a>mon|tue|wed|thu|fri|sat|sun) )?(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]) ?(?P<H>[0-2]?\d):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1])(?:\.(?P<f>[0-9]{1,6}))?(?: (?P<Y>20[012]\d))?)(?=\b|\W|$)",
    r"(?=^|\b|\W)((?P<Y>20[012]\d)(?P<_sep>[-/.])(?P<m>0?[1-9]|1[0-2])(?P=_sep)(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])(?:T|  ?)(?P<H>[0-1]?\d|2[0-3]):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1])(?:[.,](?P<f>[0-9]{1,6}))?(?:\s*(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?))?)(?=\b|\W|$)",
    r"^[^\[]*\[(\d+)", r"(?<=\|\s)(\d+)(?=\s\|)", r"\**x\**", r"(a|b|ab)*c", r"(a+|b+)*c",
    r"(?:a|ab)(?:c|bcd)", r"((a)|b)+", r"(a)|(b)", r"(?P<n>x)?(?(n)y|z)",
]

FIXED_INPUTS = [
    "", "a", "ab", "abc", "abcd", "aab", "b", "foo bar", "xfoo foo.", "ABC abc", "ſ", "K",
    "İ", "ı", "a\n", "a\nb\n", "x", "xx", "xxx", "xxxxy", "{DATE}", "1106513999.000 x",
    "[1106513999.000] x", "audit(1106513999.555:101): x", "12345678901234", "a1b2 33 4",
    "Nov 26 06:35:46 host", "nov  6 6:35:46.123 2026x", "  Sun Jan 23 21:59:59 2005 x",
    "2005-01-23T21:59:59.981746+01:00 x", "2005/1/2  3:04:05 Z", "abc[123] x", "| 1138049999 |",
    "é1 22 333", "ab\u0663c", "\u00e9t\u00e9", "**x**", "aaab", "abab", "bbbc", "abcbcd", "xyz",
]

ALPHA = ["a", "b", "c", "1", "2", " ", ":", "-", "é", "A", "\n", "["]


def gen_atom(d, groups, names):
    r = random.random()
    if d > 3 or r < 0.35:
        return random.choice(["a", "b", "c", "1", " ", ":", "-", "é", "A", "\\d", "\\w", "\\s", "\\W",
                              ".", "[ab]", "[^a]", "[a-c1]", "[\\d:]", "\\b", "\\B", "^", "$"])
    if r < 0.55:
        groups[0] += 1
        g = groups[0]
        body = gen_alt(d + 1, groups, names)
        closed[0] = max(closed[0], g)
        if random.random() < 0.3:
            nm = "g%d" % g
            names.append(nm)
            return "(?P<%s>%s)" % (nm, body)
        return "(%s)" % body
    if r < 0.65:
        return "(?:%s)" % gen_alt(d + 1, groups, names)
    if r < 0.72:
        return "(?%s%s)" % (random.choice(["=", "!", "<=", "<!"]), gen_fixed(d + 1))
    if r < 0.76:
        return "(?>%s)" % gen_alt(d + 1, groups, names)
    if r < 0.82 and names:
        return "(?P=%s)" % random.choice(names)
    if r < 0.88 and closed[0] > 0:
        return "(?(%d)%s|%s)" % (random.randint(1, closed[0]), gen_seq(d + 1, groups, names), gen_seq(d + 1, groups, names))
    return gen_seq(d + 1, groups, names)


def gen_fixed(d):
    return "".join(random.choice(["a", "b", "1", " ", "\\d", "\\w", "[ab]", "."]) for _ in range(random.randint(1, 3)))


def gen_seq(d, groups, names):
    out = ""
    for _ in range(random.randint(1, 4)):
        a = gen_atom(d, groups, names)
        if random.random() < 0.35 and a not in ("^", "$", "\\b", "\\B") and a[-1] not in "*+?}":
            a += random.choice(["*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{,2}", "{2,}?", "*+", "?+"])
        out += a
    return out


def gen_alt(d, groups, names):
    return "|".join(gen_seq(d, groups, names) for _ in range(random.randint(1, 3)))


closed = [0]


def gen_pattern():
    closed[0] = 0
    groups = [0]
    names = []
    p = gen_alt(0, groups, names)
    if random.random() < 0.2:
        p = "(?i)" + p
    return p


def byte_off(s, i):
    return len(s[:i].encode("utf-8"))


def add(cases, c):
    if c is not None:
        cases.append(c)


def case(pattern, s, pos=0, endpos=None):
    c = {"pattern": pattern, "input": s, "pos": byte_off(s, pos),
         "endpos": byte_off(s, len(s) if endpos is None else endpos)}
    try:
        rx = re.compile(pattern)
    except Exception as e:  # re.error, OverflowError, ...
        c["error"] = str(e)
        return c
    if rx.groups > 8:
        return None
    try:
        m = rx.search(s, pos, len(s) if endpos is None else endpos)
    except SystemError:  # a CPython bug on some generated patterns
        return None
    if m is None:
        c["spans"] = None
    elif any(b < a for a, b in (m.span(g) for g in range(rx.groups + 1))):
        return None  # a CPython bug (end before start) seen with lookbehinds
    else:
        c["spans"] = [[byte_off(s, a) if a >= 0 else -1, byte_off(s, b) if b >= 0 else -1]
                      for a, b in (m.span(g) for g in range(rx.groups + 1))]
    return c


def main():
    random.seed(20261126)
    cases = []
    for p in FIXED:
        for s in FIXED_INPUTS:
            add(cases, case(p, s))
        for s in FIXED_INPUTS:
            if len(s) > 3:
                add(cases, case(p, s, 1, len(s) - 1))
    for _ in range(1500):
        p = gen_pattern()
        for _ in range(6):
            s = "".join(random.choice(ALPHA) for _ in range(random.randint(0, 12)))
            add(cases, case(p, s))
        s = "".join(random.choice(ALPHA) for _ in range(random.randint(4, 12)))
        add(cases, case(p, s, 1, len(s) - 1))
    byp = {}
    for c in cases:
        e = byp.setdefault(c["pattern"], {"pattern": c["pattern"], "cases": []})
        if "error" in c:
            e["error"] = c["error"]
            continue
        e["cases"].append([c["input"], c["pos"], c["endpos"], c["spans"]])
    data = "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in byp.values()) + "\n]\n"
    sys.stdout.buffer.write(gzip.compress(data.encode("utf-8"), 9, mtime=0))


if __name__ == "__main__":
    main()
