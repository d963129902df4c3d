#!/usr/bin/env bash
# Proves the README's "Two commands" on a clean Debian 12 root in which
# Fail2Ban is not installed: what a fresh Debian machine with Go has, nothing
# this machine acquired (installed packages, module and build caches, the
# work tree).
#
#   bash e2e/scripts/cleanroot.sh [--keep] [--overlay PATH]...
#
# --overlay PATH copies PATH (relative to the repository) from the work tree
# over the clone, to try an uncommitted fix (say so when you report a run).
#
# 1. Builds a minimal Debian 12 (bookworm) root with mmdebstrap (variant
#    minbase, plus git and ca-certificates) under $BANFLEET_CLEANROOT_DIR
#    (default /var/tmp/banfleet-cleanroot/root), with this machine's apt
#    sources and its local CA certificates (the network's egress CA).
# 2. Copies the Go toolchain in (/usr/local/go, on PATH as go.dev/doc/install
#    says) and passes the module settings of this machine's `go env`
#    (GOPROXY, GOSUMDB, GONOSUMDB, GONOSUMCHECK, GOPRIVATE, GOINSECURE,
#    GOFLAGS, GOTOOLCHAIN); module and build caches start empty.
# 3. Clones the repository's committed HEAD into /root/banfleet of the root.
# 4. Asserts that Fail2Ban is not installed in the root (dpkg, its configuration directory in /etc,
#    an importable fail2ban module), before and after the commands.
# 5. Runs, as root inside the root, the commands of the README's "Two
#    commands" section exactly as written there; the test command with
#    BANFLEET_E2E=1, as .ci/run runs it. They install their own apt
#    prerequisites inside the root.
#
# The root runs in a new mount and PID namespace (unshare) with its own
# /proc, /sys and /dev (bind mounts), and fresh tmpfs /run and /tmp: the
# lab's named network namespaces live in the root's /run/netns, so neither
# this machine's namespaces nor other labs running on it are seen or
# touched. When the commands end, the PID namespace ends, which kills
# whatever a failed run left running and releases every mount and network
# namespace; the script then checks that nothing is left and removes the
# root (kept with --keep). The machine's own network, firewall and packages
# are not changed (mmdebstrap is installed with apt-get if missing).
#
# Logs: $BANFLEET_CLEANROOT_DIR/../logs/{setup,demo,test}.log. Exit status 0
# only if every command succeeded and every assertion held.
set -euo pipefail

keep=0
overlay=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --overlay)
      [ $# -ge 2 ] || { echo "cleanroot: --overlay needs a path" >&2; exit 2; }
      overlay+=("$2"); shift ;;
    *) echo "cleanroot: unknown argument $1 (usage: cleanroot.sh [--keep] [--overlay PATH]...)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\n\033[1m==> cleanroot: %s\033[0m\n' "$*"; }
die() { echo "cleanroot: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it builds a Debian root and runs the lab in it)"
[ -f /etc/debian_version ] && command -v apt-get >/dev/null || die "needs a Debian or Ubuntu machine (apt-get, mmdebstrap)"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
root="${BANFLEET_CLEANROOT_DIR:-/var/tmp/banfleet-cleanroot/root}"
case "$root" in
  /|/var|/var/tmp|/tmp|/work|/root|"") die "BANFLEET_CLEANROOT_DIR=$root: refusing, it must be a directory of its own" ;;
esac
root="$(realpath -m "$root")"
logs="$(dirname "$root")/logs"
mkdir -p "$logs"

goroot="$(go env GOROOT 2>/dev/null || true)"
[ -x "$goroot/bin/go" ] || die "no Go toolchain found on this machine (go env GOROOT)"

