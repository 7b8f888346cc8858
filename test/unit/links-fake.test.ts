import { describe, expect, it } from 'vitest';
import { FakeLinkDriver } from '../../src/drivers/links-fake.ts';
import type { LinkEvent } from '../../src/drivers/links.ts';

function setup() {
  const links = new FakeLinkDriver();
  const events: LinkEvent[] = [];
  links.events$.subscribe((e) => events.push(e));
  return { links, events };
}

describe('FakeLinkDriver', () => {
  it('creates a bridge and a veth with the real driver write counts; repeating costs nothing', async () => {
    const { links } = setup();
    links.addNetns('/run/netns/web');
    const br = await links.ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });
    expect(br).toMatchObject({ kind: 'bridge', up: true, alias: 'edgenet:ni:lan' });
    const host = await links.ensureVeth({ name: 'enve1', alias: 'edgenet:ep:web', netns: '/run/netns/web', peerName: 'eth0', peerMac: '02:00:00:00:00:01', master: br.ifindex });
    expect(host).toMatchObject({ kind: 'veth', master: br.ifindex, up: true, carrier: true, operstate: 'up' });
    expect(links.appLinks('/run/netns/web')).toEqual([{ netns: '/run/netns/web', ifname: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, up: true }]);
    expect(links.writes.snapshot().link).toBe(2 + 3);
    await links.ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });
    await links.ensureVeth({ name: 'enve1', alias: 'edgenet:ep:web', netns: '/run/netns/web', peerName: 'eth0', master: br.ifindex });
    await links.ensureAddress('enbr0', '10.0.0.1', 24);
    await links.ensureAddress('enbr0', '10.0.0.1', 24);
    expect(links.writes.snapshot()).toMatchObject({ link: 5, address: 1 });
    expect(await links.listAddresses('enbr0')).toEqual([{ ifindex: br.ifindex, address: '10.0.0.1', prefixlen: 24 }]);
  });

  it('fails with ENOENT naming the path when the app namespace is absent (pids included)', async () => {
    const { links } = setup();
    const br = await links.ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });
    await expect(links.ensureVeth({ name: 'enve1', alias: 'a', netns: 4242, peerName: 'eth0', master: br.ifindex })).rejects.toMatchObject({
      kind: 'KernelError',
      errno: 'ENOENT',
      message: expect.stringContaining('/proc/4242/ns/net'),
    });
    links.addNetns(4242);
    await expect(links.ensureVeth({ name: 'enve1', alias: 'a', netns: 4242, peerName: 'eth0', master: br.ifindex })).resolves.toMatchObject({ ifname: 'enve1' });
  });

  it('emits NEWLINK/DELLINK for external interfaces, carrier and attach; removing a netns deletes its veths', async () => {
    const { links, events } = setup();
    links.addNetns('/run/netns/web');
    const br = await links.ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });
    const tap = links.addExternal('vif7', { kind: 'tun', carrier: false });
    expect(events.at(-1)).toEqual({ type: 'new', link: tap });
    await links.attach({ ifname: 'vif7', master: br.ifindex, mtu: 1400 });
    expect(events.at(-1)?.link).toMatchObject({ master: br.ifindex, mtu: 1400, up: true, carrier: false, operstate: 'lowerlayerdown' });
    links.setCarrier('vif7', true);
    expect(events.at(-1)?.link).toMatchObject({ ifname: 'vif7', carrier: true, operstate: 'up' });
    links.removeExternal('vif7');
    expect(events.at(-1)).toMatchObject({ type: 'del', link: { ifname: 'vif7', master: br.ifindex } });

    await links.ensureVeth({ name: 'enve1', alias: 'a', netns: '/run/netns/web', peerName: 'eth0', master: br.ifindex });
    links.removeNetns('/run/netns/web');
    expect(events.at(-1)).toMatchObject({ type: 'del', link: { ifname: 'enve1' } });
    expect(await links.get('enve1')).toBeUndefined();
  });

  it('detach and deleteLink are idempotent; failNext injects one error', async () => {
    const { links } = setup();
    const br = await links.ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });
    links.addExternal('eth1');
    await links.attach({ ifname: 'eth1', master: br.ifindex });
    const before = links.writes.snapshot().link;
    await links.detach('eth1');
    await links.detach('eth1');
    await links.deleteLink('nosuch');
    expect(links.writes.snapshot().link).toBe(before + 1);
    await links.setMac('enbr0', '02:00:5E:10:20:30');
    await links.setMac('enbr0', '02:00:5e:10:20:30');
    expect(links.writes.snapshot().link).toBe(before + 2);
    expect((await links.get('enbr0'))?.mac).toBe('02:00:5e:10:20:30');
    await expect(links.setMac('nosuch', '02:00:5e:10:20:30')).rejects.toMatchObject({ errno: 'ENODEV' });
    links.failNext('attach');
    await expect(links.attach({ ifname: 'eth1', master: br.ifindex })).rejects.toMatchObject({ errno: 'EIO' });
    await expect(links.attach({ ifname: 'eth1', master: br.ifindex })).resolves.toMatchObject({ master: br.ifindex });
    await expect(links.ensureBridge({ name: 'eth1', alias: 'edgenet:ni:x' })).rejects.toMatchObject({ errno: 'EEXIST' });
  });
});
