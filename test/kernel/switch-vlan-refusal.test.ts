// On a kernel without 802.1Q / bridge VLAN filtering (this machine's and CI's), a config with VLANs is refused as a
// whole with a clear error, and nothing is built. (On a kernel that has them, the guest tests build them.)
import { beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, run, type Netns } from '../helpers/netns.ts';

describeKernel('VLANs on a kernel without 802.1Q (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, app: Netns;

  beforeEach(async () => {
    ({ dev, app } = await t.namespaces(['dev', 'app']));
    await dev.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth9');
  });


  it('refuses the VLAN parts with "this kernel has no 802.1Q support", builds nothing, keeps the running config', async () => {
    const probe = await run('ip', ['-n', dev.name, 'link', 'add', 'enprobe', 'type', 'bridge', 'vlan_filtering', '1']);
    const plain = `ports:\n  - { name: trunk, ifname: eth1 }\nnetworks:\n  - { name: plant, type: switch, port: trunk }\napps:\n  - { name: a10, interfaces: [{ network: plant, netns: ${app.path} }] }\n`;
    daemon = await TestDaemon.start(dev, plain);
    const withVlan = plain.replace(`netns: ${app.path} }`, `netns: ${app.path}, accessVlanId: 10 }`);
    if (probe.code === 0) {
      // this kernel has VLAN filtering: the config is built (the guest tests check the data plane)
      await expect(daemon.apply(withVlan)).resolves.toBeDefined();
      return;
    }
    const refused = daemon.apply(withVlan);
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(daemon.apply(withVlan)).rejects.toThrow(
      'apps[0].interfaces[0].accessVlanId: this kernel has no 802.1Q support (bridge VLAN filtering): VLANs cannot be built, so the config is refused',
    );
    // the running config is untouched: no VLAN filtering, the app still attached
    expect(await dev.ip('-d', 'link', 'show', 'enbr-plant')).toContain('vlan_filtering 0');
    const s = await daemon.status();
    expect(s.endpoints.map((e) => [e.app, e.state])).toEqual([['a10', 'ready']]);
    // the probe's throw-away links are gone
    expect(await dev.ip('-o', 'link', 'show')).not.toMatch(/enpr[bpvo]/);
  });

  it('refuses VLAN and bond ports with "no 802.1Q support" / "no bonding support", makes no link, keeps the running config', async () => {
    const probeVlan = await run('ip', ['-n', dev.name, 'link', 'add', 'link', 'eth1', 'name', 'enprobe.7', 'type', 'vlan', 'id', '7']);
    const probeBond = await run('ip', ['-n', dev.name, 'link', 'add', 'enprobebond', 'type', 'bond']);
    await run('ip', ['-n', dev.name, 'link', 'del', 'enprobe.7']);
    await run('ip', ['-n', dev.name, 'link', 'del', 'enprobebond']);
    await dev.ip('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth8');
    await dev.ip('link', 'add', 'eth3', 'type', 'veth', 'peer', 'name', 'eth7');
    const plain = `ports:\n  - { name: trunk, ifname: eth1 }\nnetworks:\n  - { name: plant, type: switch, port: trunk }\napps:\n  - { name: a10, interfaces: [{ network: plant, netns: ${app.path} }] }\n`;
    daemon = await TestDaemon.start(dev, plain);
    const linksBefore = (await dev.ip('-o', 'link', 'show')).split('\n').map((l) => l.split(':')[1]?.trim()).sort();
    const withPorts = `ports:
  - { name: trunk, ifname: eth1 }
  - { name: office, ifname: eth1.10, vlan: { parent: eth1, id: 10 } }
  - { name: lag, ifname: bond0, bond: { members: [eth2, eth3], mode: active-backup } }
networks:
  - { name: plant, type: switch, port: trunk }
  - { name: office, type: local, port: office, subnet: 10.60.0.0/24 }
  - { name: field, type: switch, port: lag }
apps:
  - { name: a10, interfaces: [{ network: plant, netns: ${app.path} }] }
`;
    if (probeVlan.code === 0 && probeBond.code === 0) {
      // this kernel has both: built (the guest tests check the data plane)
      await expect(daemon.apply(withPorts)).resolves.toBeDefined();
      return;
    }
    const err = await daemon.apply(withPorts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as Error).message;
    if (probeBond.code !== 0) expect(text).toContain('ports[2].bond: this kernel has no bonding support: the bond cannot be built, so the config is refused');
    if (probeVlan.code !== 0) expect(text).toContain('ports[1].vlan: this kernel has no 802.1Q support (VLAN sub-interfaces): the VLAN port cannot be built, so the config is refused');
    // nothing made, nothing moved: the same links, the app still attached, the members not enslaved
    expect((await dev.ip('-o', 'link', 'show')).split('\n').map((l) => l.split(':')[1]?.trim()).sort()).toEqual(linksBefore);
    expect(await dev.ip('-o', 'link', 'show', 'eth2')).not.toContain('master');
    const s = await daemon.status();
    expect(s.networks.map((n) => n.name)).toEqual(['plant']);
    expect(s.endpoints.map((e) => [e.app, e.state])).toEqual([['a10', 'ready']]);
  });
});
