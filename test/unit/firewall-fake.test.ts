// The fake firewall keeps the real driver's semantics, so machine and system tests can assert on resulting state.
import { describe, expect, it } from 'vitest';
import { createFakeFirewall } from '../../src/drivers/firewall-fake.ts';
import type { NiRules } from '../../src/drivers/firewall.ts';
import { KernelError } from '../../src/errors.ts';

const LAN: NiRules = { name: 'lan', bridge: 'enbr-lan', subnet: '10.50.0.0/24', gateway: '10.50.0.1', port: { ifname: 'up0' } };
const IOT: NiRules = { name: 'iot', bridge: 'enbr-iot', subnet: '10.60.0.0/24', gateway: '10.60.0.1' };

describe('fake firewall', () => {
  it('lan masquerades out of up0; iot (no port) reaches nothing but itself', async () => {
    const fw = createFakeFirewall();
    await fw.ensureNetworks([LAN, IOT]);
    expect(fw.rulesFor('lan')).toMatchObject({ masqueradeOut: 'up0', forwardsTo: ['enbr-lan', 'up0'], isolated: true });
    expect(fw.rulesFor('lan')?.inputAccepts).toContain('udp 53 to 10.50.0.1');
    expect(fw.rulesFor('iot')?.masqueradeOut).toBeUndefined();
    expect(fw.rulesFor('iot')?.forwardsTo).toEqual(['enbr-iot']);
    expect(fw.ipForward).toBe(true);
    expect(fw.writes.snapshot()).toMatchObject({ nft: 1, sysctl: 1 });
  });

  it('forward verdicts follow the real layout', async () => {
    const fw = createFakeFirewall();
    await fw.ensureNetworks([LAN, IOT]);
    const v = (iifname: string, oifname: string, ct?: 'new' | 'established') => fw.forwardVerdict({ iifname, oifname, ...(ct ? { ct } : {}) });
    expect(v('enbr-lan', 'up0')).toBe('accept');
    expect(v('enbr-lan', 'enbr-lan')).toBe('accept');
    expect(v('up0', 'enbr-lan', 'established')).toBe('accept');
    expect(v('up0', 'enbr-lan', 'new')).toBe('drop');
    expect(v('enbr-lan', 'enbr-iot')).toBe('drop');
    expect(v('enbr-iot', 'enbr-lan')).toBe('drop');
    expect(v('enbr-iot', 'up0')).toBe('drop');
    expect(v('eth9', 'eth8')).toBe('accept'); // foreign traffic is not ours
  });

  it('is idempotent: the same input twice costs no write; a change costs one', async () => {
    const fw = createFakeFirewall({ ipForward: true });
    await fw.ensureNetwork(LAN);
    await fw.ensureNetwork({ ...LAN });
    await fw.ensureNetworks([LAN]);
    expect(fw.writes.snapshot()).toMatchObject({ nft: 1, sysctl: 0 });
    await fw.ensureNetwork({ ...LAN, port: { ifname: 'up1' } });
    expect(fw.writes.snapshot().nft).toBe(2);
    expect(fw.rulesFor('lan')?.masqueradeOut).toBe('up1');
  });

  it('dump answers like the real driver; a flush behind our back is noticed and repaired', async () => {
    const fw = createFakeFirewall();
    expect(await fw.dump()).toMatchObject({ present: false, networks: [] });
    await fw.ensureNetworks([LAN, IOT]);
    const good = await fw.dump();
    expect(good).toMatchObject({ present: true, networks: ['iot', 'lan'] });

    fw.flushBehindOurBack();
    const flushed = await fw.dump();
    expect(flushed.present).toBe(false);
    expect(flushed.digest).not.toBe(good.digest);
    expect(fw.rulesFor('lan')).toBeUndefined();

    await fw.ensureNetworks([LAN, IOT]);
    expect((await fw.dump()).digest).toBe(good.digest);
  });

  it('removes one NI only; absent is success and free; removeAll drops the table', async () => {
    const fw = createFakeFirewall();
    await fw.ensureNetworks([LAN, IOT]);
    await fw.removeNetwork('lan');
    expect(fw.rulesFor('lan')).toBeUndefined();
    expect(fw.rulesFor('iot')).toBeDefined();
    const writes = fw.writes.snapshot().nft;
    await fw.removeNetwork('lan');
    expect(fw.writes.snapshot().nft).toBe(writes);
    expect(await fw.dump()).toMatchObject({ present: true, networks: ['iot'] });
    await fw.removeAll();
    await fw.removeAll();
    expect(await fw.dump()).toMatchObject({ present: false, networks: [] });
    expect(fw.writes.snapshot().nft).toBe(writes + 1);
  });

  it('fails on demand with a KernelError naming the operation and the NI, changing nothing', async () => {
    const fw = createFakeFirewall();
    fw.failNext('ensureNetwork');
    const err = await fw.ensureNetwork(LAN).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/nft ensureNetwork ni "lan"/);
    expect(fw.rulesFor('lan')).toBeUndefined();
    await fw.ensureNetwork(LAN); // only the next call fails
    expect(fw.rulesFor('lan')).toBeDefined();
    await expect(fw.ensureNetwork(IOT, AbortSignal.abort())).rejects.toThrow();
    expect(fw.rulesFor('iot')).toBeUndefined();
  });
});
