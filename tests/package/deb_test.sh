#!/usr/bin/env bash
# Proves the Debian package outside the machine that built it:
#   tests/package/deb_test.sh dist/keyrotor_VERSION_amd64.deb
# As root; needs debootstrap, lintian, dpkg-dev and network to deb.debian.org.
# Set KEYROTOR_DEBOOTSTRAP_CACHE=DIR to keep the downloaded .debs between runs.
#
#  1. lintian: no finding of severity error (every tag is printed).
#  2. No build path and no test secret anywhere in the package.
#  3. A fresh Debian 12 root (debootstrap --variant=minbase bookworm): apt resolves
#     `apt-get install ./keyrotor.deb` from the mirror alone (simulated on the
#     pristine root); the dependencies (apt-get satisfy on the package's own Depends)
#     and systemd are installed, and the root's file list is taken.
#  4. apt-get install ./keyrotor.deb installs keyrotor and nothing else; then
#     `keyrotor demo` as an unprivileged user, the installed keyrotor-run.service's
#     ExecStart run as written (AWS unreachable: it must get as far as asking AWS,
#     with the journal in /var/lib/keyrotor laid out as systemd's StateDirectory= with
#     DynamicUser= makes it), `systemd-analyze verify` on the installed units,
#     `systemctl enable keyrotor-run.timer`.
#  5. An upgrade (the same package as VERSION+upgradetest1) keeps a locally edited
#     conffile and the journal.
#  6. apt-get purge: the root's file list (path, type, mode, owner, link target,
#     content hash) is exactly what it was before step 4. /proc, /dev, /run, /tmp, apt's
#     caches and lists, dpkg's database and /var/log are left out of the comparison.
# Every mount is undone on exit, whatever happened; the root is then deleted.
# shellcheck disable=SC2001,SC2015,SC2016  # `test && test || die` is meant; dpkg-query formats are literal
set -euo pipefail

die() { echo "deb_test: FAIL: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 keyrotor_VERSION_amd64.deb"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
deb="$(readlink -f "$1")"
[ -f "$deb" ] || die "no package $1"
for tool in debootstrap lintian dpkg-deb chroot mount umount; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages debootstrap lintian dpkg-dev)"
done
src="$(cd "$(dirname "$0")/../.." && pwd)"
mirror="http://deb.debian.org/debian"
cache="${KEYROTOR_DEBOOTSTRAP_CACHE:-}"
version="$(dpkg-deb -f "$deb" Version)"
depends="$(dpkg-deb -f "$deb" Depends)"
[ "$(dpkg-deb -f "$deb" Package)" = keyrotor ] || die "$deb is not the keyrotor package"

work="$(mktemp -d /tmp/keyrotor-deb-test.XXXXXX)"
root="$work/root"

