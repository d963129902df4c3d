#!/usr/bin/python3
"""Record what Fail2Ban's own configuration readers produce, as JSON.

Run with Debian's python3 and the reference tree's fail2ban importable
(PYTHONPATH pointing at the directory holding its fail2ban package):

    /usr/bin/python3 f2b_reference.py --confdir <tree's etc/fail2ban> \
        --fixture fixture --unit conf --out golden.json

The Go tests in package fail2ban run it on the reference tree at test time
(internal/testutil/f2bref) and compare their results with what it writes, cached under
.cache/f2bfixtures; the output is never committed.

Sections of the output:
  filters          every filter.d/*.conf except *common.conf, read the way
                   fail2ban-regex reads a filter (FilterReader: read,
                   applyAutoOptions, getOptions(None), convert), with default
                   options, backend systemd (logtype journal), every value of
                   a mode-like parameter the filter selects tags with
                   (<mdre-<mode>>, <cmnfailed-<publickey>>, ...), and every
                   filter spec jail.conf's jails use.
  jails            every jail (force-enabled) of --confdir ("etc"), of a copy
                   of it with the files of --fixture laid on top ("fixture"),
                   and of the small test configuration --unit ("unit").
  unit_filters     the filter specs listed in --unit's specs.txt.
  extract_options  helpers.extractOptions on tricky specs.
  str2seconds      MyTime.str2seconds on time strings.
  shlex            shlex.split on journalmatch-like lines.
"""

import argparse
import glob
import json
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile

from fail2ban.client.filterreader import FilterReader
from fail2ban.client.jailsreader import JailsReader
from fail2ban.client.configparserinc import SafeConfigParserWithIncludes
from configparser import NoOptionError, NoSectionError

from fail2ban.client.jailreader import JailReader
from fail2ban.helpers import _as_bool, extractOptions, splitwords
from fail2ban.server.mytime import MyTime
from fail2ban.version import version


def collect(stream, name):
    """Fold a command stream for jail `name` into the values the server keeps."""
    out = {"prefregex": None, "failregex": [], "ignoreregex": [],
           "maxlines": None, "datepattern": None, "journalmatch": [],
           "usedns": None}
    for cmd in stream:
        if len(cmd) < 3 or cmd[1] != name:
            continue
        if cmd[0] == "multi-set":
            vals = list(cmd[3])
        elif cmd[0] == "set":
            vals = cmd[3:]
        else:
            continue
        opt = cmd[2]
        if opt in ("prefregex", "datepattern", "usedns"):
            out[opt] = vals[0]
        elif opt == "maxlines":
            out[opt] = int(vals[0])
        elif opt == "addfailregex":
            out["failregex"] += vals
        elif opt == "addignoreregex":
            out["ignoreregex"] += vals
        elif opt == "addjournalmatch":
            groups = [[]]  # server/filtersystemd.py addJournalMatch
            for el in vals:
                if el == "+":
                    groups.append([])
                else:
                    groups[-1].append(el)
            out["journalmatch"] += groups
    return out


def config_files(basedir, name):
    """The file list ConfigReaderUnshared.read hands to the include reader."""
    base = os.path.join(basedir, name)
    files = [base + ".conf"]
    files += sorted(glob.glob("%s/*.conf" % (base + ".d")))
    files.append(base + ".local")
    files += sorted(glob.glob("%s/*.local" % (base + ".d")))
    return [f for f in files if os.path.exists(f)]


def rel(basedir, files):
    return [os.path.relpath(f, basedir) for f in files]


def read_filter(basedir, spec, backend):
    rec = {"spec": spec, "backend": backend}
    try:
        name, opts = extractOptions(spec)
        reader = FilterReader(name, "golden", opts, share_config=dict(),
                              basedir=basedir)
        if not reader.read():
            raise ValueError("failed to load filter %s" % spec)
        reader.applyAutoOptions(backend)
        reader.getOptions(None)
        stream = reader.convert()
        res = collect(stream, "golden")
        comb = reader.getCombined()
        res["options"] = {k: str(comb[k]) for k in reader._initOpts
                          if not k.startswith("known/") and comb.get(k) is not None}
        # the include expansion fail2ban used for this filter:
        p = SafeConfigParserWithIncludes()
        res["files"] = rel(basedir, p._getIncludes(
            config_files(basedir, os.path.join("filter.d", name))))
        rec["result"] = res
    except Exception as e:  # recorded: the Go side must fail too
        rec["error"] = "%s: %s" % (type(e).__name__, e)
    return rec


