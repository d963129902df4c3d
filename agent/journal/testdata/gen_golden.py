#!/usr/bin/python3
"""Regenerate the golden files of agent/journal from Fail2Ban's own code.

Run from agent/journal:  /usr/bin/python3 testdata/gen_golden.py

Needs Debian's fail2ban (1.0.2), python3-systemd and systemd-journal-remote
(apt-get install -y fail2ban python3-systemd systemd-journal-remote).

Writes:
  testdata/format_golden.json  field sets -> FilterSystemd.formatJournalEntry
  testdata/match_golden.json   journalmatch values -> the match groups
                               Fail2Ban adds (filterreader + addJournalMatch)
  testdata/e2e_golden.json     testdata/e2e-N.export converted to journal
                               files, read back by python-systemd exactly as
                               Fail2Ban's systemd backend reads them, and
                               formatted by formatJournalEntry.

Field values are fed through python-systemd's own converters
(Reader._convert_entry), as FilterSystemd receives them.
"""
import glob
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["TZ"] = "UTC"
time.tzset()  # before systemd.journal computes its local timezone

from systemd import journal  # noqa: E402
from fail2ban.server.filtersystemd import FilterSystemd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REMOTE = next(p for p in ("/lib/systemd/systemd-journal-remote",
                          "/usr/lib/systemd/systemd-journal-remote",
                          shutil.which("systemd-journal-remote") or "")
              if p and os.path.exists(p))


class FakeFilter:
    """What formatJournalEntry uses of its FilterSystemd instance."""
    jailName = "golden"

    def getLogEncoding(self):
        return "UTF-8"

    def getJrnEntTime(self, entry):
        return FilterSystemd.getJrnEntTime(self, entry)


FAKE = FakeFilter()
TMP = tempfile.mkdtemp(prefix="banfleet-golden-")
READER = journal.Reader(**FilterSystemd._getJournalArgs({"journalpath": TMP}))


def f2b_format(entry):
    (_, _, line), tm = FilterSystemd.formatJournalEntry(FAKE, entry)
    return line, tm


def encode_value(v):
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": v.hex()}


def format_case(name, fields):
    """fields: str -> bytes, raw as sd_journal returns them."""
    raw = {}
    for k, v in fields.items():
        if k == "__REALTIME_TIMESTAMP":
            raw[k] = int(v)
        elif k == "__MONOTONIC_TIMESTAMP":
            raw[k] = (int(v), b"\x01" * 16)
        else:
            raw[k] = v
    case = {"name": name, "fields": {k: encode_value(v) for k, v in fields.items()}}
    try:
        line, tm = f2b_format(READER._convert_entry(raw))
        case["line"] = line
        case["time"] = tm
    except Exception as e:  # Fail2Ban loses such an entry
        case["error"] = "%s: %s" % (type(e).__name__, e)
    return case


def base(**kw):
    f = {"__REALTIME_TIMESTAMP": b"1700000000123456",
         "__MONOTONIC_TIMESTAMP": b"5000000",
         "_HOSTNAME": b"web1", "SYSLOG_IDENTIFIER": b"sshd", "_PID": b"4242",
         "MESSAGE": b"Failed password for root from 203.0.113.9 port 4242 ssh2"}
    for k, v in kw.items():
        if v is None:
            f.pop(k, None)
        else:
            f[k] = v if isinstance(v, bytes) else v.encode()
    return f


