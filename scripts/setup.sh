#!/usr/bin/env bash
# One set-up for `npm test`, `npm run demo` and `npm run bench`: the Debian packages edgenet and its tests need,
# then `npm ci` when node_modules does not match package-lock.json, then the build (dist/) when the sources changed.
# Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# iproute2: tests and demo build namespaces; nftables: NAT/filtering; dnsmasq-base: the binary only (the `dnsmasq`
# package would start a system DNS service); busybox: udhcpc/nslookup for tests; curl: API over the unix socket;
# iputils-ping: real traffic in tests and the demo; systemd: systemd-analyze (the unit's check) and systemd-notify
# (the daemon's READY/STOPPING); python3: the tests' stand-in for systemd's notify socket; conntrack: a local NI's
# switchover flushes its connections; chromium: the live view's browser test (test/kernel/live-view-browser.test.ts,
# driven by playwright-core with this system browser: playwright downloads none) — large (~480 MB with its
# libraries), needed only by that test: EDGENET_SETUP_NO_BROWSER=1 leaves it out (the test then fails, as it must).
packages=(iproute2 nftables dnsmasq-base busybox curl iputils-ping systemd python3 conntrack)
[ "${EDGENET_SETUP_NO_BROWSER:-0}" = 1 ] || packages+=(chromium)
# `npm run bench` (EDGENET_SETUP_BENCH=1): the CNI plugins and netavark, timed beside edgenet's +1 app (bench/cni.ts)
[ "${EDGENET_SETUP_BENCH:-0}" = 1 ] && packages+=(containernetworking-plugins netavark)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the patched netlink addon is compiled here (scripts/build-netlink.sh): a C++ toolchain and python3 for node-gyp
{ command -v g++ && command -v make; } >/dev/null 2>&1 || missing+=(build-essential)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# dnsmasq drops root to an account of its own (not the shared nobody/nogroup; Debian's `dnsmasq` user has nogroup):
# the files it re-reads are readable to this group only.
if [ "$(id -u)" -eq 0 ]; then
  getent group edgenet-dns >/dev/null || groupadd --system edgenet-dns
  getent passwd edgenet-dns >/dev/null || useradd --system --gid edgenet-dns --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin edgenet-dns
fi

# npm ci only when the lock file changed since the last install (npm writes node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# the netlink addon with edgenet's fix of its poll-error path (rebuilt only when the patch or Node changed)
bash scripts/build-netlink.sh

# dist/ (the compiled CLI, daemon and library) when a source changed since the last build; a few ms otherwise.
node scripts/build.mjs --if-stale
