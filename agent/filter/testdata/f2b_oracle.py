#!/usr/bin/python3
"""Single-line reference oracle for the banfleet sshd filter.

Reads JSON-encoded log lines (one JSON string per input line) on stdin and
writes one JSON object per line on stdout describing what Fail2Ban's own
regular expressions make of the line *without* multi-line (MLFID) state:
the date is found and cut out by Fail2Ban's DateDetector, the prefregex is
applied, then the failregexes are tried in order and the first one that
matches wins (the daemon's behaviour, checkAllRegex=False).

Usage: f2b_oracle.py CONFIG-DIR [mode] [usedns]
CONFIG-DIR is the reference tree's etc/fail2ban; mode and usedns default to
normal and no.
Fail2Ban's "now" is pinned by the BANFLEET_NOW environment variable
(Unix seconds) so that year inference is reproducible.
"""
import json
import os
import sys

from fail2ban.client.filterreader import FilterReader
from fail2ban.server.datedetector import DateDetector
from fail2ban.server.failregex import FailRegex, Regex
from fail2ban.server.mytime import MyTime


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: f2b_oracle.py CONFIG-DIR [mode] [usedns]")
    basedir = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "normal"
    usedns = sys.argv[3] if len(sys.argv) > 3 else "no"
    now = os.environ.get("BANFLEET_NOW")
    if now:
        MyTime.setTime(int(now))

    fr = FilterReader("sshd", "sshd", {"mode": mode}, share_config={}, basedir=basedir)
    fr.read()
    fr.getOptions({})
    pref, fails = None, []
    datepattern = None
    for opt in fr.convert():
        if opt[2] == "prefregex":
            pref = opt[3]
        elif opt[2] == "addfailregex":
            fails.extend(opt[3] if isinstance(opt[3], list) else [opt[3]])
        elif opt[2] == "datepattern":
            datepattern = opt[3]
    prefre = Regex(pref, useDns=usedns)
    failres = [FailRegex(r, prefRegex=prefre, useDns=usedns) for r in fails]

    dd = DateDetector()
    dd.appendTemplate(datepattern or "{^LN-BEG}")

    for raw in sys.stdin:
        line = json.loads(raw)
        out = {"rule": -1, "nofail": False, "ip": None, "dns": None,
               "user": None, "date": None, "content": None}
        tm = dd.matchTime(line)
        m = tm[0]
        tuple_line = ("", "", line)
        if m:
            s, e = m.start(1), m.end(1)
            txt = line[s:e]
            tuple_line = (line[:s], txt, line[e:])
            if txt:
                d = dd.getTime(txt, tm)
                if d is not None:
                    out["date"] = d[0]
        buf = Regex._tupleLinesBuf([tuple_line])
        prefre.search(buf, [tuple_line])
        if prefre.hasMatched():
            groups = prefre.getGroups()
            content = groups.get("content")
            out["content"] = content
            cbuf = content + "\n"
            for i, fre in enumerate(failres):
                fre.search(cbuf, [("", "", content)])
                if not fre.hasMatched():
                    continue
                g = fre.getGroups()
                out["rule"] = i
                out["nofail"] = bool(g.get("nofail"))
                out["ip"] = g.get("ip4") or g.get("ip6")
                out["dns"] = g.get("dns")
                out["user"] = g.get("user")
                break
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
