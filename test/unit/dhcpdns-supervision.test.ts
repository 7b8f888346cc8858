// Supervision of the dnsmasq driver with a stand-in binary (no root, no namespaces): it writes the pid file named in
// the conf, lives as long as a control file says, then exits, so restarts and their backoff can be timed.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DhcpDns, DhcpDnsEvent, DhcpDnsSpec } from '../../src/drivers/dhcpdns.ts';
import { createDnsmasqDriver, dnsmasqPaths } from '../../src/drivers/dhcpdns-dnsmasq.ts';
import { KernelError } from '../../src/errors.ts';
import { lanSpec } from '../fixtures/dhcpdns-spec.ts';

const STAND_IN = `#!/bin/sh
for a in "$@"; do case "$a" in --conf-file=*) conf="\${a#--conf-file=}";; esac; done
dir=$(dirname "$conf")
[ -f "$dir/../../fail-start" ] && { echo "dnsmasq: failed to create listening socket: Address in use" >&2; exit 2; }
echo $$ > "$(sed -n 's/^pid-file=//p' "$conf")"
echo "dnsmasq[$$]: started" >&2
exec sleep "$(cat "$dir/../../lifetime" 2>/dev/null || echo 1000)"
`;

const spec: DhcpDnsSpec = lanSpec();

describe('dnsmasq driver supervision (stand-in binary)', () => {
  let dir: string;
  let stateDir: string;
  let binary: string;
  let driver: DhcpDns | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-superv-'));
    stateDir = join(dir, 'state');
    binary = join(dir, 'dnsmasq');
    await writeFile(binary, STAND_IN);
    await chmod(binary, 0o755);
    await chmod(dir, 0o755);
  });

  afterEach(async () => {
    const pid = driver?.pid('lan');
    if (driver) await driver.remove('lan').catch(() => undefined);
    await driver?.close();
    driver = undefined;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('restarts a crashing dnsmasq with doubling backoff, capped, reporting exited then started each time', async () => {
    await writeFile(join(dir, 'lifetime'), '0.15');
    driver = createDnsmasqDriver({ stateDir, binary, backoff: { initialMs: 100, maxMs: 400, stableMs: 60_000 } });
    const events: { e: DhcpDnsEvent; at: number }[] = [];
    driver.events$.subscribe((e) => events.push({ e, at: Date.now() }));
    await driver.ensure(spec);
    await waitFor(() => events.filter((x) => x.e.type === 'started').length >= 4, 10_000);
    const types = events.map((x) => x.e.type);
    expect(types.slice(0, 8)).toEqual(['exited', 'started', 'exited', 'started', 'exited', 'started', 'exited', 'started']);
    const gaps: number[] = [];
    for (let i = 0; i + 1 < events.length && gaps.length < 4; i += 2) gaps.push((events[i + 1]?.at ?? 0) - (events[i]?.at ?? 0));
    // 100, 200, 400, 400 (plus the time a start takes)
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(395);
    expect(gaps[3]).toBeGreaterThanOrEqual(395);
    expect(gaps[3]).toBeLessThan(800);
    expect(driver.writes.snapshot().dnsmasqStart).toBeGreaterThanOrEqual(5);
  });

  it('starts the backoff over after a process that ran for a stable while', async () => {
    await writeFile(join(dir, 'lifetime'), '0.4');
    driver = createDnsmasqDriver({ stateDir, binary, backoff: { initialMs: 100, maxMs: 5000, stableMs: 300 } });
    const events: { e: DhcpDnsEvent; at: number }[] = [];
    driver.events$.subscribe((e) => events.push({ e, at: Date.now() }));
    await driver.ensure(spec);
    await waitFor(() => events.filter((x) => x.e.type === 'started').length >= 4, 10_000);
    // without the reset the gaps would be 100, 200, 400, 800
    const gap = (events[7]?.at ?? 0) - (events[6]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(95);
    expect(gap).toBeLessThan(500);
  });

  it('a start that fails is a KernelError with dnsmasq\'s words, and nothing is left supervised', async () => {
    await writeFile(join(dir, 'fail-start'), '');
    driver = createDnsmasqDriver({ stateDir, binary });
    const events: DhcpDnsEvent[] = [];
    driver.events$.subscribe((e) => events.push(e));
    const err = await driver.ensure(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KernelError);
    expect((err as Error).message).toBe('start dnsmasq lan failed (exited at start: dnsmasq: failed to create listening socket: Address in use)');
    expect(driver.pid('lan')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });

  it('an aborted ensure does nothing', async () => {
    driver = createDnsmasqDriver({ stateDir, binary });
    const ac = new AbortController();
    ac.abort(new Error('left the state'));
    await expect(driver.ensure(spec, ac.signal)).rejects.toThrow('left the state');
    expect(driver.writes.total()).toBe(0);
  });

  it('close() leaves the process running; a PID that is not provably our dnsmasq is neither adopted nor signalled', async () => {
    driver = createDnsmasqDriver({ stateDir, binary });
    const { pid } = await driver.ensure(spec);
    await driver.close();
    process.kill(pid, 0); // still there
    const applied = JSON.parse(await readFile(dnsmasqPaths(stateDir, 'lan').applied, 'utf8')) as { pid: number };
    expect(applied.pid).toBe(pid);
    // the stand-in exec'd sleep: its cmdline is no longer dnsmasq's, so it is not adopted, and not signalled
    driver = createDnsmasqDriver({ stateDir, binary });
    const again = await driver.ensure(spec);
    expect(again.pid).not.toBe(pid);
    process.kill(pid, 0); // a process that is not provably ours is left alone
    process.kill(pid, 'SIGKILL');
  });
});

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
