// The netlink bridge-port driver on the real kernel, in a namespace of its own: after its event socket overran (the
// kernel dropped port events), one AF_BRIDGE dump reports every port's state again, BPDU guard included.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { BridgePortView } from '../../src/drivers/bridge-ports.ts';
import { NetnsPool, describeKernel } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '../..');

interface ChildReport {
  live: BridgePortView;
  resynced: BridgePortView[];
  others: number;
}

function runChild(netnsPath: string): Promise<ChildReport> {
  return new Promise((done, fail) => {
    const child = spawn('nsenter', [`--net=${netnsPath}`, process.execPath, join(REPO, 'bin/run-ts.js'), join(REPO, 'test/kernel/fixtures/bridge-ports-child.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(JSON.parse(out) as ChildReport) : fail(new Error(`child exited ${String(code)}: ${err}`))));
  });
}

describeKernel('bridge-port events (kernel)', () => {
  const pool = new NetnsPool();
  afterEach(() => pool.removeAll());

  it('a resync (as after an overrun) reports each bridge port again, as it is', async () => {
    const ns = await pool.add('brp');
    const r = await runChild(ns.path);
    expect(r.live).toMatchObject({ ifname: 'enpa', bpduGuard: true, up: true });
    expect(r.resynced).toEqual([r.live]);
    expect(r.others).toBe(0);
  });
});
