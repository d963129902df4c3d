#!/usr/bin/python3
"""Write sshd.json: the reference Fail2Ban's filter.d/sshd.conf after its own
config reader (FilterReader: includes, %(x)s and <tag> interpolation), for
each mode and for logtype=journal, as the Definition fields of package f2b.

    PYTHONPATH=<tree's fail2ban package dir> FAIL2BAN_CONFIG_DIR=<tree's etc/fail2ban> \
        /usr/bin/python3 gen_sshd.py OUT.json

The tests run it (internal/testutil/f2bref.Tree.Python) on the reference tree and cache
the output under .cache/f2bfixtures; it is never committed.
"""
import json, os, sys, unittest
from fail2ban.tests import utils as tu
tu.initTests(None)
from fail2ban.client.filterreader import FilterReader

def definition(opts):
    fr = FilterReader('sshd', 'jail', dict(opts), basedir=os.environ['FAIL2BAN_CONFIG_DIR'], share_config=unittest.F2B.share_config)
    fr.read()
    fr.getOptions({})
    d = {'Name': 'sshd', 'PrefRegex': '', 'FailRegex': [], 'IgnoreRegex': [], 'MaxLines': 1,
         'DatePattern': '', 'UseDNS': '', 'LogType': opts.get('logtype', 'file')}
    for opt in fr.convert():
        vals = opt[3] if opt[0] == 'multi-set' else [opt[3]]
        for v in vals:
            k = opt[2]
            if k == 'prefregex': d['PrefRegex'] = v
            elif k == 'addfailregex': d['FailRegex'].append(v)
            elif k == 'addignoreregex': d['IgnoreRegex'].append(v)
            elif k == 'maxlines': d['MaxLines'] = int(v)
            elif k == 'datepattern': d['DatePattern'] = v
            elif k == 'usedns': d['UseDNS'] = v
    return d

out = {}
for mode in ('normal', 'ddos', 'extra', 'aggressive'):
    out[mode] = definition({'mode': mode})
    out[mode + '-journal'] = definition({'mode': mode, 'logtype': 'journal'})
with open(sys.argv[1], 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
