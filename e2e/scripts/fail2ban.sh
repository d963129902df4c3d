#!/usr/bin/env bash
# Makes Debian's fail2ban package available to the compatibility tests and
# benchmarks WITHOUT installing it: the .deb is downloaded with apt-get and
# unpacked into .cache/fail2ban/root of this checkout, so no fail2ban service
# is started, no firewall rule is made and nothing on the machine changes.
# Tests find it there (or through BANFLEET_FAIL2BAN_ROOT; an installed package
# only with BANFLEET_FAIL2BAN_ROOT=/) and derive their Fail2Ban fixtures from
# it at test time (internal/testutil/f2bref.Fixture, cached in .cache/f2bfixtures and made
# again when this tree changes); none of them is committed.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$top/.cache/fail2ban"
if [ -x "$dest/root/usr/bin/fail2ban-regex" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "banfleet: not Debian/Ubuntu: Fail2Ban comparisons need BANFLEET_FAIL2BAN_ROOT pointing at an unpacked fail2ban package" >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
chmod 777 "$tmp"
if ! apt-get download fail2ban >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  apt-get download fail2ban >/dev/null 2>&1 || { echo "banfleet: could not download the fail2ban package; Fail2Ban comparisons will be skipped (or fail under BANFLEET_E2E=1)" >&2; exit 0; }
fi
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x fail2ban_*.deb "$dest/root"
# Fail2Ban's two zzz-* test filters include ../../../../../../../config/filter.d/common.conf,
# a path of Fail2Ban's source tree that the package layout lacks; Fail2Ban's own
# test run needs it too. Provide it inside the unpacked tree.
mkdir -p "$dest/root/usr/config/filter.d"
ln -s ../../../etc/fail2ban/filter.d/common.conf "$dest/root/usr/config/filter.d/common.conf"
cp fail2ban_*.deb "$dest/"
echo "banfleet: unpacked $(ls fail2ban_*.deb) into $dest/root (not installed)" >&2
