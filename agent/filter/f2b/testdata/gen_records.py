#!/usr/bin/python3
"""Write every regex search the reference Fail2Ban makes while it runs its
own sample tests (FilterSamplesRegex): prefregex, failregex and ignoreregex,
each (regex, multi-line flag, buffer) once, with whether it matched, the
whole match and the named groups that took part. replay_test.go replays
them through package f2b's compiled regexes.

    PYTHONPATH=<tree's fail2ban package dir> FAIL2BAN_CONFIG_DIR=<tree's etc/fail2ban> \
        /usr/bin/python3 gen_records.py OUT.jsonl.gz

Output: gzip JSON lines {"k": "fail" | "regex", "re", "ml", "buf", "m",
"txt", "g"}. The tests run it (internal/testutil/f2bref.Tree.Python) on the reference
tree and cache the output under .cache/f2bfixtures; it is never committed.
Fail2Ban's two zzz-* sample filters include a common.conf of its source
tree's layout, which e2e/scripts/fail2ban.sh provides in the unpacked tree.
"""
import gzip
import json
import re
import sys
import unittest

from fail2ban.tests import utils as tu
from fail2ban.server import failregex

out = []
done = set()
org_search = failregex.Regex.search


def search(self, lines, orig=None):
    found = org_search(self, lines, orig)
    buf = lines if isinstance(lines, str) else failregex.Regex._tupleLinesBuf(lines)
    pattern = self._regexObj.pattern
    multi = bool(self._regexObj.flags & re.M)
    if (pattern, multi, buf) not in done:
        done.add((pattern, multi, buf))
        m = self._matchCache
        rec = {"k": "fail" if isinstance(self, failregex.FailRegex) else "regex",
               "re": pattern, "ml": multi, "buf": buf, "m": bool(m)}
        if m:
            rec["txt"] = m.group(0)
            rec["g"] = {k: v for k, v in m.groupdict().items() if v is not None}
        out.append(rec)
    return found


failregex.Regex.search = search

opts = tu.getOptParser().parse_args([])[0]
opts.no_network = True
opts = tu.initProcess(opts)
res = unittest.TextTestRunner(verbosity=0, stream=sys.stderr).run(
    tu.gatherTests(["FilterSamplesRegex"], opts))
print("gen_records: %d tests, %d errors, %d failures, %d searches recorded"
      % (res.testsRun, len(res.errors), len(res.failures), len(out)), file=sys.stderr)
if not res.testsRun or not out:
    sys.exit("gen_records: Fail2Ban's sample tests did not run")
with gzip.open(sys.argv[1], "wt", encoding="utf-8") as f:
    for rec in out:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
