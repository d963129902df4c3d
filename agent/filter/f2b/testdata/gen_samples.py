#!/usr/bin/python3
"""Record what the reference Fail2Ban (1.0.2) itself decides for every line of
its sample logs, in the daemon's mode (first matching failregex wins), for
samples_test.go to replay through the Go engine.

    PYTHONPATH=<tree's fail2ban package dir> FAIL2BAN_CONFIG_DIR=<tree's etc/fail2ban> \
        /usr/bin/python3 gen_samples.py OUT.json.gz

The tests run it (internal/testutil/f2bref.Tree.Python) on the reference tree and cache
the output under .cache/f2bfixtures; it is never committed.

The log files, annotations and filter instances follow
fail2ban/tests/samplestestcase.py (filterOptions, fileOptions, addFILE,
test.condition, test.prefix-line, journal lines), but each filter runs with
checkAllRegex=False like the daemon, returnRawHost=False, and DNS lookups
disabled (banfleet never resolves names). For each line the output holds the
date span and time Fail2Ban's date detector found (so the Go test can replay
dates without a date package), and processLine's result.

Output (gzip JSON): {"now": TEST_NOW, "filters": [{"name", "opts",
"def": {...Definition...}, "steps": [{"line", "journal", "date": [start,
end, time] | null, "res": [] | [{"rule", "fid", "time", "fail"}]}]}]}
Offsets are UTF-8 byte offsets; times are float seconds.
"""
import gzip, json, os, re, sys, unittest

from fail2ban.tests import utils as tu
tu.initTests(None)
tu.setUpMyTime()
from fail2ban.tests.utils import TEST_NOW, CONFIG_DIR
from fail2ban.server.filter import Filter, FileContainer
from fail2ban.server.datedetector import DateDetector
from fail2ban.server.ipdns import DNSUtils, IPAddr
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.mytime import MyTime

TEST_FILES_DIR = os.path.join(os.path.dirname(tu.__file__), 'files')
TEST_NOW_STR = MyTime.time2str(TEST_NOW)

# banfleet never resolves host names
DNSUtils.dnsToIp = staticmethod(lambda s: set())

LAST = {}
_orgMatchTime = DateDetector.matchTime
def matchTime(self, line):
    r = _orgMatchTime(self, line)
    m = r[0]
    LAST['span'] = (m.start(1), m.end(1)) if m else None
    LAST['line'] = line
    return r
DateDetector.matchTime = matchTime
_orgGetTime = DateDetector.getTime
def getTime(self, line, timeMatch=None):
    r = _orgGetTime(self, line, timeMatch)
    LAST['time'] = r[0] if r else None
    return r
DateDetector.getTime = getTime


def read_filter(name, opts):
    flt = Filter(None)
    flt.returnRawHost = False
    flt.checkAllRegex = False
    flt.checkFindTime = False
    flt.active = True
    fr = FilterReader(name, "jail", dict(opts), basedir=CONFIG_DIR, share_config=unittest.F2B.share_config)
    fr.read()
    fr.getOptions({})
    d = {'Name': name, 'PrefRegex': '', 'FailRegex': [], 'IgnoreRegex': [], 'MaxLines': 1,
         'DatePattern': '', 'UseDNS': '', 'LogType': opts.get('logtype', 'file')}
    for opt in fr.convert():
        vals = opt[3] if opt[0] == 'multi-set' else [opt[3]]
        for v in vals:
            if opt[2] == 'prefregex':
                flt.prefRegex = v
                d['PrefRegex'] = v
            elif opt[2] == 'addfailregex':
                flt.addFailRegex(v)
                d['FailRegex'].append(v)
            elif opt[2] == 'addignoreregex':
                flt.addIgnoreRegex(v)
                d['IgnoreRegex'].append(v)
            elif opt[2] == 'maxlines':
                flt.setMaxLines(v)
                d['MaxLines'] = int(v)
            elif opt[2] == 'datepattern':
                flt.setDatePattern(v)
                d['DatePattern'] = v
            elif opt[2] == 'usedns':
                flt.setUseDns(v)
                d['UseDNS'] = v
    return flt, d


