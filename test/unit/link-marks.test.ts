// Marks with an instance id: written by withInstanceMarks, read back as the plain mark; the legacy mark is still
// ours (adopted), another instance's is not (refused, never swept).
import { describe, expect, it } from 'vitest';
import { localMark, markInstance, mayRemark, stampMark, withInstanceMarks } from '../../src/drivers/link-marks.ts';
import { FakeLinkDriver } from '../../src/drivers/links-fake.ts';
import type { LinkEvent } from '../../src/drivers/links.ts';
import { sweepOrphans, NOTHING } from '../../src/reconcile/orphans.ts';
import { createFakeDrivers } from '../../src/testing.ts';

const ME = 'a1b2c3d4';
const OTHER = '99998888';

describe('instance marks', () => {
  it('stamps, reads back and compares marks', () => {
    expect(stampMark('edgenet:ni:lan', ME)).toBe(`edgenet:${ME}:ni:lan`);
    expect(stampMark(`edgenet:${OTHER}:ni:lan`, ME)).toBe(`edgenet:${OTHER}:ni:lan`);
    expect(stampMark('somebody', ME)).toBe('somebody');
    expect(localMark(`edgenet:${ME}:ep:web/lan`, ME)).toBe('edgenet:ep:web/lan');
    expect(localMark(`edgenet:${OTHER}:ep:web/lan`, ME)).toBe(`edgenet:${OTHER}:ep:web/lan`);
    expect(localMark('edgenet:ep:web/lan', ME)).toBe('edgenet:ep:web/lan');
    expect(markInstance(`edgenet:${ME}:ni:lan`)).toBe(ME);
    expect(markInstance('edgenet:ni:lan')).toBeUndefined();
    expect(mayRemark('edgenet:ni:lan', `edgenet:${ME}:ni:lan`)).toBe(true); // legacy: ours
    expect(mayRemark(`edgenet:${ME}:ni:old`, `edgenet:${ME}:ni:lan`)).toBe(true);
    expect(mayRemark(`edgenet:${OTHER}:ni:lan`, `edgenet:${ME}:ni:lan`)).toBe(false);
    expect(mayRemark('my bridge', `edgenet:${ME}:ni:lan`)).toBe(false);
  });

  it('writes the id into the kernel and shows the plain mark above the driver (list, get, events)', async () => {
    const raw = new FakeLinkDriver();
    const links = withInstanceMarks(raw, ME);
    const events: LinkEvent[] = [];
    links.events$.subscribe((e) => events.push(e));
    raw.addNetns('/run/netns/web');
    const br = await links.ensureBridge({ name: 'enbr-lan', alias: 'edgenet:ni:lan' });
    expect(br.alias).toBe('edgenet:ni:lan');
    expect((await raw.get('enbr-lan'))?.alias).toBe(`edgenet:${ME}:ni:lan`);
    await links.ensureVeth({ name: 'envabc', alias: 'edgenet:ep:web/lan', netns: '/run/netns/web', peerName: 'eth0', master: br.ifindex });
    expect((await raw.get('envabc'))?.alias).toBe(`edgenet:${ME}:ep:web/lan`);
    expect((await links.list()).map((l) => l.alias).filter(Boolean)).toEqual(['edgenet:ni:lan', 'edgenet:ep:web/lan']);
    expect((await links.get('envabc'))?.alias).toBe('edgenet:ep:web/lan');
    expect(events.every((e) => e.link.alias === undefined || !e.link.alias.includes(ME))).toBe(true);
    // converged: again costs nothing
    const before = links.writes.snapshot().link;
    await links.ensureBridge({ name: 'enbr-lan', alias: 'edgenet:ni:lan' });
    expect(links.writes.snapshot().link).toBe(before);
  });

  it('adopts a link with the legacy mark (re-marked with the id); refuses one marked by another instance', async () => {
    const raw = new FakeLinkDriver();
    const legacy = await raw.ensureBridge({ name: 'enbr-old', alias: 'edgenet:ni:old' });
    await raw.ensureBridge({ name: 'enbr-lan', alias: `edgenet:${OTHER}:ni:lan` });
    const links = withInstanceMarks(raw, ME);
    const adopted = await links.ensureBridge({ name: 'enbr-old', alias: 'edgenet:ni:old' });
    expect(adopted.ifindex).toBe(legacy.ifindex);
    expect((await raw.get('enbr-old'))?.alias).toBe(`edgenet:${ME}:ni:old`);
    await expect(links.ensureBridge({ name: 'enbr-lan', alias: 'edgenet:ni:lan' })).rejects.toMatchObject({ errno: 'EEXIST', message: expect.stringContaining(`foreign alias "edgenet:${OTHER}:ni:lan"`) });
    expect((await raw.get('enbr-lan'))?.alias).toBe(`edgenet:${OTHER}:ni:lan`);
  });

  it('a sweep removes our links and legacy ones, never another instance\'s', async () => {
    const drivers = createFakeDrivers();
    const raw = drivers.links;
    await raw.ensureBridge({ name: 'enbr-mine', alias: `edgenet:${ME}:ni:mine` });
    await raw.ensureBridge({ name: 'enbr-legacy', alias: 'edgenet:ni:legacy' });
    await raw.ensureBridge({ name: 'enbr-theirs', alias: `edgenet:${OTHER}:ni:theirs` });
    const removed = await sweepOrphans({ ...drivers, links: withInstanceMarks(raw, ME) }, NOTHING);
    expect(removed).toEqual(expect.arrayContaining(['bridge enbr-mine', 'bridge enbr-legacy']));
    expect(removed.join(' ')).not.toContain('enbr-theirs');
    expect((await raw.list()).map((l) => l.ifname)).toContain('enbr-theirs');
  });
});
