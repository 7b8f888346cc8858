// The bench's device: NIs (some local with dnsmasq, the rest switch), one tap endpoint per app spread over them,
// one port (a veth to an "outside" namespace) as the uplink of the first 10 local NIs. The hypervisor's taps are played
// by veths named like the taps, their far ends in a throw-away "vm" namespace.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigInput } from '../src/config/config-schema.ts';
import { must } from './sandbox.ts';

export interface Shape {
  localNis: number;
  switchNis: number;
  taps: number;
  /** taps created up front for the apps the incremental push adds */
  extraTaps: number;
}

export interface NiPlan {
  name: string;
  type: 'local' | 'switch';
  /** local: 10.100.<i>.0/24, or 10.<100+i>.0.0/20 when a /24 cannot hold its share of the taps (10 000: 200 an NI) */
  subnet?: string;
  gateway?: string;
  prefixlen?: number;
}

const ipToInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** The address `offset` hosts into a local NI's subnet (the network address is offset 0, the gateway 1). */
export function hostIn(ni: NiPlan, offset: number): string {
  return intToIp(ipToInt((ni.subnet ?? '0.0.0.0/0').split('/')[0] ?? '0.0.0.0') + offset);
}

/** The last usable host offset of a local NI's subnet. */
export function lastHost(ni: NiPlan): number {
  return 2 ** (32 - (ni.prefixlen ?? 24)) - 2;
}

export interface TapPlan {
  app: string;
  ni: string;
  tap: string;
  /** far end, in the vm namespace */
  peer: string;
}

export interface Topology {
  shape: Shape;
  nis: NiPlan[];
  taps: TapPlan[];
  extra: TapPlan[];
  port: { name: string; ifname: string; ni: string; address: string; outsideIfname: string };
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

export function planTopology(shape: Shape): Topology {
  const nis: NiPlan[] = [];
  // the baseline's dnsmasq reserves from host .128 up: a /24 holds 126 taps an NI
  const perNi = Math.ceil(shape.taps / Math.max(1, shape.localNis + shape.switchNis)) + shape.extraTaps;
  const wide = perNi > 120;
  for (let i = 0; i < shape.localNis; i++) {
    const subnet = wide ? `10.${100 + i}.0.0/20` : `10.100.${i}.0/24`;
    nis.push({ name: `l${pad(i, 2)}`, type: 'local', subnet, gateway: wide ? `10.${100 + i}.0.1` : `10.100.${i}.1`, prefixlen: wide ? 20 : 24 });
  }
  for (let i = 0; i < shape.switchNis; i++) nis.push({ name: `s${pad(i, 2)}`, type: 'switch' });
  const taps: TapPlan[] = [];
  for (let i = 0; i < shape.taps; i++) {
    const ni = nis[i % nis.length]!.name;
    taps.push({ app: `a${pad(i, 4)}`, ni, tap: `vt${pad(i, 4)}`, peer: `pt${pad(i, 4)}` });
  }
  // the added apps join local NIs: the costlier case (a reservation and a dnsmasq reload each)
  const extra: TapPlan[] = [];
  for (let i = 0; i < shape.extraTaps; i++) {
    extra.push({ app: `x${pad(i, 3)}`, ni: nis[i % Math.max(1, shape.localNis)]!.name, tap: `vx${pad(i, 3)}`, peer: `px${pad(i, 3)}` });
  }
  return { shape, nis, taps, extra, port: { name: 'up0', ifname: 'up0', ni: nis[0]!.name, address: '192.168.250.1/24', outsideIfname: 'eth0' } };
}

/** The edgenet config of the topology, with the first `extra` added apps. */
/** Local NIs that NAT out of the one port, as on an EVE device: the first PORT_SHARERS (issue 14: 10 share it). */
export const PORT_SHARERS = 10;
export function sharesPort(t: Topology, ni: string): boolean {
  return t.nis.filter((n) => n.type === 'local').slice(0, PORT_SHARERS).some((n) => n.name === ni);
}

export function configOf(t: Topology, extra = 0): ConfigInput {
  return {
    ports: [{ name: t.port.name, ifname: t.port.ifname }],
    networks: t.nis.map((n) =>
      n.type === 'local'
        ? { name: n.name, type: 'local' as const, subnet: n.subnet!, ...(sharesPort(t, n.name) && { port: t.port.name }) }
        : { name: n.name, type: 'switch' as const },
    ),
    apps: [...t.taps, ...t.extra.slice(0, extra)].map((tp) => ({ name: tp.app, interfaces: [{ network: tp.ni, tap: tp.tap }] })),
  };
}

/**
 * Builds the device's surroundings in `dev`: the taps (veths whose far ends go to `vm`) and the port (a veth whose
 * far end is `eth0` in `outside`, addressed on both sides). One `ip -batch` per namespace.
 */
export async function buildSurroundings(t: Topology, dir: string, ns: { dev: string; vm: string; outside?: string }): Promise<void> {
  // One link in `vm` first, so that no tap's far end has the tap's own ifindex. Each namespace numbers its links on
  // its own, so `dev` and a fresh `vm` went in lockstep (vt0000 and pt0000 both 2, …), and the kernel's linkwatch
  // takes a link whose ifindex equals its peer's for one without a lower device: its events are not urgent, ~100 a
  // second in order. At 5000 taps the converge's tap events then trickled out for a minute after it. A real app's
  // veth has its far end in the app's own namespace, numbered from 2 there.
  await must('ip', ['-n', ns.vm, 'link', 'add', 'ifpad0', 'type', 'bridge']);
  const lines: string[] = [];
  for (const tp of [...t.taps, ...t.extra]) lines.push(`link add ${tp.tap} type veth peer name ${tp.peer} netns ${ns.vm}`);
  if (ns.outside) {
    lines.push(`link add ${t.port.ifname} type veth peer name ${t.port.outsideIfname} netns ${ns.outside}`);
    lines.push(`addr add ${t.port.address} dev ${t.port.ifname}`, `link set ${t.port.ifname} up`);
  }
  const file = join(dir, `surroundings-${ns.dev}.batch`);
  await writeFile(file, `${lines.join('\n')}\n`);
  await must('ip', ['-n', ns.dev, '-batch', file], { timeoutMs: 300_000 });
  if (ns.outside) {
    await must('ip', ['-n', ns.outside, 'addr', 'add', '192.168.250.2/24', 'dev', t.port.outsideIfname]);
    await must('ip', ['-n', ns.outside, 'link', 'set', t.port.outsideIfname, 'up']);
  }
}