def format_cases():
    c = [
        ("sshd", base()),
        ("ipv6 trailing space", base(MESSAGE="Invalid user admin from 2001:db8::5 port 55 ")),
        ("syslog pid wins", base(SYSLOG_PID="31337")),
        ("syslog pid 0 falls back", base(SYSLOG_PID="0")),
        ("pid 0 dropped", base(_PID="0")),
        ("comm when no ident", base(SYSLOG_IDENTIFIER=None, _COMM="sshd")),
        ("empty ident uses comm", base(SYSLOG_IDENTIFIER="", _COMM="sshd")),
        ("no ident no comm", base(SYSLOG_IDENTIFIER=None)),
        ("no host", base(_HOSTNAME=None)),
        ("empty host", base(_HOSTNAME="")),
        ("message only", base(_HOSTNAME=None, SYSLOG_IDENTIFIER=None, _PID=None)),
        ("no message", base(MESSAGE=None)),
        ("empty message", base(MESSAGE="")),
        ("nothing", base(_HOSTNAME=None, SYSLOG_IDENTIFIER=None, _PID=None, MESSAGE=None)),
        ("multi-line", base(MESSAGE="line1\nline2\n")),
        ("cr tab nul", base(MESSAGE="a\rb\tc\x00d")),
        ("newline in host", base(_HOSTNAME="we\nb1")),
        ("unicode", base(MESSAGE="Ünïcödé user 🚀 from 203.0.113.9")),
        ("invalid utf8 message", base(MESSAGE=b"bad \xff\xfe user \xc3 from 192.0.2.1")),
        ("truncated sequences", base(MESSAGE=b"\xe2\x82 \xf0\x9f\x98 \xe2\x82")),
        ("overlong and surrogate", base(MESSAGE=b"\xc0\xaf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf5")),
        ("invalid utf8 host", base(_HOSTNAME=b"web\xff1")),
        ("invalid utf8 ident", base(SYSLOG_IDENTIFIER=b"ss\xe9hd")),
        ("pid text", base(_PID="abc")),
        ("pid quote", base(_PID="a'b")),
        ("pid both quotes", base(_PID="a'b\"c\\d\te\n\x7f\xff")),
        ("pid hex", base(_PID="0x1f")),
        ("pid octal", base(_PID="0o17")),
        ("pid binary", base(_PID="0b101")),
        ("pid spaces", base(_PID=" 42 \n")),
        ("pid plus", base(_PID="+7")),
        ("pid minus", base(_PID="-7")),
        ("pid underscores", base(_PID="1_000")),
        ("pid double underscore", base(_PID="1__000")),
        ("pid leading zeros", base(_PID="007")),
        ("pid minus zero", base(_PID="-0")),
        ("pid hex zero", base(_PID="0x0")),
        ("pid hex underscore", base(_PID="0x_ff")),
        ("pid legacy octal", base(_PID="0_7")),
        ("pid huge", base(_PID="123456789012345678901234567890")),
        ("pid too many digits", base(_PID="9" * 4301)),
        ("pid huge hex", base(_PID="0x" + "f" * 3600)),
        ("syslog pid text", base(SYSLOG_PID="x1")),
        ("syslog pid empty", base(SYSLOG_PID="")),
        ("kernel source mono", base(SYSLOG_IDENTIFIER="kernel", _PID=None,
                                    _SOURCE_MONOTONIC_TIMESTAMP="123456789")),
        ("kernel journal mono", base(SYSLOG_IDENTIFIER="kernel", _PID=None)),
        ("kernel comm", base(SYSLOG_IDENTIFIER=None, _COMM="kernel", _PID=None)),
        ("kernel with pid", base(SYSLOG_IDENTIFIER="kernel")),
        ("kernel big mono", base(SYSLOG_IDENTIFIER="kernel", _PID=None,
                                 _SOURCE_MONOTONIC_TIMESTAMP="987654321098765")),
        ("kernel tiny mono", base(SYSLOG_IDENTIFIER="kernel", _PID=None,
                                  _SOURCE_MONOTONIC_TIMESTAMP="1")),
        ("source realtime", base(_SOURCE_REALTIME_TIMESTAMP="1700000000000001")),
    ]
    rnd = random.Random(20240601)
    pids = [b"1", b"0", b"", b"abc", b"0x10", b" 5", b"1_2", b"-3", b"\xff", b"'\"", b"007", b"0o8"]
    pieces = [b"a", b"Z", b" ", b"\n", b"\t", b"\x00", b"\x7f", b"\x80", b"\xc2", b"\xc3\xa9", b"\xe2\x82",
              b"\xe2\x82\xac", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xf0\x90", b"\xf0\x9f\x98\x80",
              b"\xf4\x8f\xbf\xbf", b"\xf4\x90", b"\xff", b"\xe0\x9f", b"\xe0\xa0\x80", b"from 203.0.113.9"]

    def rbytes():
        return b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))

    for i in range(150):
        f = {"__REALTIME_TIMESTAMP": str(1700000000000000 + i).encode(),
             "__MONOTONIC_TIMESTAMP": str(rnd.randint(0, 10**12)).encode()}
        for k in ("_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "MESSAGE"):
            if rnd.random() < 0.7:
                f[k] = rbytes()
        for k in ("SYSLOG_PID", "_PID"):
            if rnd.random() < 0.5:
                f[k] = rnd.choice(pids)
        if rnd.random() < 0.1:
            f["SYSLOG_IDENTIFIER"] = b"kernel"
            f.pop("SYSLOG_PID", None)
            f.pop("_PID", None)
        c.append(("random %d" % i, f))
    return [format_case(n, f) for n, f in c]


def f2b_match(value):
    """filterreader.FilterReader.convert + FilterSystemd.addJournalMatch."""
    reader = journal.Reader(**FilterSystemd._getJournalArgs({"journalpath": TMP}))
    groups = []
    for line in value.split("\n"):
        if line == "":
            continue
        try:
            words = shlex.split(line)
        except ValueError as e:
            return {"journalmatch": value, "error": "shlex: %s" % e}
        new = [[]]
        for w in words:
            if w == "+":
                new.append([])
            else:
                new[-1].append(w)
        for g in new:
            for w in g:
                try:
                    reader.add_match(w)
                except ValueError as e:
                    return {"journalmatch": value, "error": "add_match %r: %s" % (w, e)}
            reader.add_disjunction()
        groups.extend(new)
    # Empty groups add nothing to sd-journal's match expression.
    return {"journalmatch": value, "groups": [g for g in groups if g]}


MATCHES = [
    "",
    "_SYSTEMD_UNIT=sshd.service + _COMM=sshd",
    "_SYSTEMD_UNIT=ssh.service _COMM=sshd",
    "_SYSTEMD_UNIT=sshd.service\n_SYSTEMD_UNIT=ssh.service",
    "+ _COMM=sshd +",
    "_COMM=sshd + + _COMM=dropbear",
    "MESSAGE='Failed password for root'",
    'MESSAGE="a \\"quoted\\" \\x word"',
    "MESSAGE=a\\ b _COMM=x\\\\y",
    "MESSAGE=''",
    "_COMM=a+b",
    "'+' _COMM=sshd",
    "SYSLOG_IDENTIFIER=postfix/smtpd _SYSTEMD_UNIT=postfix@-.service",
    "_SYSTEMD_UNIT=sshd.service\t+\t_COMM=sshd",
    "_SYSTEMD_UNIT=asterisk.service # comment",
    "MESSAGE=x'y z'\"w v\"",
    "9LIVES=1",
    "_SYSTEMD_UNIT=",
    "_COMM='unterminated",
    'MESSAGE="trailing\\',
    "bad\\",
    "lower=case",
    "NOEQUALS",
    "=value",
    "__CURSOR=x",
    "_A=1 + __B=2",
    "FIELD-DASH=1",
    "/usr/sbin/sshd",
]


def e2e():
    out = {}
    for path in sorted(glob.glob(os.path.join(HERE, "e2e-*.export"))):
        name = os.path.basename(path)[:-len(".export")]
        d = tempfile.mkdtemp(dir=TMP)
        jf = os.path.join(d, name + ".journal")
        with open(path, "rb") as f:
            subprocess.run([REMOTE, "--output=" + jf, "-"], stdin=f, check=True,
                           stderr=subprocess.DEVNULL)
        reader = journal.Reader(**FilterSystemd._getJournalArgs({"journalpath": d}))
        rows = []
        while True:
            entry = reader.get_next()
            if not entry:
                break
            line, tm = f2b_format(entry)
            rows.append({"line": line, "time": tm})
        out[name] = rows
    return out


def write(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


def main():
    try:
        write("format_golden.json", format_cases())
        write("match_golden.json", [f2b_match(m) for m in MATCHES])
        write("e2e_golden.json", e2e())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