def py2json(v):
    if isinstance(v, IPAddr):
        return str(v)
    if isinstance(v, (set, frozenset)):
        return sorted(py2json(x) for x in v)
    if isinstance(v, (list, tuple)):
        return [py2json(x) for x in v]
    if isinstance(v, dict):
        return {k: py2json(x) for k, x in v.items()}
    return v


def blen(s, i):
    return len(s[:i].encode('utf-8'))


def run_filter(name):
    out = []
    filenames = [name]
    i = 0
    commonOpts = {}
    tests = None  # [(fltName, flt, d, opts, steps)]
    cache = {}
    def get(fltName, opts):
        if fltName not in cache:
            flt, d = read_filter(name, opts)
            cache[fltName] = {'name': fltName, 'opts': opts, 'def': d, 'steps': [], 'flt': flt}
            out.append(cache[fltName])
        return cache[fltName]
    while i < len(filenames):
        fn = os.path.join(TEST_FILES_DIR, "logs", filenames[i]); i += 1
        logFile = FileContainer(fn, 'UTF-8', doOpen=True)
        logFile.waitForLineEnd = False
        ignoreBlock = False
        for line in logFile:
            m = re.match(r"^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$", line)
            if m:
                data = json.loads(m.group(2))
                if m.group(1) == 'fileOptions':
                    commonOpts = data
                    continue
                if m.group(1) == 'filterOptions':
                    tests = []
                    ignoreBlock = False
                    for fd in (data if isinstance(data, list) else [data]):
                        opts = dict(commonOpts)
                        opts.update(fd)
                        if opts.get('test.condition'):
                            ignoreBlock = not eval(opts.get('test.condition'))
                        if not ignoreBlock:
                            fltOpts = {k: v for k, v in opts.items() if not k.startswith('test.')}
                            fltName = opts.get('test.filter-name') or (str(fltOpts) if fltOpts else '')
                            tests.append((name + fltName, fltOpts, opts))
                    continue
                if m.group(1) == 'addFILE':
                    filenames.append(data)
                    continue
                faildata = data
                line = next(logFile)
            elif ignoreBlock or line.startswith("#") or not line.strip():
                continue
            else:
                faildata = {}
            if ignoreBlock:
                continue
            if not tests:
                tests = [(name, {}, {})]
            line = line.rstrip('\r\n')
            for fltName, fltOpts, opts in tests:
                if faildata.get('constraint') and not eval(faildata['constraint']):
                    continue
                ent = get(fltName, fltOpts)
                flt = ent['flt']
                LAST.clear()
                journal = opts.get('logtype') == 'journal'
                text = line
                if journal:
                    if opts.get('test.prefix-line'):
                        text = opts.get('test.prefix-line') + line
                    ret = flt.processLine(('', TEST_NOW_STR, text), TEST_NOW)
                    date = None
                else:
                    ret = flt.processLine(text)
                    date = None
                    if LAST.get('span') is not None and LAST.get('line') == text:
                        s, e = LAST['span']
                        date = [blen(text, s), blen(text, e), LAST.get('time')]
                res = []
                for r in ret:
                    idx, fid, t, fail = r
                    f = {}
                    for k, v in fail.items():
                        if k == 'matches':
                            f['attempts'] = len(v)
                        elif k == 'nofail-matches':
                            f['nofail-attempts'] = len(v)
                        else:
                            f[k] = py2json(v)
                    valid = isinstance(fid, IPAddr) and fid.isValid
                    res.append({'rule': idx, 'fid': py2json(fid), 'valid': valid, 'time': t, 'fail': f})
                ent['steps'].append({'line': text, 'journal': journal, 'date': date, 'res': res,
                                     'expect': faildata})
    for ent in out:
        del ent['flt']
    return out


def main():
    names = sorted(f[:-5] for f in os.listdir(os.path.join(CONFIG_DIR, 'filter.d'))
                   if f.endswith('.conf') and not f.endswith('common.conf'))
    filters = []
    for name in names:
        if not os.path.isfile(os.path.join(TEST_FILES_DIR, "logs", name)):
            continue
        filters.extend(run_filter(name))
    with gzip.open(sys.argv[1], 'wt') as f:
        json.dump({'now': TEST_NOW, 'filters': filters}, f)

main()
