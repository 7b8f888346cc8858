#!/bin/bash
# Runs inside the QEMU guest (see qemu-guest.ts): loads the guest kernel's modules, runs the guest test files with
# vitest and writes the results to the out share, then powers the guest off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
OUT=$(arg edgenet.out)
CACHE=$(arg edgenet.cache)
REPO=$(arg edgenet.repo)
# EDGENET_GUEST_FILTER on the host: only the guest files whose path contains it
FILTER=$(arg edgenet.filter)
BB=$CACHE/root/bin/busybox
{
  # the kernel loads modules on demand through this (nf_tables for nft, …); these four are loaded up front
  mkdir -p /run/guest-bin && ln -sf "$BB" /run/guest-bin/modprobe && echo /run/guest-bin/modprobe > /proc/sys/kernel/modprobe
  # what udev would make: nft -f /dev/stdin (a local NI's rules) needs these; dnsmasq's shared memory, /dev/shm
  ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
  mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
  for m in bridge 8021q bonding veth; do "$BB" modprobe "$m" || echo "modprobe $m failed"; done
  ip link set lo up
  echo "guest kernel $(uname -r)"
  cd "$REPO" && EDGENET_IN_GUEST=1 EDGENET_REQUIRE_KERNEL=1 node node_modules/vitest/vitest.mjs run --config test/guest/vitest.guest.config.ts \
    --reporter=default --reporter=json --outputFile.json="$OUT/results.json" $FILTER
  echo "vitest exit $?"
} > "$OUT/console.txt" 2>&1
sync
"$BB" poweroff -f