# mounts: the mount points at or below $root in this mount namespace,
# deepest first.
mounts() {
  awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# rootpids: processes whose root directory is $root (only ones this script
# started can be there).
rootpids() {
  local p d
  for p in /proc/[0-9]*; do
    d="$(readlink "$p/root" 2>/dev/null)" || continue
    if [ "$d" = "$root" ] || [ "${d#"$root"/}" != "$d" ]; then echo "${p#/proc/}"; fi
  done
}

# tidy: what a failed or interrupted earlier run may have left: processes in
# the root, mounts below it (only possible if it was killed before its
# namespaces ended), then the root itself.
tidy() {
  local pids m
  pids="$(rootpids)"
  if [ -n "$pids" ]; then
    echo "cleanroot: killing processes left in $root: $(echo $pids)" >&2
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  for m in $(mounts); do
    umount -l "$m" 2>/dev/null || true
  done
  if [ -n "$(mounts)" ]; then
    die "mounts are left below $root: $(mounts | tr '\n' ' ')"
  fi
  rm -rf --one-file-system "$root"
}

# asserts_no_fail2ban: fail2ban is neither installed as a package, nor
# configured, nor importable by the root's Python (if it has one).
assert_no_fail2ban() {
  local when="$1" bad=()
  if chroot "$root" dpkg -s fail2ban >/dev/null 2>&1; then bad+=("dpkg -s fail2ban succeeds"); fi
  if [ -e "$root/etc/fail2ban" ]; then bad+=("its configuration directory exists in /etc"); fi
  if [ -n "$(find "$root/usr/lib" "$root/usr/local/lib" -maxdepth 4 -name fail2ban -path '*python3*' 2>/dev/null)" ]; then
    bad+=("a fail2ban package is in a python3 library directory")
  fi
  if [ -x "$root/usr/bin/python3" ] && chroot "$root" /usr/bin/python3 -c 'import fail2ban' >/dev/null 2>&1; then
    bad+=("python3 -c 'import fail2ban' succeeds")
  fi
  if chroot "$root" sh -c 'command -v fail2ban-server || command -v fail2ban-client || command -v fail2ban-regex' >/dev/null 2>&1; then
    bad+=("a fail2ban program is on PATH")
  fi
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'cleanroot: FAIL2BAN IS INSTALLED in the root (%s): %s\n' "$when" "$(IFS=';'; echo "${bad[*]}")" >&2
    return 1
  fi
  echo "cleanroot: fail2ban is not installed in the root ($when): dpkg -s fails, no configuration directory in /etc, no importable module, no fail2ban program"
}

trap 'rc=$?; if [ "$keep" = 0 ]; then tidy || rc=1; fi; exit $rc' EXIT

step() { # step NAME CMD...: runs CMD, prints its duration
  local name="$1" t0 rc=0
  shift
  t0=$(date +%s)
  "$@" || rc=$?
  printf 'cleanroot: %-28s exit %d in %ds\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" | tee -a "$logs/summary.txt"
  return $rc
}

: >"$logs/summary.txt"
say "scratch space: $root ($(df -h --output=avail "$(dirname "$root")" | tail -1 | tr -d ' ') free)"
tidy
mkdir -p "$(dirname "$root")"

# --- 1. the Debian root -----------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap on this machine (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# The machine's apt sources, the way its apt reads them (sources.list and
# sources.list.d/*.list / *.sources): the root gets the same.
srcs=()
[ -s /etc/apt/sources.list ] && grep -qE '^[[:space:]]*deb' /etc/apt/sources.list && srcs+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && srcs+=("$f")
done
[ ${#srcs[@]} -gt 0 ] || die "this machine has no apt sources"

say "building a Debian 12 minbase root (+ git, ca-certificates) from ${srcs[*]}"
# mmdebstrap only to fetch the packages; the sources inside are set below.
debootstrap() {
  mmdebstrap --variant=minbase --include=git,ca-certificates \
    --aptopt='Acquire::Retries "3"' bookworm "$root" "${srcs[@]}" >"$logs/setup.log" 2>&1
}
step "mmdebstrap" debootstrap || die "mmdebstrap failed, see $logs/setup.log"

# apt sources: exactly the machine's files.
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
for f in "${srcs[@]}"; do
  case "$f" in
    /etc/apt/sources.list) cp "$f" "$root/etc/apt/sources.list" ;;
    *) cp "$f" "$root/etc/apt/sources.list.d/" ;;
  esac
done
# apt proxy settings of the machine, if it has any.
for f in /etc/apt/apt.conf.d/*; do
  if [ -f "$f" ] && grep -qi 'proxy' "$f"; then cp "$f" "$root/etc/apt/apt.conf.d/"; fi
done
# Name resolution and the local CA certificates (this network's TLS egress
# proxy signs with them): what a fresh machine on this network is given.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ ! -s "$root/etc/hosts" ]; then
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
fi
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >>"$logs/setup.log" 2>&1 || die "update-ca-certificates failed in the root"
fi

# --- 2. Go --------------------------------------------------------------------
say "copying Go $("$goroot/bin/go" env GOVERSION) from $goroot to /usr/local/go"
mkdir -p "$root/usr/local"
cp -a "$goroot" "$root/usr/local/go"
goenv=()
for v in GOPROXY GOSUMDB GONOSUMDB GONOSUMCHECK GOPRIVATE GOINSECURE GOFLAGS GOTOOLCHAIN; do
  val="$(go env "$v")"
  [ -n "$val" ] && goenv+=("$v=$val")
done

# --- 3. the repository's committed HEAD -------------------------------------
head="$(git -C "$repo" rev-parse HEAD)"
say "cloning $repo at HEAD $head into /root/banfleet"
git clone -q --no-hardlinks "$repo" "$root/root/banfleet"
[ "$(git -C "$root/root/banfleet" rev-parse HEAD)" = "$head" ] || die "the clone is not at $head"
for f in "${overlay[@]}"; do
  [ -f "$repo/$f" ] || die "--overlay $f: no such file in $repo"
  cp "$repo/$f" "$root/root/banfleet/$f"
  echo "cleanroot: OVERLAY: $f from the work tree replaces HEAD's" | tee -a "$logs/summary.txt"
done

# The README's commands, from the clone: the sh block of "## Two commands".
mapfile -t cmds < <(awk '
  /^## / { insec = ($0 == "## Two commands") ; next }
  insec && /^```sh/ { inblk = 1; next }
  insec && inblk && /^```/ { exit }
  insec && inblk { sub(/[[:space:]]*#.*/, ""); if ($0 != "") print }
