#!/usr/bin/python3
"""The reference Fail2Ban's (1.0.2) DateDetector as the oracle for banfleet's date package.

Runs Fail2Ban's own DateDetector, as Filter.processLine uses it, over
  (a) every line of every sample log shipped with Fail2Ban
      (fail2ban/tests/files/logs/** and fail2ban/tests/files/*.log), once
      with the default templates and once with the datepattern of the
      filter of the same name, one detector per file and pass;
  (b) synthetic lines covering each default template and each datepattern
      of the reference tree's filter.d/*.conf (plus the patterns of Fail2Ban's
      date tests), one detector per pattern;
  (c) lines whose year or day must be guessed, with "now" around New Year.

Time zone and "now" are those of Fail2Ban's tests: TZ=CET-01CEST-02,
M3.5.0,M10.5.0 and now = 1124013600 (2005-08-14 12:00 CEST), except in (c).

Output (gzip-compressed JSON on stdout): the directive table, %ExY per
year, the lines (each once) and the template names (each once), and runs
{name, pattern, tz, now, results} with one result per line searched:
[line] when no template matched, [line, "exc"] when matchTime raised (an
empty match at the end of the line), else [line, start, end, time, template]:
the byte span of group 1 (what processLine cuts out), the Unix time as a
float (null: no date; "err": Fail2Ban raised while reading it), and the
template. A run whose detector Fail2Ban cannot build has "error".

Run: PYTHONPATH=<tree's fail2ban package dir> FAIL2BAN_CONFIG_DIR=<tree's etc/fail2ban> \
         /usr/bin/python3 f2b_dates.py > f2b_dates.json.gz
The tests run it (internal/testutil/f2bref.Tree.Python) on the reference tree and cache
the output under .cache/f2bfixtures; it is never committed.
"""
import os
import time

TZ = "CET-01CEST-02,M3.5.0,M10.5.0"
NOW = 1124013600
os.environ["TZ"] = TZ
time.tzset()

import datetime  # noqa: E402
import glob  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402

import fail2ban  # noqa: E402
from fail2ban.server import strptime  # noqa: E402
from fail2ban.server.datedetector import DateDetector  # noqa: E402
from fail2ban.server.mytime import MyTime  # noqa: E402
from fail2ban.client.filterreader import FilterReader  # noqa: E402

FILES = os.path.join(os.path.dirname(fail2ban.__file__), "tests", "files")


def exy_table():
    """%ExY as strptime._updateTimeRE builds it, for a range of years."""
    real = strptime.datetime

    class FakeDT(real.datetime):
        year_ = 2000

        @classmethod
        def now(cls, tz=None):
            return real.datetime(cls.year_, 6, 15)

    class FakeModule:
        datetime = FakeDT

    out = {}
    saved = strptime.timeRE["ExY"]
    try:
        strptime.datetime = FakeModule
        for y in range(1995, 2061):
            FakeDT.year_ = y
            strptime._updateTimeRE()
            out[str(y)] = strptime.timeRE["ExY"]
    finally:
        strptime.datetime = real
        strptime.timeRE["ExY"] = saved
    return out


LINES = {}
NAMES = {}


def intern(table, s):
    if s not in table:
        table[s] = len(table)
    return table[s]


def byte_off(s, i):
    return len(s[:i].encode("utf-8"))


def process(dd, line):
    """What Filter.processLine gets from the detector for one line."""
    m, tmpl = dd.matchTime(line)
    if not m:
        return None
    s, e = m.start(1), m.end(1)
    if s < 0:
        return [0, 0, None, intern(NAMES, tmpl.name)]
    text = line[s:e]
    t = None
    if text:
        try:
            r = dd.getTime(text, (m, tmpl))
            t = r[0] if r is not None else None
        except Exception:  # Fail2Ban lets these escape processLine
            t = "err"
    if isinstance(t, int):
        t = float(t)
    return [byte_off(line, s), byte_off(line, e), t, intern(NAMES, tmpl.name)]


