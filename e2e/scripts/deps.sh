#!/usr/bin/env bash
# Installs what the fleet lab needs (the demo and the end-to-end tests) when it
# is missing: nftables, iproute2, OpenSSH server and client, sshpass, rsyslog,
# systemd-journal-remote; and what a minimal Debian (a container, a
# debootstrap) may lack: python3, which runs the unpacked Fail2Ban of the
# comparisons (e2e/scripts/fail2ban.sh), and netbase (/etc/protocols, without
# which nft prints protocols as numbers).
# Debian/Ubuntu only; needs root (or sudo). Prints what it does.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
have nft     || need+=(nftables)
have ip      || need+=(iproute2)
have sshd    || need+=(openssh-server)
{ have ssh && have ssh-keygen; } || need+=(openssh-client)
have sshpass || need+=(sshpass)
have rsyslogd || need+=(rsyslog)
have journalctl || need+=(systemd)
have systemd-journal-remote || [ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
# The Fail2Ban comparisons run /usr/bin/python3 (internal/testutil/f2bref).
[ -x /usr/bin/python3 ] || need+=(python3)
[ -e /etc/protocols ] || need+=(netbase)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "banfleet: missing ${need[*]}, and this is not Debian or Ubuntu (no apt-get): install them by hand." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "banfleet: missing ${need[*]}; run as root (or install sudo) so they can be installed with apt-get." >&2
    exit 1
  fi
fi

echo "banfleet: installing ${need[*]} with apt-get" >&2
# Installing openssh-server or rsyslog must not start an SSH server or a
# syslog daemon on this machine: the lab runs its own, one per host, inside
# network namespaces. A temporary policy-rc.d
# keeps package scripts from starting services (only if none exists already).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "banfleet: installed ${need[*]}" >&2
