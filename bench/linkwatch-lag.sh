#!/bin/bash
# How late does the kernel announce a port's carrier change when many links exist? No edgenet involved:
# `bash bench/linkwatch-lag.sh` (root). Makes namespaces enlw<pid>-dev/-out, N veth pairs (default 10 000; the
# device side in 20 bridges, up), a port veth `up0` whose far end is flipped FLAPS times (default 20, down and up,
# 200 ms apart) with `ip`, and prints, per change, the ms from the command to the kernel's RTM_NEWLINK for up0
# (`ip -ts monitor link` in the device namespace). Everything is removed on exit, also on failure.
# N=100 gives 2-3 ms a change on the 2-core VM (the `ip` process included); N=10000 gave 0.02-7 s, ~1 s typical,
# even 60 s after the attach (SETTLE=60): the kernel's linkwatch, which sends carrier changes, not edgenet.
set -euo pipefail
N=${N:-10000}
FLAPS=${FLAPS:-20}
SETTLE=${SETTLE:-2}
P=enlw$$
DIR=$(mktemp -d /tmp/edgenet-linkwatch-XXXXXX)
MON=
cleanup() {
  if [ -n "$MON" ]; then kill "$MON" 2>/dev/null || true; fi
  ip netns del "$P-dev" 2>/dev/null || true
  ip netns del "$P-out" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$P-dev"
ip netns add "$P-out"
{
  for b in $(seq 0 19); do echo "link add br$b type bridge"; echo "link set br$b up"; done
  for i in $(seq 0 $((N - 1))); do echo "link add t$i type veth peer name p$i netns $P-out"; done
} > "$DIR/make.batch"
ip -n "$P-dev" -batch "$DIR/make.batch"
for i in $(seq 0 $((N - 1))); do echo "link set p$i up"; done > "$DIR/far.batch"
ip -n "$P-out" -batch "$DIR/far.batch"
for i in $(seq 0 $((N - 1))); do echo "link set t$i master br$((i % 20)) up"; done > "$DIR/attach.batch"
ip -n "$P-dev" -batch "$DIR/attach.batch"
ip -n "$P-dev" link add up0 type veth peer name o0 netns "$P-out"
ip -n "$P-dev" link set up0 up
ip -n "$P-out" link set o0 up
echo "$N veth pairs attached; waiting ${SETTLE}s"
sleep "$SETTLE"
ip netns exec "$P-dev" ip -ts monitor link dev up0 > "$DIR/monitor.log" 2>&1 &
MON=$!
sleep 0.5
for _ in $(seq 1 "$FLAPS"); do
  for dir in down up; do
    echo "$(date +%s.%N) $dir" >> "$DIR/commands.log"
    ip -n "$P-out" link set o0 "$dir"
    sleep 0.2
  done
done
sleep 5
kill "$MON"
MON=
python3 - "$DIR" <<'EOF'
import datetime, re, sys
d = sys.argv[1]
events = []
for line in open(f'{d}/monitor.log'):
    if 'up0' not in line:
        continue
    stamp = re.findall(r'\[(\d{4}-\d\d-\d\dT[\d:.]+)\]', line)[-1]
    t = datetime.datetime.fromisoformat(stamp).astimezone(datetime.timezone.utc).timestamp()
    events.append((t, 'NO-CARRIER' not in line))
lags = []
for line in open(f'{d}/commands.log'):
    t0, direction = line.split()
    up = direction == 'up'
    later = [t for t, u in events if t >= float(t0) and u == up]
    lags.append((later[0] - float(t0)) * 1000 if later else float('nan'))
shown = sorted(x for x in lags if x == x)
print('ms from command to announcement:', ', '.join(f'{x:.1f}' for x in lags))
if shown:
    print(f'median {shown[len(shown) // 2]:.1f} ms, max {shown[-1]:.1f} ms, {len(lags) - len(shown)} never announced')
EOF
