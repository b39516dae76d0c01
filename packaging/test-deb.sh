#!/usr/bin/env bash
# Installs the built .deb (dpkg -i, as root: CI), checks that it works, and removes it again.
#   packaging/test-deb.sh [package.deb]       default: builds it with packaging/build-deb.sh
# Checks: the package's files, the service user, ownership and mode of the config, `tuya2mqtt --help`,
# `tuya2mqtt run --check -c /etc/tuya2mqtt/config.json` (as the service user too), the man page, and the
# unit with `systemd-analyze verify` when available. Never starts the service.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "test-deb: needs root (dpkg -i)" >&2
  exit 1
fi
DEB=${1:-$(packaging/build-deb.sh | tail -n 1)}
[[ -f "$DEB" ]] || { echo "test-deb: no package at '$DEB'" >&2; exit 1; }

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
installed=0
cleanup() {
  if ((installed)); then
    dpkg -r tuya2mqtt >/dev/null || true
    dpkg --purge tuya2mqtt >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "test-deb: $DEB"
# Every check below captures output first and greps it after: `cmd | grep -q` under pipefail fails at
# random when grep exits on the first match and cmd dies of SIGPIPE (CI hit exactly that).
info=$(dpkg-deb --info "$DEB")
grep -q "Package: tuya2mqtt" <<<"$info" || fail "not a tuya2mqtt package"
contents=$(dpkg-deb --contents "$DEB")
for f in ./usr/bin/tuya2mqtt ./lib/systemd/system/tuya2mqtt.service ./etc/tuya2mqtt/config.json \
         ./usr/share/man/man1/tuya2mqtt.1.gz; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
grep -q "tuya2mqtt-sim" <<<"$contents" && fail "the simulator must not be shipped"
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)
grep -qx /etc/tuya2mqtt/config.json <<<"$conffiles" || fail "config.json is not a conffile"

# Dependencies come from dpkg-shlibdeps; apt fixes them up if the machine lacks one.
if ! dpkg -i "$DEB"; then
  apt-get install -f -y -qq >/dev/null
fi
installed=1
status=$(dpkg -s tuya2mqtt)
grep -q "Status: install ok installed" <<<"$status" || fail "not installed"

getent passwd tuya2mqtt >/dev/null || fail "no tuya2mqtt user"
[[ $(stat -c '%U:%G %a' /etc/tuya2mqtt/config.json) == "tuya2mqtt:tuya2mqtt 600" ]] ||
  fail "config.json is $(stat -c '%U:%G %a' /etc/tuya2mqtt/config.json), want tuya2mqtt:tuya2mqtt 600"
[[ $(stat -c '%U %a' /etc/tuya2mqtt) == "tuya2mqtt 750" ]] || fail "/etc/tuya2mqtt is $(stat -c '%U %a' /etc/tuya2mqtt)"
[[ -d /var/lib/tuya2mqtt ]] || fail "no /var/lib/tuya2mqtt"

help=$(/usr/bin/tuya2mqtt --help)
grep -q "usage: tuya2mqtt" <<<"$help" || fail "tuya2mqtt --help"
help=$(/usr/bin/tuya2mqtt run --help)
grep -q -- "--check" <<<"$help" || fail "tuya2mqtt run --help"
ver=$(/usr/bin/tuya2mqtt version)
grep -q "tuya2mqtt" <<<"$ver" || fail "tuya2mqtt version"
out=$(/usr/bin/tuya2mqtt run --check -c /etc/tuya2mqtt/config.json 2>&1) || fail "run --check: $out"
echo "test-deb: $out"
if command -v setpriv >/dev/null; then
  uid=$(id -u tuya2mqtt)
  gid=$(id -g tuya2mqtt)
  setpriv --reuid "$uid" --regid "$gid" --clear-groups /usr/bin/tuya2mqtt run --check -c /etc/tuya2mqtt/config.json \
    >/dev/null 2>&1 || fail "the service user cannot read its config"
fi
# An invalid config is refused with exit code 2 (the unit does not restart on it).
bad=$(mktemp)
echo '{"mqtt": {"server": 5}}' >"$bad"
set +e
/usr/bin/tuya2mqtt run --check -c "$bad" >/dev/null 2>&1
rc=$?
set -e
rm -f "$bad"
[[ $rc -eq 2 ]] || fail "invalid config gave exit code $rc, want 2"

man=$(zcat /usr/share/man/man1/tuya2mqtt.1.gz)
grep -q "^.SH NAME" <<<"$man" || fail "man page"

if command -v systemd-analyze >/dev/null; then
  # verify needs the binary (ExecStart) and man page (Documentation) present: they are.
  if ! out=$(systemd-analyze verify /lib/systemd/system/tuya2mqtt.service 2>&1); then
    # verify also runs man(1) for Documentation=; a container without a man database may fail that alone.
    if grep -v "Command 'man " <<<"$out" | grep -q .; then
      fail "systemd-analyze verify: $out"
    fi
  fi
  [[ -z "$out" ]] || echo "test-deb: systemd-analyze says: $out"
  if score=$(systemd-analyze security --offline=true /lib/systemd/system/tuya2mqtt.service 2>/dev/null | tail -n 1); then
    echo "test-deb: $score"
  fi
else
  echo "test-deb: systemd-analyze not available, unit not verified"
fi

dpkg -r tuya2mqtt >/dev/null
installed=0
[[ ! -e /usr/bin/tuya2mqtt ]] || fail "binary left after dpkg -r"
[[ -e /etc/tuya2mqtt/config.json ]] || fail "dpkg -r removed the conffile (only purge should)"
dpkg --purge tuya2mqtt >/dev/null
[[ ! -e /etc/tuya2mqtt/config.json ]] || fail "config left after purge"
echo "test-deb: OK"
