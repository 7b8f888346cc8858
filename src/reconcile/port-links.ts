import type { EdgenetLogger as Logger } from '../util/logger.ts';
import type { Config, PortSpec } from '../config/config-schema.ts';
import { niPortNames } from '../config/config-switch.ts';
import type { Drivers } from '../drivers/drivers.ts';
import type { LinkInfo } from '../drivers/links.ts';
import { describeSpec, describeView, parsePortLinkAlias, portLinkAlias, sameSettings, type PortLinkSpec, type PortLinkView } from '../drivers/port-links.ts';
import type { ConfigIssue } from '../errors.ts';
import { ConfigError } from '../errors.ts';

// VLAN and bond ports (ports[].vlan / ports[].bond) are links edgenet makes: before a push's actors move, every port
// link an NI uses (and what it is built on: a VLAN's bond) is created, or adopted when its marked link is there
// already (0 writes after a restart); after the push has settled, marked port links no NI uses any more are
// removed. A same-named link without edgenet's mark is used when it is what the port asks for, never deleted.

/** A port link the config needs, with the index of its port (for error paths). */
export interface WantedPortLink {
  index: number;
  spec: PortLinkSpec;
}

function specOf(p: PortSpec): PortLinkSpec | undefined {
  const common = { port: p.name, ifname: p.ifname, alias: portLinkAlias(p.name) };
  if (p.vlan) return { ...common, vlan: { parent: p.vlan.parent, id: p.vlan.id } };
  if (p.bond) {
    const b = p.bond;
    return {
      ...common,
      bond: {
        members: [...b.members],
        mode: b.mode,
        ...(b.miimon !== undefined && { miimon: b.miimon }),
        ...(b.upDelay !== undefined && { upDelay: b.upDelay }),
        ...(b.downDelay !== undefined && { downDelay: b.downDelay }),
        ...(b.lacpRate !== undefined && { lacpRate: b.lacpRate }),
      },
    };
  }
  return undefined;
}

/** VLAN/bond ports some NI uses, and the VLAN/bond ports those are built on; bonds first, then VLANs. */
export function wantedPortLinks(config: Config): WantedPortLink[] {
  const byIfname = new Map(config.ports.map((p, index) => [p.ifname, { p, index }]));
  const byName = new Map(config.ports.map((p, index) => [p.name, { p, index }]));
  const wanted = new Map<string, WantedPortLink>();
  const want = (entry: { p: PortSpec; index: number } | undefined): void => {
    if (!entry || wanted.has(entry.p.ifname)) return;
    const spec = specOf(entry.p);
    if (!spec) return;
    wanted.set(entry.p.ifname, { index: entry.index, spec });
    for (const lower of spec.vlan ? [spec.vlan.parent] : (spec.bond?.members ?? [])) want(byIfname.get(lower));
  };
  for (const ni of config.networks) for (const name of niPortNames(ni)) want(byName.get(name));
  return [...wanted.values()].sort((a, b) => rank(a.spec) - rank(b.spec) || a.index - b.index);
}

const rank = (s: PortLinkSpec): number => (s.bond ? 0 : 1);

export interface PortLinkPlan {
  /** marked links to delete first (their settings changed), with their bond members */
  recreate: PortLinkView[];
  create: PortLinkSpec[];
  members: { ifname: string; add: string[]; release: string[] }[];
  /** marked links that are what their port asks for (after a restart: all of them) */
  adopted: string[];
  /** unmarked links used as they are */
  foreign: string[];
}

export const EMPTY_PLAN: PortLinkPlan = { recreate: [], create: [], members: [], adopted: [], foreign: [] };

