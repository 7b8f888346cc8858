// The netlink bridge-port driver on the real kernel, in a namespace of its own: after its event socket overran (the
// kernel dropped port events), one AF_BRIDGE dump reports every port's state again, BPDU guard included.
import { afterEach, expect, it } from 'vitest';
import type { BridgePortView } from '../../src/drivers/bridge-ports.ts';
import { NetnsPool, describeKernel } from '../helpers/netns.ts';
import { runFixtureInNetns } from '../helpers/netns-child.ts';

interface ChildReport {
  live: BridgePortView;
  resynced: BridgePortView[];
  others: number;
}

describeKernel('bridge-port events (kernel)', () => {
  const pool = new NetnsPool();
  afterEach(() => pool.removeAll());

  it('a resync (as after an overrun) reports each bridge port again, as it is', async () => {
    const ns = await pool.add('brp');
    const r = await runFixtureInNetns<ChildReport>(ns.path, 'test/kernel/fixtures/bridge-ports-child.ts');
    expect(r.live).toMatchObject({ ifname: 'enpa', bpduGuard: true, up: true });
    expect(r.resynced).toEqual([r.live]);
    expect(r.others).toBe(0);
  });
});