PARAM_TAG = re.compile(r"<([\w\-]*)<(\w+)>([\w\-/]*)>")


def param_values(path):
    """Values of parameters used as <prefix<param>suffix> in a filter file,
    found as option names prefix<value>suffix in the same file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vals = {}
    for pre, param, suf in PARAM_TAG.findall(text):
        if param == "logtype" or "/" in suf:
            continue
        key = re.compile(r"^%s([\w]+)%s\s*[=:]" % (re.escape(pre), re.escape(suf)), re.M)
        for v in key.findall(text):
            vals.setdefault(param, set()).add(v)
    return {k: sorted(v) for k, v in vals.items()}


def filters(basedir, jail_specs):
    out = []
    names = sorted(os.path.basename(f)[:-5] for f in glob.glob(os.path.join(basedir, "filter.d", "*.conf"))
                   if not f.endswith("common.conf"))
    specs = []
    for n in names:
        specs.append((n, "auto"))
        specs.append((n, "systemd"))
        for param, vals in sorted(param_values(os.path.join(basedir, "filter.d", n + ".conf")).items()):
            for v in vals:
                specs.append(("%s[%s=%s]" % (n, param, v), "auto"))
    specs.append(("sshd[mode=aggressive, publickey=invalid]", "auto"))
    specs.append(("sshd[logtype=rfc5424]", "auto"))
    specs.append(("sshd[logtype=short]", "auto"))
    specs.append(("postfix[mode=aggressive]", "systemd"))
    specs.append(("apache-auth[logging=apache-2.2]", "auto"))
    specs.append(("no-such-filter", "auto"))
    for s in jail_specs:
        specs.append((s, "auto"))
    seen = set()
    for spec, backend in specs:
        if (spec, backend) in seen:
            continue
        seen.add((spec, backend))
        out.append(read_filter(basedir, spec, backend))
    return out


JAIL_RAW = ("port", "protocol")


def jails(basedir):
    """Every jail of basedir's jail configuration, force-enabled, each read
    the way JailsReader.getOptions reads it (one shared config, jails in
    section order), but an exception in one jail is recorded instead of
    aborting the others."""
    share = dict()
    jr = JailsReader(force_enable=True, share_config=share, basedir=basedir)
    if not jr.read():
        return []
    cfg = jr._cfg
    out = []
    for name in list(jr.sections()):
        if name == "INCLUDES":
            continue
        rec = {"name": name}
        out.append(rec)
        try:
            rec["enabled"] = _as_bool(cfg.get(name, "enabled"))
        except Exception as e:
            rec["enabled"] = None
        try:
            j = JailReader(name, force_enable=True, share_config=share, use_config=cfg)
            if not j.getOptions():
                rec["error"] = j.options.get("config-error")
                continue
            opts = j.options
            o = {}
            for k, v in opts.items():
                if isinstance(v, bool):
                    v = "True" if v else "False"
                if v is not None and not isinstance(v, str):
                    v = str(v)
                if v is not None:  # the directory differs between machines
                    v = v.replace(basedir, "CONFDIR")
                o[k] = v
            rec["options"] = o
            for k in ("port", "protocol"):
                try:
                    rec[k] = cfg.get(name, k)
                except (NoOptionError, NoSectionError):
                    rec[k] = None
            rec["ignoreip"] = splitwords(opts.get("ignoreip"))
            for k in ("findtime", "bantime"):
                if opts.get(k) is not None:
                    try:
                        rec[k + "_seconds"] = float(MyTime.str2seconds(opts[k]))
                    except Exception as e:
                        rec[k + "_seconds"] = "error"
            stream = j.convert(allow_no_files=True)
            rec["filter"] = collect(stream, name)
            lp = []
            if opts.get("logpath") is not None and not opts.get("backend", "").startswith("systemd"):
                for path in opts["logpath"].split("\n"):
                    path = path.rsplit(" ", 1)
                    path, tail = path if len(path) > 1 else (path[0], "head")
                    lp.append([path, tail])
            rec["logpath"] = lp
        except Exception as e:
            rec["error"] = "%s: %s" % (type(e).__name__, e)
    return out


EXTRACT = [
    "sshd", "sshd[mode=aggressive]", 'name[k=v, k2="v 2"]', "a[x='y,z'][b=c]",
    "a[ x = 1 ]", "a[k=v,]", 'a[k="unterminated]', "a[k=v]x", "[x]", "",
    "a b[c=d]", "a[k=v]  ", 'a[k="v"junk]', "a[k=v]\n", "a[k=v\n]", "a[]",
    "a[,]", "a[k=]", "a[k.x-y_z=1]", 'a[k=""]', "a[k=v][k=w]",
    "postfix[mode=auth]", 'apache-pass[knocking_url="/knocking/"]', "a[k=a]b]",
    "\u00e4[\u00f6=\u00fc]", "a[k=v] [j=w]", "a[k=v]]", "a[[k=v]", "a[k='x'y]",
    "a[k=v, j='w', l=\"x\"]", " a [k=v]", "a[k= v ]", "a[k=v,,j=w]",
    "a[k=\"x,y]z\"]", "a[k=v]\n[j=w]", "sshd ", "a]b", "a[k=1]\t", "a[=v]",
    "a[k==v]", "a[k=v\nj=w]", "a[k='v', ]", "a[k=\"v\"\n]",
]

TIMES = ["10m", "1h", "600", "1d 2h", "-1", "1d12h", "1mo", "1y", "1w", "30 min",
         "2.5h", "1h+30min", "1year-6mo", "0d 1h 30m", "5 minutes", "1 day", "10M",
         "3600s", "1.5", "(1+2)*60", "1e3", "1 2", "1hour", "2weeks", "3 sec",
         "1d 2h 3m 4s", "10d", "1ww", "1 hh", "1days", "5mm", "-1d", "4 * 1h",
         "1h30m", "7 DAYS", "1dd", "abc", "", "1/2", "0", "1.5d", "3mon", "1yy",
         "2 wee", "90 seconds", "1 minute 30 seconds", "1d-1h", "1ds"]

SHLEX = ["_SYSTEMD_UNIT=sshd.service + _COMM=sshd", "a b", '"a b" c', "a\\ b",
         "'x'\"y\"", 'a "b', "a\\", "a'b'c", '"a\\"b"', "'a\\'", "#x y",
         '"a\\\\b" "c\\d"', "''", "a '' b", "\tx\ty  ", "_COMM=x + + y"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confdir", required=True, help="the reference tree's etc/fail2ban")
    ap.add_argument("--fixture", help="directory laid over a copy of --confdir")
    ap.add_argument("--unit", help="a small test configuration: its jails and the filter specs in its specs.txt")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    logging.getLogger("fail2ban").setLevel(logging.CRITICAL + 1)
    basedir = args.confdir.rstrip("/")

    res = {"fail2ban_version": version}
    res["jails"] = {"etc": jails(basedir)}
    jail_specs = sorted(set(j["options"]["filter"] for j in res["jails"]["etc"]
                            if "options" in j and j["options"].get("filter")))
    res["filters"] = filters(basedir, jail_specs)
    if args.fixture:
        tmp = tempfile.mkdtemp()
        try:
            # the Go test builds the same tree: confdir copied to "fail2ban"
            # with the fixture files laid on top.
            fixdir = os.path.join(tmp, "fail2ban")
            shutil.copytree(basedir, fixdir, symlinks=True)
            for root, dirs, files in os.walk(args.fixture):
                for f in files:
                    src = os.path.join(root, f)
                    dst = os.path.join(fixdir, os.path.relpath(src, args.fixture))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy(src, dst)
            res["jails"]["fixture"] = jails(fixdir)
        finally:
            shutil.rmtree(tmp)

    if args.unit:
        unit = args.unit.rstrip("/")
        res["jails"]["unit"] = jails(unit)
        uf = []
        with open(os.path.join(unit, "specs.txt"), encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                spec, _, backend = line.partition("@")
                uf.append(read_filter(unit, spec, backend or "auto"))
        res["unit_filters"] = uf


    ex = []
    for s in EXTRACT:
        try:
            n, o = extractOptions(s)
            ex.append({"input": s, "name": n, "opts": [[k, v] for k, v in o.items()]})
        except ValueError as e:
            ex.append({"input": s, "error": str(e)})
    res["extract_options"] = ex

    ts = []
    for s in TIMES:
        try:
            v = MyTime.str2seconds(s)
            ts.append({"input": s, "seconds": float(v)})
        except Exception as e:
            ts.append({"input": s, "error": type(e).__name__})
    res["str2seconds"] = ts

    sh = []
    for s in SHLEX:
        try:
            sh.append({"input": s, "words": shlex.split(s)})
        except ValueError as e:
            sh.append({"input": s, "error": str(e)})
    res["shlex"] = sh

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
