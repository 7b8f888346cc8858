// The routing tests' device: ports p1 (10.1.0.2/24) and p2 (10.2.0.2/24), each a veth up with its far end (q1, q2),
// and an NI bridge enbr-x with its gateway 10.50.0.1/24, up.
import type { Netns } from './netns.ts';

export async function addTwoPortsAndBridge(dev: Netns): Promise<void> {
  for (const [a, b, addr] of [['p1', 'q1', '10.1.0.2/24'], ['p2', 'q2', '10.2.0.2/24']] as const) {
    await dev.ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    await dev.ip('addr', 'add', addr, 'dev', a);
    await dev.ip('link', 'set', a, 'up');
    await dev.ip('link', 'set', b, 'up');
  }
  await dev.ip('link', 'add', 'enbr-x', 'type', 'bridge');
  await dev.ip('addr', 'add', '10.50.0.1/24', 'dev', 'enbr-x');
  await dev.ip('link', 'set', 'enbr-x', 'up');
}