# Every mount at or below $root, deepest first.
mounts_below() { awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }
cleanup() {
  local rc=$? m
  set +e
  trap - EXIT INT TERM
  for m in $(mounts_below); do
    umount "$m" 2>/dev/null || umount -l "$m" || echo "deb_test: cannot unmount $m" >&2
  done
  if [ -n "$(mounts_below)" ]; then
    echo "deb_test: mounts remain below $root; it is NOT deleted:" >&2
    mounts_below >&2
    rc=1
  else
    if [ -n "$cache" ] && [ -d "$root/var/cache/apt/archives" ]; then
      mkdir -p "$cache/apt" && cp -n "$root"/var/cache/apt/archives/*.deb "$cache/apt/" 2>/dev/null
    fi
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

total_start=$SECONDS
step_start=$SECONDS
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }
# apt in the root; no pseudo-terminal for dpkg's log (there is no /dev/pts).
apt_root() { in_root apt-get -q -o Dpkg::Use-Pty=0 "$@"; }

. "$src/tests/package/common.sh"

# 1. lintian
step "lintian $(basename "$deb")"
lintian_out="$work/lintian.txt"
set +e
lintian -EvIL +pedantic --show-overrides --fail-on error "$deb" >"$lintian_out" 2>&1
lintian_rc=$?
set -e
grep -v 'running with root privileges is not recommended' "$lintian_out" | sed 's/^/   /' || true
[ "$lintian_rc" -eq 0 ] && ! grep -q '^E: ' "$lintian_out" || die "lintian reports errors (exit $lintian_rc)"
done_step

# 2. Build paths and secrets in the package (files and control area).
step "scan the package for build paths ($build_path) and test secrets"
mkdir -p "$work/unpacked/DEBIAN"
dpkg-deb -x "$deb" "$work/unpacked"
dpkg-deb -e "$deb" "$work/unpacked/DEBIAN"
scan_tree "$work/unpacked" "the package" || die "the package holds a build path or a secret"
done_step

# 3. A fresh Debian 12 root.
step "debootstrap --variant=minbase bookworm ${cache:+(cache $cache)}"
bootstrap_args=(--variant=minbase)
if [ -n "$cache" ]; then
  mkdir -p "$cache/debootstrap"
  bootstrap_args+=(--cache-dir="$(readlink -f "$cache/debootstrap")")
fi
debootstrap "${bootstrap_args[@]}" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
[ -c "$root/dev/null" ] && [ -c "$root/dev/urandom" ] || die "debootstrap made no /dev/null, /dev/urandom"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
if [ -n "$cache" ] && compgen -G "$cache/apt/*.deb" >/dev/null; then
  cp "$cache"/apt/*.deb "$root/var/cache/apt/archives/"
fi
done_step

step "apt-get update"
apt_root update >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; die "apt-get update failed"; }
done_step

cp "$deb" "$root/tmp/"
pkgfile="/tmp/$(basename "$deb")"
step "apt resolves apt-get install $pkgfile on the pristine root"
apt_root install -s "$pkgfile" >"$work/simulate.log" 2>&1 ||
  { cat "$work/simulate.log" >&2; die "apt cannot install the package on a minbase root: a dependency is not in $mirror"; }
grep '^Inst ' "$work/simulate.log" | awk '{ printf "%s%s", sep, $2; sep=" " } END { print "" }' |
  fold -s -w 100 | sed 's/^/   would install: /'
grep -q '^Inst keyrotor ' "$work/simulate.log" || { cat "$work/simulate.log" >&2; die "apt would not install keyrotor"; }
done_step

step "install the dependencies (apt-get satisfy '$depends') and systemd"
apt_root -y satisfy "$depends" >"$work/deps.log" 2>&1 || { tail -30 "$work/deps.log" >&2; die "apt-get satisfy failed"; }
apt_root -y install --no-install-recommends systemd >>"$work/deps.log" 2>&1 ||
  { tail -30 "$work/deps.log" >&2; die "installing systemd failed"; }
# What a booted system has and keeps: the directory of persistent timers' stamps.
mkdir -p "$root/var/lib/systemd/timers"
done_step

# The file list the purge must restore.
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./run -o -path ./tmp -o -path ./var/tmp \
      -o -path ./var/cache/apt -o -path ./var/lib/apt/lists -o -path ./var/lib/dpkg -o -path ./var/log \) -prune \
      -o -printf '%p %y %m %u:%g %l\n' | LC_ALL=C sort)
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./run -o -path ./tmp -o -path ./var/tmp \
      -o -path ./var/cache/apt -o -path ./var/lib/apt/lists -o -path ./var/lib/dpkg -o -path ./var/log \) -prune \
      -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
snapshot >"$work/before.txt"
echo "   $(grep -c '' "$work/before.txt") entries in the root's file list before installing keyrotor"

# 4. Install and use.
step "apt-get install $pkgfile"
apt_root -y install "$pkgfile" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; die "apt-get install failed"; }
newly="$(grep -oE '[0-9]+ newly installed' "$work/install.log" || true)"
[ "$newly" = "1 newly installed" ] ||
  { cat "$work/install.log" >&2; die "apt-get install ./deb installed more than keyrotor ($newly)"; }
[ "$(in_root dpkg-query -W -f '${Status} ${Version}' keyrotor)" = "install ok installed $version" ] ||
  die "keyrotor $version is not installed"
for f in /usr/bin/keyrotor /etc/keyrotor/keyrotor.toml /lib/systemd/system/keyrotor-run.service \
         /lib/systemd/system/keyrotor-run.timer /lib/systemd/system/keyrotor-daemon.service \
         /usr/share/man/man1/keyrotor.1.gz /usr/share/doc/keyrotor/copyright; do
  [ -e "$root$f" ] || die "$f is not installed"
done
in_root dpkg-query -W -f '${Conffiles}\n' keyrotor | grep -q '^ /etc/keyrotor/keyrotor.toml ' ||
  die "/etc/keyrotor/keyrotor.toml is not a conffile"
done_step

step "keyrotor demo in the root, as user nobody"
mkdir -m 0700 "$root/tmp/demo-home"
chown nobody:nogroup "$root/tmp/demo-home"
chroot --userspec=nobody:nogroup "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp/demo-home LC_ALL=C.UTF-8 \
  /bin/sh -c 'cd "$HOME" && exec keyrotor demo' >"$work/demo.log" 2>&1 ||
  { tail -40 "$work/demo.log" >&2; die "keyrotor demo failed in the root"; }
tail -3 "$work/demo.log" | sed 's/^/   /'
done_step

step "keyrotor-run.service's ExecStart as installed, AWS unreachable"
exec_start="$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/keyrotor-run.service")"
read -r -a argv <<<"$exec_start"
[ "${argv[0]}" = /usr/bin/keyrotor ] || die "keyrotor-run.service runs ${argv[0]}, not /usr/bin/keyrotor"
# What systemd makes for StateDirectory=keyrotor with DynamicUser=yes.
[ -d "$root/var/lib/private" ] || mkdir -m 0700 "$root/var/lib/private"   # systemd's, there already
mkdir -m 0700 "$root/var/lib/private/keyrotor"
ln -s private/keyrotor "$root/var/lib/keyrotor"
set +e
in_root /usr/bin/env AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=test-secret-not-real \
  AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_MAX_ATTEMPTS=1 "${argv[@]}" >"$work/run.log" 2>&1
run_rc=$?
set -e
[ "$run_rc" -eq 1 ] && grep -q '^{"summary".*127.0.0.1:1' "$work/run.log" ||
  { cat "$work/run.log" >&2; die "${argv[*]} exited $run_rc (expected 1 with a summary naming the unreachable endpoint)"; }
[ -f "$root/var/lib/private/keyrotor/journal.db" ] || die "the run made no journal in /var/lib/keyrotor"
echo "   exit 1 as expected; /var/lib/keyrotor holds: $(cd "$root/var/lib/private/keyrotor" && echo *)"
done_step

step "systemd-analyze verify on the installed units"
set +e
in_root systemd-analyze verify --man=no /lib/systemd/system/keyrotor-run.service \
  /lib/systemd/system/keyrotor-run.timer /lib/systemd/system/keyrotor-daemon.service >"$work/verify.log" 2>&1
verify_rc=$?
set -e
sed 's/^/   /' "$work/verify.log"
[ "$verify_rc" -eq 0 ] && ! grep -q keyrotor "$work/verify.log" || die "systemd-analyze verify (exit $verify_rc) complains"
done_step

step "systemctl enable keyrotor-run.timer; an admin's credentials file; the timer's stamp"
in_root systemctl enable keyrotor-run.timer >"$work/enable.log" 2>&1 || { cat "$work/enable.log" >&2; die "systemctl enable failed"; }
compgen -G "$root/etc/systemd/system/*.wants/keyrotor-run.timer" >/dev/null || die "systemctl enable made no symlink"
install -m 0600 /dev/null "$root/etc/keyrotor/aws-credentials"
touch "$root/var/lib/systemd/timers/stamp-keyrotor-run.timer"
done_step

# 5. Upgrade.
step "upgrade to $version+upgradetest1 with a locally edited conffile"
echo "# edited by the admin" >>"$root/etc/keyrotor/keyrotor.toml"
dpkg-deb -R "$deb" "$work/repack"
sed -i "s/^Version: .*/Version: $version+upgradetest1/" "$work/repack/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack" "$root/tmp/keyrotor_upgrade.deb" >/dev/null
apt_root -y install /tmp/keyrotor_upgrade.deb >"$work/upgrade.log" 2>&1 ||
  { cat "$work/upgrade.log" >&2; die "the upgrade failed"; }
[ "$(in_root dpkg-query -W -f '${Version}' keyrotor)" = "$version+upgradetest1" ] || die "the upgrade did not happen"
grep -q '^# edited by the admin' "$root/etc/keyrotor/keyrotor.toml" || die "the upgrade lost the admin's conffile edit"
[ -f "$root/var/lib/private/keyrotor/journal.db" ] || die "the upgrade lost the journal"
done_step

# 6. Purge.
step "apt-get purge keyrotor"
apt_root -y purge keyrotor >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; die "apt-get purge failed"; }
if status="$(in_root dpkg-query -W -f '${db:Status-Abbrev}' keyrotor 2>/dev/null)" && [ "${status:0:2}" != "un" ]; then
  die "keyrotor is still known to dpkg after purge (status $status)"
fi
snapshot >"$work/after.txt"
if ! diff -u "$work/before.txt" "$work/after.txt" >"$work/purge.diff"; then
  grep '^[-+][^-+]' "$work/purge.diff" | head -50 >&2
  die "the root after purge differs from the root before install (- before, + after)"
fi
echo "   the root's $(grep -c '' "$work/after.txt") entries are as before the install"
done_step

echo "deb_test: PASS: $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((SECONDS - total_start)) s"
