// A big plan goes to the system actor in slices (the loop is free between two); applied in order, the slices do
// what the whole plan does.
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slicePlan } from '../../src/runtime/apply-slices.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import { createFakeDrivers } from '../../src/testing.ts';
import type { Plan } from '../../machines/system.machine.ts';
import type { MemberSpec, NiSpec } from '../../machines/specs.ts';

const ni = (name: string): NiSpec => ({ name }) as unknown as NiSpec;
const member = (key: string): MemberSpec => ({ key }) as unknown as MemberSpec;

describe('slicePlan', () => {
  it('keeps a small plan whole', () => {
    const plan: Plan = { networks: { create: [ni('a')], update: [], delete: [] }, members: { create: [member('x')], update: [], delete: [] } };
    expect(slicePlan(plan, 10)).toEqual([plan]);
  });

  it('puts the NIs and every deletion first, then member updates and creations, size at a time', () => {
    const creates = Array.from({ length: 25 }, (_, i) => member(`c${i}`));
    const updates = Array.from({ length: 12 }, (_, i) => ({ spec: member(`u${i}`), fields: ['mtu'] }));
    const plan: Plan = {
      networks: { create: [ni('a')], update: [], delete: ['old'] },
      members: { create: creates, update: updates, delete: ['gone'] },
    };
    const slices = slicePlan(plan, 10);
    expect(slices[0]).toEqual({ networks: plan.networks, members: { delete: ['gone'], update: [], create: [] } });
    expect(slices.slice(1).map((s) => [s.members.update.length, s.members.create.length])).toEqual([[10, 0], [2, 0], [0, 10], [0, 10], [0, 5]]);
    expect(slices.slice(1).every((s) => s.networks.create.length + s.networks.update.length + s.networks.delete.length + s.members.delete.length === 0)).toBe(true);
    expect(slices.flatMap((s) => s.members.create)).toEqual(creates);
    expect(slices.flatMap((s) => s.members.update)).toEqual(updates);
  });
});

describe('a push bigger than one slice (fake drivers)', () => {
  it('converges every endpoint, and a rebuild of them all (new MACs) too', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-slices-'));
    const drivers = createFakeDrivers();
    for (let i = 0; i < 350; i++) drivers.links.addExternal(`t${i}`);
    const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0 });
    const config = (macs: boolean) => ({
      networks: [{ name: 'sw', type: 'switch' as const }, { name: 'lan', type: 'local' as const, subnet: '10.9.0.0/22' }],
      apps: Array.from({ length: 350 }, (_, i) => ({
        name: `a${i}`,
        interfaces: [{ network: i % 2 ? 'sw' : 'lan', tap: `t${i}`, ...(macs && { mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }) }],
      })),
    });
    try {
      const first = await net.apply(config(false));
      expect(first.created).toHaveLength(352);
      expect(net.status().endpoints.filter((e) => e.state === 'ready')).toHaveLength(350);
      const second = await net.apply(config(true));
      expect(second.updated.length + second.created.length).toBeGreaterThanOrEqual(350);
      const s = net.status();
      expect(s.endpoints).toHaveLength(350);
      expect(s.endpoints.every((e) => e.state === 'ready')).toBe(true);
      expect(s.endpoints.find((e) => e.app === 'a3')?.mac).toBe('02:00:00:00:00:03');
    } finally {
      await net.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