def detector(pattern, tz=None):
    dd = DateDetector()
    if pattern is not None:
        for p in [p.strip() for p in pattern.split("\n")]:
            if p:
                dd.appendTemplate(p)
    if tz is not None:
        dd.default_tz = tz
    return dd


def run(name, pattern, lines, tz=None, now=NOW):
    MyTime.setTime(now)
    r = {"name": name, "pattern": pattern, "tz": tz, "now": now, "results": []}
    try:
        dd = detector(pattern, tz)
        # Fail2Ban compiles lazily: a bad regex only shows at the first search
        for t in dd.templates:
            t.template._compileRegex() if hasattr(t.template, "_compileRegex") else None
    except Exception as e:
        r["error"] = str(e)
        return r
    for line in lines:
        li = intern(LINES, line)
        try:
            res = process(dd, line)
        except IndexError:  # matchTime fails on an empty match at the end of the line
            res = ["exc"]
        r["results"].append([li] if res is None else [li] + res)
    return r


def filter_datepatterns():
    pats = {}
    confdir = os.environ["FAIL2BAN_CONFIG_DIR"]
    for f in sorted(glob.glob(os.path.join(confdir, "filter.d", "*.conf"))):
        n = os.path.basename(f)[:-5]
        try:
            r = FilterReader(n, "j", {}, share_config={}, basedir=confdir)
            r.read()
            r.getOptions({})
            for s in r.convert():
                if s[2] == "datepattern":
                    pats[n] = s[3]
        except Exception:
            pass
    return pats


def sample_logs():
    files = sorted(glob.glob(os.path.join(FILES, "logs", "**", "*"), recursive=True))
    files += sorted(glob.glob(os.path.join(FILES, "*.log")))
    out = []
    for f in files:
        if not os.path.isfile(f):
            continue
        with open(f, encoding="utf-8", errors="surrogateescape") as fh:
            lines = [l.rstrip("\r\n") for l in fh]
        # keep lines that survive a UTF-8 round trip (JSON needs it)
        lines = [l for l in lines if not any(0xDC80 <= ord(c) <= 0xDCFF for c in l)]
        out.append((os.path.relpath(f, FILES), lines))
    return out


