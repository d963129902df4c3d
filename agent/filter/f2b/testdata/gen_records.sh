#!/bin/sh
# Regenerate records.jsonl.gz: every prefregex/failregex/ignoreregex search
# Fail2Ban 1.0.2 makes while running its own sample tests, with the buffer,
# whether it matched and the named groups (replayed by replay_test.go).
#
#   sh testdata/gen_records.sh [path/to/fail2ban-compat]
#
# Needs Debian's fail2ban package and /usr/bin/python3. Uses record.py from
# the fail2ban-compat folder (default /work/shared/fail2ban-compat).
set -eu
SRC=${1:-/work/shared/fail2ban-compat}
OUT=$(cd "$(dirname "$0")" && pwd)/records.jsonl.gz
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$SRC/record.py" "$TMP/"
# the zzz-* sample filters include ../../../../../../../config/filter.d/common.conf
mkdir -p "$TMP/zzzfix/a/b/c" "$TMP/zzzfix/config/filter.d"
cp -r /usr/lib/python3/dist-packages/fail2ban "$TMP/zzzfix/a/b/c/"
find "$TMP/zzzfix" -name __pycache__ -prune -exec rm -rf {} +
cp /etc/fail2ban/filter.d/common.conf "$TMP/zzzfix/config/filter.d/"
cd "$TMP"
F2B_PYROOT="$TMP/zzzfix/a/b/c" /usr/bin/python3 record.py records.jsonl >/dev/null 2>record.err || { cat record.err; exit 1; }
/usr/bin/python3 - "$OUT" <<'PY'
import gzip, json, sys
with open('records.jsonl') as f, gzip.open(sys.argv[1], 'wt') as o:
    for line in f:
        r = json.loads(line)
        if r['k'] != 'date':
            o.write(json.dumps(r, ensure_ascii=False) + '\n')
PY
echo "wrote $OUT"
