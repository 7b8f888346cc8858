// Switch (L2) network instance on the real kernel: the daemon in a "device" namespace, apps in their own.
import { beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, type Netns } from '../helpers/netns.ts';

describeKernel('switch network instance (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, app1: Netns, app2: Netns, field: Netns;

  const config = (extra = ''): string => `
ports:
  - { name: field, ifname: eth1 }
  - { name: spare, ifname: eth2 }
networks:
  - { name: plant, type: switch, port: field }
apps:
  - { name: app1, interfaces: [{ network: plant, netns: ${app1.path} }] }
  - { name: app2, interfaces: [{ network: plant, netns: ${app2.path} }] }
${extra}`;

  beforeEach(async () => {
    ({ dev, a1: app1, a2: app2, field } = await t.namespaces(['dev', 'a1', 'a2', 'field']));
    // the port: one end of a veth in the device, the other in a host on the field segment
    await dev.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', field.name);
    await dev.ip('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth9');
    await field.ip('addr', 'add', '10.9.0.100/24', 'dev', 'eth0');
    await field.ip('link', 'set', 'eth0', 'up');
  });


  async function addressApps(): Promise<void> {
    await app1.ip('addr', 'add', '10.9.0.11/24', 'dev', 'eth0');
    await app2.ip('addr', 'add', '10.9.0.12/24', 'dev', 'eth0');
  }

  it('forwards frames untouched between apps and a host behind the port, with no IP services', async () => {
    daemon = await TestDaemon.start(dev, config());
    const s = await daemon.status();
    expect(s.networks).toMatchObject([{ name: 'plant', type: 'switch', state: 'ready', bridge: 'enbr-plant', port: 'field' }]);
    expect(s.endpoints.map((e) => [e.app, e.state])).toEqual([
      ['app1', 'ready'],
      ['app2', 'ready'],
    ]);
    expect(s.ports.find((p) => p.name === 'field')).toMatchObject({ state: 'ready', carrier: true, network: 'plant' });

    await addressApps();
    expect(await app1.ping('10.9.0.12')).toBe(true);
    expect(await field.ping('10.9.0.11')).toBe(true);
    // L2 untouched: the host behind the port learned the app's own MAC
    const mac1 = s.endpoints.find((e) => e.app === 'app1')?.mac;
    expect(mac1).toMatch(/^02:/);
    const neigh = await field.ip('neigh', 'show', '10.9.0.11');
    expect(neigh).toContain(mac1);
    // the app's interface inside its namespace carries that MAC and the name eth0
    expect(await app1.ip('link', 'show', 'eth0')).toContain(mac1);

    // no IP services: the bridge has no address, and no dnsmasq runs in the device namespace
    expect((await dev.ip('-4', 'addr', 'show', 'dev', 'enbr-plant')).trim()).toBe('');
    const pids = (await dev.exec('ip', ['netns', 'pids', dev.name])).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      const comm = (await dev.exec('cat', [`/proc/${pid}/comm`])).stdout.trim();
      expect(comm).not.toBe('dnsmasq');
    }
    // ownership marks on what edgenet made
    expect(await dev.ip('-d', 'link', 'show', 'enbr-plant')).toMatch(/alias edgenet:([0-9a-f]{8}:)?ni:plant\n/);
  });

  it('refuses two switch NIs sharing a port, and a second port, naming the port; the running NI keeps forwarding', async () => {
    daemon = await TestDaemon.start(dev, config());
    await addressApps();
    expect(await app1.ping('10.9.0.12')).toBe(true);

    const shared = config().replace('networks:\n', 'networks:\n  - { name: other, type: switch, port: field }\n');
    await expect(daemon.apply(shared)).rejects.toThrow(/port "field"/);
    await expect(daemon.apply(shared)).rejects.toBeInstanceOf(ConfigError);

    const twoPorts = config().replace('{ name: plant, type: switch, port: field }', '{ name: plant, type: switch, port: [field, spare] }');
    await expect(daemon.apply(twoPorts)).rejects.toThrow(/networks\[0\]\.port/);

    // nothing changed: the running NI still forwards, status is as before
    const s = await daemon.status();
    expect(s.networks.map((n) => n.name)).toEqual(['plant']);
    expect(s.networks[0]?.state).toBe('ready');
    expect(await app1.ping('10.9.0.12')).toBe(true);
    expect(await field.ping('10.9.0.11')).toBe(true);
  });

  it('removing an app deletes only its veth; removing the NI deletes the bridge and releases the port', async () => {
    daemon = await TestDaemon.start(dev, config());
    const before = await dev.ip('-o', 'link', 'show');
    expect(before).toContain('enbr-plant');

    const withoutApp2 = config().replace(/ {2}- \{ name: app2.*\n/, '');
    const r = await daemon.apply(withoutApp2);
    expect(r.deleted).toEqual(['endpoint app2/plant']);
    expect(await app2.ip('-o', 'link', 'show')).not.toContain('eth0');
    expect(await app1.ip('-o', 'link', 'show')).toContain('eth0');

    const empty = `ports:\n  - { name: field, ifname: eth1 }\nnetworks: []\napps: []\n`;
    await daemon.apply(empty);
    const after = await dev.ip('-o', 'link', 'show');
    expect(after).not.toContain('enbr-plant');
    expect(after).not.toMatch(/\benv[0-9a-f]{12}/);
    expect(await dev.ip('-o', 'link', 'show', 'eth1')).not.toContain('master');
  });
});