# Dates in every format the default templates know, and some they almost
# know.
DATES = [
    "Jan 23 21:59:59", "Sun Jan 23 21:59:59 2005", "Sun Jan 23 21:59:59", "Sun Jan 23 2005 21:59:59",
    "2005/01/23 21:59:59", "2005.01.23 21:59:59", "23/01/2005 21:59:59", "23/01/05 21:59:59",
    "23/Jan/2005:21:59:59", "23/Jan/2005:21:59:59 +0100", "01/23/2005:21:59:59", "2005-01-23 21:59:59",
    "2005-01-23 21:59:59,000", "23-Jan-2005 21:59:59", "23-Jan-2005 21:59:59.02", "23-Jan-2005 21:59:59 +0100",
    "23-01-2005 21:59:59", "1106513999", "01-23-2005 21:59:59.252", "@4000000041f4104f00000000",
    "2005-01-23T20:59:59.252Z", "2005-01-23T15:59:59-05:00", "20050123T215959", "20050123 215959",
    "<01/23/05@21:59:59>", "050123 21:59:59", "Jan-23-05 21:59:59", "Jan 23, 2005 9:59:59 PM",
    "Jan 23, 2005 12:59:59 AM", "1106513999.000", "[1106513999.000]", "audit(1106513999.000:987)",
    "Nov 26 06:35:46", "Nov  6 06:35:46", "Nov 6 6:35:46", "nov 26 06:35:46", "NOV 26 06:35:46.123456",
    "Nov 26 06:35:46.1234567", "Nov 26 06:35:46 2005", "Nov 26 06:35:46 2005x", "Feb 29 12:00:00",
    "Feb 29 12:00:00 2004", "Feb 30 12:00:00", "Aug 14 12:00:00", "Aug 15 11:59:59", "Aug 15 12:00:01",
    "Aug 16 12:00:00", "Dec 31 23:59:59", "Jan  1 00:00:00", "2005-08-14T10:00:00.123456+00:00",
    "2026-11-26T06:35:46.123456+00:00", "2005-08-14 12:00:00 +0200", "2005-08-14 12:00:00 UTC",
    "2005-08-14 12:00:00 GMT", "2005-08-14 12:00:00  Z", "2005-08-14T12:00:00+01", "2005-08-14T12:00:00+0130",
    "2005-8-4 2:00:00", "2005-08-14  2:00:00", "2005-13-14 12:00:00", "2005-02-30 12:00:00",
    "2005-08-14 24:00:00", "2005-08-14 23:59:60", "2005-08-14 23:59:61", "31/Oct/2006:09:22:55 -0000",
    "[31/Oct/2006:09:22:55 -0000]", "31/Oct/2006 09:22:55", "31-Oct-2006 09:22:55.123 +0200",
    "05/20/2008:01:57:39", "PDT Apr 16 21:05:29", "CEST Apr 16 21:05:29 2005", "XYZ Apr 16 21:05:29",
    "+00:00 Jan 23 21:59:59.011 2005", "-0500 Jan 23 21:59:59", "error Jan 23 21:59:59", "21:59:59",
    "09:00:00", "12:00:01", "23:59:59", "2005-03-27 02:30:00", "2005-10-30 02:30:00",
    "2005-03-27 01:59:59", "2005-10-30 01:30:00", "1138049999", "32535244799", "1138049999.555",
    "1138049999555", "1138049999555555", "113804999912", "0000-12-30 00:00:00", "2003-12-30 00:00:00",
    "20031230 010203", "200333 010203", "030324  0:03:59", "Sep 16 21:30:26", "Apr-27-13 02:33:06",
    "Mon Aug 8 11:25:50", "Aug 8 11:25:50 2014", "TIME:20050102T010203", "01 11 Wednesday 21:59:59",
    "January 23 12:59:59", "09/01 21:59:59", "2004-09-01", "2004-09-01Z", "20:00:00 01.02.2003",
    "[20:00:00 01.02.2003]", "[17/Jun/2011 17:00:45]", "L 17/06/2011 - 17:00:45", "2011:06:17-17:00:45",
    "t=2011-06-17T17:00:45+0200", "06/17/2011 17:00:45", "WARNING: x", "<co ts=\"2011-06-17T17:00:45.123+02:00\" x",
    "<W>2011-06-17 17:00:45.123 1 => x", "06-17 17:00:45.123", "2011-06-17 17:00:45.123",
    "<38>1 2011-06-17T17:00:45.123456+02:00 host", "--- -- x -- - 2011-06-17 17:00:45,123", "١٢:٣٤:٥٦",
    "Nov ٢٦ 06:35:46", "ſep 26 06:35:46", "\u212aov 26 06:35:46", "Nov 26 06:35:46é", "éNov 26 06:35:46",
    "Nov 26 06:35:46\u00a0x", "2005-08-14\u00a012:00:00",
]

PREFIXES = ["", "[", "bogus-prefix ", "host sshd[123]: ", "x", "  "]
SUFFIXES = ["", " [sshd] error: PAM: Authentication failure", "x", "123"]


def synthetic_lines():
    lines = []
    for d in DATES:
        for p in PREFIXES:
            lines.append(p + d + " host sshd[1]: message")
        for s in SUFFIXES:
            lines.append(d + s)
    lines += ["", "no date line", "Connection closed by 192.0.2.1 port 22 [preauth]",
              "some free text 030324  0:03:59 -- 2003-03-07 17:05:01 ...",
              "server mysqld[1000]: 030324  0:04:00 [Warning] Access denied ... foreign-input just some free text 2003-03-07 17:05:01 test",
              "server mysqld[1020]: Sep 16 21:30:26 server mysqld: 030916 21:30:26 [Warning] Access denied",
              "server mysqld[5906]: 2005-10-07 06:09:42 5907 [Warning] Access denied",
              "server mysqld[5906]: 2005-10-08T15:26:18.237955 6 [Note] Access denied",
              "server mysqld[1000]: 051009 10:05:30 [Warning] Access denied ..."]
    return lines


