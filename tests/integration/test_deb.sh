#!/bin/bash
# test_deb.sh - the Debian package: build it (packaging/build-deb.sh), lintian shows no
# errors, the config is a conffile; then (as root, when senderauth is not installed
# already) install it, check the user, modes and unit, run senderauthd -t on the
# installed config and start the installed daemon in the foreground as the senderauth
# user (with a copy of the installed config on free loopback ports): it listens, serves
# metrics, reloads on SIGHUP and stops on SIGTERM; finally purge it and check that
# nothing is left. Prints one line per check and `deb: N passed, M failed`.
set -u
SA_SRC=${SA_SRC:-.}
SA_SRC=$(cd "$SA_SRC" && pwd)
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | tail -25 | sed 's/^/  /'; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi; }
finish() { echo "deb: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

for t in dpkg-buildpackage lintian python3; do
    command -v $t >/dev/null || { echo "FAIL missing $t (apt-get install dpkg-dev debhelper lintian)"; exit 1; }
done
work=$(mktemp -d /tmp/satest-deb.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    [ -n "${SA_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# 1. build
export DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck"
if "$SA_SRC/packaging/build-deb.sh" "$work/out" >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b"
else
    bad "dpkg-buildpackage -us -uc -b" "$(tail -25 "$work/build.log")"
    finish
fi
deb=$(ls "$work"/out/senderauth_*.deb)

# 2. lintian (run as root it warns about that; only E: lines count)
lint=$(lintian --no-tag-display-limit "$deb" 2>&1)
errs=$(printf '%s\n' "$lint" | grep '^E: ' || true)
if [ -z "$errs" ]; then ok "lintian: no errors"; else bad "lintian errors" "$errs"; fi
printf '%s\n' "$lint" | grep '^W: ' | sed 's/^/  note: /'

# 3. contents
contents=$(dpkg-deb -c "$deb")
for f in ./usr/sbin/senderauthd ./usr/sbin/senderauthctl ./etc/senderauth/senderauth.conf \
    ./lib/systemd/system/senderauthd.service ./usr/share/man/man8/senderauthd.8.gz \
    ./usr/share/man/man8/senderauthctl.8.gz ./usr/share/man/man5/senderauth.conf.5.gz \
    ./usr/sbin/senderauth-report ./usr/share/man/man8/senderauth-report.8.gz \
    ./lib/systemd/system/senderauth-report.service ./lib/systemd/system/senderauth-report.timer; do
    if printf '%s\n' "$contents" | grep -q " $f\$"; then ok "package has $f"; else bad "package lacks $f"; fi
done
if dpkg-deb -I "$deb" conffiles | grep -qx /etc/senderauth/senderauth.conf; then
    ok "conffile /etc/senderauth/senderauth.conf"
else bad "conffiles" "$(dpkg-deb -I "$deb" conffiles 2>&1)"; fi

# 4. install, run, purge (root only, and never over an installed copy)
if [ "$(id -u)" -ne 0 ]; then echo "skip: install steps need root"; finish; fi
if dpkg-query -W -f='${Status}' senderauth 2>/dev/null | grep -q 'ok installed'; then
    echo "skip: senderauth is installed on this machine; not touching it"; finish
fi
# Another apt/dpkg on this machine may hold the lock for a while: wait for it (bounded).
lockwait="-o DPkg::Lock::Timeout=180"
if apt-get install -y --no-install-recommends $lockwait "$deb" >"$work/install.log" 2>&1; then
    ok "installed"
else
    bad "install" "$(tail -20 "$work/install.log")"; finish
fi
check "postinst created the senderauth user" getent passwd senderauth
check "postinst created the senderauth group" getent group senderauth
st=$(stat -c '%U:%G %a' /etc/senderauth/senderauth.conf)
[ "$st" = "root:senderauth 640" ] && ok "config is root:senderauth 640" || bad "config is $st"
st=$(stat -c '%U:%G %a' /var/lib/senderauth)
[ "$st" = "senderauth:senderauth 750" ] && ok "state dir is senderauth:senderauth 750" || bad "state dir is $st"
out=$(/usr/sbin/senderauthd -t -c /etc/senderauth/senderauth.conf 2>&1)
[ $? -eq 0 ] && ok "senderauthd -t on the installed config" || bad "senderauthd -t" "$out"
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify /lib/systemd/system/senderauthd.service 2>&1 |
        grep -v -e 'Failed to connect' -e 'Cannot determine' -e 'ignoring' || true)
    [ -z "$out" ] && ok "systemd-analyze verify senderauthd.service" || bad "unit" "$out"
fi
out=$(LC_ALL=C.UTF-8 man --warnings -Tutf8 senderauthd 2>&1 >/dev/null)
[ -z "$out" ] && ok "man senderauthd" || bad "man senderauthd" "$out"

# Foreground start of the installed daemon as senderauth, with a copy of the installed
# config on free ports (the shipped one listens on 8894, which may be taken here).
ports=$(python3 -c 'import socket
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
mport=$(echo $ports | cut -d" " -f1) hport=$(echo $ports | cut -d" " -f2)
conf=$work/senderauth.conf
sed -e "s|socket = \"inet:8894@127.0.0.1\";|socket = \"inet:$mport@127.0.0.1\";|" \
    -e "s|listen = \"\";|listen = \"127.0.0.1:$hport\";|" /etc/senderauth/senderauth.conf >"$conf"
chmod 755 "$work"; chmod 644 "$conf"
grep -q "inet:$mport@" "$conf" && grep -q "127.0.0.1:$hport" "$conf" || bad "could not adapt the config"
setpriv --reuid=senderauth --regid=senderauth --init-groups -- \
    /usr/sbin/senderauthd -f -c "$conf" >"$work/run.log" 2>&1 &
pid=$!
wait_log() { # pattern: poll the log (bounded), 0 when found
    for _ in $(seq 1 500); do
        grep -q "$1" "$work/run.log" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02 # poll interval, not a timing assumption
    done
    return 1
}
if wait_log "listening on"; then ok "installed senderauthd listens as senderauth"
else bad "installed senderauthd did not start" "$(cat "$work/run.log")"; fi
uid=$(awk '/^Uid:/ {print $2}' /proc/$pid/status 2>/dev/null)
[ "$uid" = "$(id -u senderauth)" ] && ok "runs as uid $uid" || bad "runs as uid $uid"
m=$(python3 -c "import urllib.request,sys
print(urllib.request.urlopen('http://127.0.0.1:$hport/metrics', timeout=10).read().decode())" 2>&1)
printf '%s\n' "$m" | grep -q '^senderauth_messages_total 0$' && ok "metrics served" || bad "metrics" "$m"
kill -HUP $pid
if wait_log "reloaded "; then ok "SIGHUP reload"; else bad "SIGHUP reload" "$(cat "$work/run.log")"; fi
kill -TERM $pid
wait $pid; rc=$?
pid=""
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc" "$(cat "$work/run.log")"

# 5. purge
if apt-get purge -y $lockwait senderauth >"$work/purge.log" 2>&1; then ok "purged"; else bad "purge" "$(cat "$work/purge.log")"; fi
left=""
for f in /usr/sbin/senderauthd /etc/senderauth/senderauth.conf /var/lib/senderauth \
    /lib/systemd/system/senderauthd.service; do
    [ -e "$f" ] && left="$left $f"
done
[ -z "$left" ] && ok "nothing left after purge" || bad "left after purge:$left"
finish