/** What a push needs done to its port links, or a ConfigError (nothing written) when it cannot be done. */
export async function planPortLinks(drivers: Drivers, wanted: readonly WantedPortLink[]): Promise<PortLinkPlan> {
  if (wanted.length === 0) return EMPTY_PLAN;
  const driver = drivers.portLinks;
  if (!driver) throw new ConfigError(wanted.map((w) => ({ path: `ports[${w.index}]`, message: 'these drivers cannot create VLAN or bond links (no port-link driver)' })));
  const [views, links] = await Promise.all([driver.list(), drivers.links.list()]);
  const linkByName = new Map(links.map((l) => [l.ifname, l]));
  const linkByIndex = new Map(links.map((l) => [l.ifindex, l]));
  const viewByName = new Map(views.map((v) => [v.ifname, v]));
  const made = new Set(wanted.map((w) => w.spec.ifname));
  const plan: PortLinkPlan = { recreate: [], create: [], members: [], adopted: [], foreign: [] };
  const issues: ConfigIssue[] = [];
  const lowerIssue = (path: string, lower: string, bond?: { ifname: string; ifindex?: number }): void => {
    const link = linkByName.get(lower);
    if (!link) {
      if (!made.has(lower)) issues.push({ path, message: `no interface "${lower}"` });
      return;
    }
    if (bond && link.master !== undefined && link.master !== bond.ifindex) {
      issues.push({ path, message: `"${lower}" is already enslaved to ${nameOf(linkByIndex.get(link.master), link.master)}: a bond member must be free` });
    }
  };
  for (const { index, spec } of wanted) {
    const at = `ports[${index}]`;
    const link = linkByName.get(spec.ifname);
    const view = viewByName.get(spec.ifname);
    if (link && !view) {
      issues.push({ path: `${at}.ifname`, message: `"${spec.ifname}" exists and is not a ${spec.vlan ? 'VLAN sub-interface' : 'bond'} (${link.kind ?? 'a device'}): cannot be ${describeSpec(spec)}` });
      continue;
    }
    const ours = view !== undefined && parsePortLinkAlias(view.alias) !== undefined;
    if (view && !ours) {
      if (!sameSettings(spec, view)) {
        issues.push({ path: at, message: `"${spec.ifname}" exists without edgenet's mark as ${describeView(view)}, not ${describeSpec(spec)}: not created by edgenet, refused (delete or rename it)` });
      } else plan.foreign.push(spec.ifname);
      continue;
    }
    const keep = view !== undefined && view.alias === spec.alias && sameSettings(spec, view);
    if (view && !keep) plan.recreate.push(view);
    if (spec.vlan) lowerIssue(`${at}.vlan.parent`, spec.vlan.parent);
    spec.bond?.members.forEach((m, k) => lowerIssue(`${at}.bond.members[${k}]`, m, { ifname: spec.ifname, ...(ours && { ifindex: view.ifindex }) }));
    if (!keep) {
      plan.create.push(spec);
      continue;
    }
    plan.adopted.push(spec.ifname);
    if (spec.bond && view.bond) {
      const add = spec.bond.members.filter((m) => !view.bond?.members.includes(m));
      const release = view.bond.members.filter((m) => !spec.bond?.members.includes(m));
      if (add.length || release.length || !view.up) plan.members.push({ ifname: spec.ifname, add, release });
    }
  }
  if (issues.length) throw new ConfigError(issues);
  return plan;
}

function nameOf(link: LinkInfo | undefined, ifindex: number): string {
  return link ? `"${link.ifname}"` : `ifindex ${ifindex}`;
}

/** Carries a plan out: changed links deleted and made again, missing ones made, bond members converged. */
export async function applyPortLinks(drivers: Drivers, plan: PortLinkPlan, logger?: Logger): Promise<void> {
  const driver = drivers.portLinks;
  if (!driver) return;
  for (const v of vlansFirst(plan.recreate)) await driver.remove(v.ifname, v.bond?.members ?? []);
  for (const spec of plan.create) await driver.create(spec);
  for (const m of plan.members) await driver.setMembers(m.ifname, m.add, m.release);
  if (plan.create.length || plan.recreate.length || plan.members.length) {
    logger?.info({ created: plan.create.map((s) => s.ifname), recreated: plan.recreate.map((v) => v.ifname), adopted: plan.adopted, foreign: plan.foreign }, 'port links converged');
  }
}

/** Deletes marked port links that `wanted` does not hold (VLANs first, then bonds); returns them, in words. */
export async function removeUnusedPortLinks(drivers: Drivers, wanted: readonly WantedPortLink[], logger?: Logger): Promise<string[]> {
  const driver = drivers.portLinks;
  if (!driver) return [];
  const keep = new Map(wanted.map((w) => [w.spec.ifname, w.spec.alias]));
  const unused = (await driver.list()).filter((v) => parsePortLinkAlias(v.alias) !== undefined && keep.get(v.ifname) !== v.alias);
  const removed: string[] = [];
  for (const v of vlansFirst(unused)) {
    await driver.remove(v.ifname, v.bond?.members ?? []);
    removed.push(`${v.kind} ${v.ifname} (port ${parsePortLinkAlias(v.alias) ?? '?'})`);
  }
  if (removed.length) logger?.info({ removed }, 'port links no NI uses removed');
  return removed;
}

/** A VLAN on a bond goes before the bond (deleting the bond would take it along unannounced). */
function vlansFirst(views: readonly PortLinkView[]): PortLinkView[] {
  return [...views].sort((a, b) => (a.kind === 'vlan' ? 0 : 1) - (b.kind === 'vlan' ? 0 : 1));
}