def mutated_lines(n):
    rnd = random.Random(20261126)
    alphabet = "0123456789 :-/.TZ+[]@abcxAMP\u00e9"
    out = []
    for _ in range(n):
        s = rnd.choice(DATES)
        s = rnd.choice(PREFIXES) + s
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randint(0, len(s))
            op = rnd.random()
            if op < 0.4 and i < len(s):
                s = s[:i] + rnd.choice(alphabet) + s[i + 1:]
            elif op < 0.7:
                s = s[:i] + rnd.choice(alphabet) + s[i:]
            elif i < len(s):
                s = s[:i] + s[i + 1:]
        out.append(s + rnd.choice(SUFFIXES))
    return out


TEST_PATTERNS = [
    "EPOCH", "LEPOCH", "^EPOCH", "{^LN-BEG}EPOCH", "TAI64N", "{^LN-BEG}TAI64N", r"(?<=\|\s){LEPOCH}(?=\s\|)",
    r"^%ExY-%Exm-%Exd %H:%M:%S(?: ?%Exz)?", r"%H:%M:%S", r"{UNB}%H:%M:%S", r"%H:%M:%S %d.%m.%Y$",
    r"\[%H:%M:%S %d.%m.%Y\]", r"^\[%H:%M:%S %d.%m.%Y\]", r"**%H:%M:%S %d.%m.%Y**", r"\**%H:%M:%S %d.%m.%Y\**",
    r"%Y-%Exm-%Exd %ExH:%ExM:%ExS", r"%ExY-%Exm-%Exd %ExH:%ExM:%ExS", r"%Y%m%d %H%M%S",
    r"%ExY%Exm%Exd %ExH%ExM%ExS", r"{^LN-BEG}%ExY%Exm%Exd %ExH%ExM%ExS", r"{^LN-BEG}%ExY%Exm%Exd%ExH%ExM%ExS**",
    r"{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %z)?", r"{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %Z)?",
    r"^%B %Exd %I:%ExM:%ExS**", r"^%y %U %A %ExH:%ExM:%ExS**", r"^%y %W %A %ExH:%ExM:%ExS**",
    r"^%y %W %w %ExH:%ExM:%ExS**", r"^%ExH:%ExM:%ExS**", r"^%m/%d %ExH:%ExM:%ExS**", r"^%Y-%m-%d**",
    r"^%Y-%m-%d%z**", r"(?iu)**time:%ExY%Exm%ExdT%ExH%ExM%ExS**", r"{^LN-BEG}time:%ExY%Exm%ExdT%ExH%ExM%ExS",
    r"^%Y %b %d", r"^(?:%a )?%b %d %H:%M:%S(?:\.%f)?(?: %ExY)?", r"^%Y-%m-%d-%H%M%S\.%f %z **",
    r"{^LN-BEG}%Y-%m-%d %H:%M:%S(?:\s*%Z)?\s", r"%Y %m %d %H:%M:%S", r"{NONE}", "{DEFAULT}", "{^LN-BEG}",
    r"^%j %Y %H:%M:%S", r"^%d %H:%M:%S", r"^%c", r"^%x %X", r"%Exk:%M:%S %Exl", r"^%l:%M:%S %p",
    r"^<\d+>\d+\s+{DATE}", r"^%H:%M:%S.%f", r"^WARNING:()**", r"{date}", r"^{DATE}\s", r"**{DATE}**",
]

