import { KernelError } from '../errors.ts';
import type { FakeLinkDriver } from './links-fake.ts';
import type { PortLinkDriver, PortLinkSpec, PortLinkView } from './port-links.ts';
import { WriteCounter } from './write-counter.ts';

// Port links on the fake link driver: a created VLAN or bond is a link there (so port actors see it appear), with
// its settings kept here. `supported: false` answers as a kernel without 802.1Q / bonding does.

interface Settings {
  vlan?: PortLinkView['vlan'];
  bond?: Omit<NonNullable<PortLinkView['bond']>, 'members'>;
}

export class FakePortLinkDriver implements PortLinkDriver {
  readonly writes = new WriteCounter();
  private readonly settings = new Map<number, Settings>();

  constructor(private readonly links: FakeLinkDriver) {}

  /** A VLAN or bond someone else made (unmarked unless `alias`). */
  addForeign(ifname: string, s: Pick<PortLinkSpec, 'vlan' | 'bond'>, alias?: string): void {
    const info = this.links.addExternal(ifname, { kind: s.vlan ? 'vlan' : 'bond' });
    this.links.tamper(ifname, { up: true, ...(alias !== undefined && { alias }) });
    this.settings.set(info.ifindex, this.settingsOf(s));
    for (const m of s.bond?.members ?? []) this.links.tamper(m, { master: info.ifindex });
  }

  async list(): Promise<PortLinkView[]> {
    const all = await this.links.list();
    return all.flatMap((l): PortLinkView[] => {
      const s = this.settings.get(l.ifindex);
      if (!s || (l.kind !== 'vlan' && l.kind !== 'bond')) return [];
      const members = all.filter((m) => m.master === l.ifindex).map((m) => m.ifname);
      return [
        {
          ifindex: l.ifindex,
          ifname: l.ifname,
          kind: l.kind,
          up: l.up,
          ...(l.alias !== undefined && { alias: l.alias }),
          ...(s.vlan && { vlan: s.vlan }),
          ...(s.bond && { bond: { ...s.bond, members } }),
        },
      ];
    });
  }

  async create(spec: PortLinkSpec): Promise<void> {
    if (await this.links.get(spec.ifname)) throw new KernelError('create', spec.ifname, 'EEXIST');
    const lower = spec.vlan ? [spec.vlan.parent] : (spec.bond?.members ?? []);
    for (const l of lower) if (!(await this.links.get(l))) throw new KernelError('create', spec.ifname, 'ENODEV', `no ${l}`);
    const info = this.links.addExternal(spec.ifname, { kind: spec.vlan ? 'vlan' : 'bond' });
    this.settings.set(info.ifindex, this.settingsOf(spec));
    this.links.tamper(spec.ifname, { alias: spec.alias });
    for (const m of spec.bond?.members ?? []) this.links.tamper(m, { master: info.ifindex });
    this.links.tamper(spec.ifname, { up: true });
    this.writes.inc('link', 3 + 2 * (spec.bond?.members.length ?? 0));
  }

  async setMembers(ifname: string, add: readonly string[], release: readonly string[]): Promise<void> {
    const bond = await this.links.get(ifname);
    if (!bond) throw new KernelError('setMembers', ifname, 'ENODEV');
    for (const m of release) this.links.tamper(m, { master: undefined });
    for (const m of add) this.links.tamper(m, { master: bond.ifindex });
    this.writes.inc('link', 2 * release.length + 2 * add.length + 1);
  }

  async remove(ifname: string, members: readonly string[] = []): Promise<void> {
    const link = await this.links.get(ifname);
    this.writes.inc('link', 1 + members.length);
    if (!link) return;
    for (const m of (await this.links.list()).filter((l) => l.master === link.ifindex)) this.links.tamper(m.ifname, { master: undefined });
    // an 802.1Q sub-interface goes with its parent in the kernel; here only what is asked
    this.settings.delete(link.ifindex);
    this.links.removeExternal(ifname);
  }

  async close(): Promise<void> {}

  private settingsOf(s: Pick<PortLinkSpec, 'vlan' | 'bond'>): Settings {
    if (s.vlan) return { vlan: { ...s.vlan } };
    const b = s.bond;
    return b ? { bond: { mode: b.mode, miimon: b.miimon ?? 0, upDelay: b.upDelay ?? 0, downDelay: b.downDelay ?? 0, lacpRate: b.lacpRate ?? 'slow' } } : {};
  }
}

export function createFakePortLinkDriver(links: FakeLinkDriver): FakePortLinkDriver {
  return new FakePortLinkDriver(links);
}