' "$root/root/banfleet/README.md")
[ ${#cmds[@]} -eq 2 ] || die "README.md's \"Two commands\" section gives ${#cmds[@]} commands, not 2: ${cmds[*]}"

# --- 4. no Fail2Ban -------------------------------------------------------------
say "checking that Fail2Ban is not installed in the root"
assert_no_fail2ban "before the commands"
touch "$root/var/log/dpkg.log"
dpkglines=$(wc -l <"$root/var/log/dpkg.log")
echo "cleanroot: root packages: $(chroot "$root" dpkg-query -W -f '.' | wc -c) ($(du -sh --exclude=usr/local/go "$root" | cut -f1) without Go)"

# --- 5. the commands -----------------------------------------------------------
# inside: runs in the new mount and PID namespaces; mounts the root's
# /proc, /sys, /dev, /run, /tmp and runs one command in it as root with a
# login's environment. Everything it mounts, starts or creates (network
# namespaces included) ends with the PID namespace.
inside='
set -eu
root=$1; shift
mount --bind "$root" "$root"            # the root is a mount point: ip netns exec remounts / as a slave
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev cleanroot-run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev cleanroot-tmp "$root/tmp"
exec chroot "$root" /usr/bin/env -i "$@"
'
run_in_root() { # run_in_root LOG ENV... -- CMD
  local log="$1"; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  unshare --mount --pid --fork --propagation private -- bash -c "$inside" inside "$root" \
    HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}" \
    PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${goenv[@]}" "${envs[@]}" \
    /bin/bash -c "cd /root/banfleet && $1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

failed=0
demo="${cmds[0]}"
test="${cmds[1]}"
say "1/2 in the root: $demo"
step "$demo" run_in_root "$logs/demo.log" -- "$demo" || failed=1
say "2/2 in the root: BANFLEET_E2E=1 $test"
step "BANFLEET_E2E=1 $test" run_in_root "$logs/test.log" BANFLEET_E2E=1 -- "$test" || failed=1

say "after the commands"
assert_no_fail2ban "after the commands" || failed=1
left="$(rootpids)"
[ -z "$left" ] || { echo "cleanroot: processes left in the root: $left" >&2; failed=1; }
[ -z "$(mounts)" ] || { echo "cleanroot: mounts left below the root: $(mounts | tr '\n' ' ')" >&2; failed=1; }
echo "cleanroot: apt packages the commands installed in the root:"
tail -n +"$((dpkglines + 1))" "$root/var/log/dpkg.log" | grep ' install ' | awk '{print "  " $4 " " $6}' | sort -u | tr '\n' ' '; echo
cat "$logs/summary.txt"
if [ "$failed" = 0 ]; then
  echo "cleanroot: OK: HEAD $head, both README commands succeeded in a clean Debian 12 root without Fail2Ban"
else
  echo "cleanroot: FAILED (HEAD $head): see $logs" >&2
fi
exit "$failed"