NEW_YEAR = [
    # (now, line, pattern)
    (datetime.datetime(2005, 12, 31, 23, 30), "Dec 31 23:59:59 host x", None),
    (datetime.datetime(2005, 12, 31, 23, 30), "Jan  1 00:00:01 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Dec 31 23:59:59 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Jan  1 00:00:01 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Jan  2 00:00:05 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Jan  2 00:00:06 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Jan  3 00:00:00 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "Dec 31 23:59:59 host x", "UTC+0200"),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "+0200 Jan  2 01:00:00 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "-0200 Jan  1 23:00:00 host x", None),
    (datetime.datetime(2006, 1, 1, 0, 0, 5), "+0100 Jan  2 00:30:00 host x", None),
    (datetime.datetime(2005, 2, 28, 12, 0), "Feb 29 12:00:00 host x", None),
    (datetime.datetime(2004, 2, 29, 12, 0), "Feb 29 12:00:00 host x", None),
    (datetime.datetime(2005, 3, 1, 12, 0), "Mar  2 12:00:01 host x", None),
    (datetime.datetime(2005, 1, 1, 0, 30), "23:59:59 host x", "{^LN-BEG}%H:%M:%S"),
    (datetime.datetime(2005, 1, 1, 0, 30), "00:15:00 host x", "{^LN-BEG}%H:%M:%S"),
    (datetime.datetime(2005, 1, 1, 0, 30), "00:45:00 host x", "{^LN-BEG}%H:%M:%S"),
    (datetime.datetime(2005, 3, 27, 12, 0), "02:30:00 host x", "{^LN-BEG}%H:%M:%S"),
    (datetime.datetime(2005, 10, 30, 12, 0), "02:30:00 host x", "{^LN-BEG}%H:%M:%S"),
    (datetime.datetime(2005, 1, 1, 0, 30), "23:59:59 host x", "{^LN-BEG}%H:%M:%S\n"),
    (datetime.datetime(2026, 11, 26, 9, 0), "Nov 27 08:59:59 host x", None),
    (datetime.datetime(2026, 11, 26, 9, 0), "Nov 27 09:00:01 host x", None),
    (datetime.datetime(2026, 11, 26, 9, 0), "Nov 27 09:00:01 host x", "UTC-0500"),
]


def main():
    logging.getLogger("fail2ban").setLevel(logging.CRITICAL)
    DateDetector._defCache.templates  # build the default cache first, as a running Fail2Ban has
    out = {
        "tz": TZ, "now": NOW, "year": datetime.datetime.now().year,
        "exy": exy_table(),
        "timere": {k: v for k, v in strptime.timeRE.items()},
        "runs": [],
    }
    fpats = filter_datepatterns()
    for name, lines in sample_logs():
        out["runs"].append(run(name + " (default)", None, lines))
        base = os.path.basename(name)
        if base in fpats:
            out["runs"].append(run(name + " (datepattern)", fpats[base], lines))
    syn = synthetic_lines()
    mut = mutated_lines(3000)
    patterns = [None] + sorted(set(fpats.values())) + TEST_PATTERNS
    for p in patterns:
        out["runs"].append(run("synthetic", p, syn))
    for p in [None, "{^LN-BEG}", "^[^\\[]*\\[({DATE})\n{^LN-BEG}", "%H:%M:%S", "EPOCH"]:
        out["runs"].append(run("mutated", p, mut))
    for tz in ["UTC", "UTC+0200", "CET", "-0430", "GMT+12", "CEST-01", "CET+0130"]:
        out["runs"].append(run("logtimezone", None, syn, tz=tz))
        out["runs"].append(run("logtimezone", "^%ExY-%Exm-%Exd %H:%M:%S(?: ?%Exz)?", syn, tz=tz))
    for now, line, pattern in NEW_YEAR:
        tz = None
        if pattern is not None and pattern.startswith("UTC"):
            tz, pattern = pattern, None
        out["runs"].append(run("new year", pattern, [line], tz=tz, now=time.mktime(now.timetuple())))
    out["lines"] = list(LINES)
    out["templates"] = list(NAMES)
    data = json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sys.stdout.buffer.write(gzip.compress(data, 9, mtime=0))


if __name__ == "__main__":
    main()
