// Random sequences of config edits for the O(change) push tests: apps added, removed, changed, reordered,
// duplicated and broken; NIs and ports changed now and then; VLANs and ACLs on some apps.
import type { ConfigInput } from '../../src/config/config-schema.ts';

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type App = NonNullable<ConfigInput['apps']>[number];
type Itf = NonNullable<App['interfaces']>[number];

export interface EditStep {
  what: string;
  config: ConfigInput;
}

const NAMES = Array.from({ length: 24 }, (_, i) => `app${i}`);
const NIS = ['lan', 'tiny', 'sw', 'vsw'];

export function baseConfig(): ConfigInput {
  return {
    ports: [{ name: 'up0', ifname: 'up0' }],
    networks: [
      { name: 'lan', type: 'local', subnet: '10.1.0.0/24', port: 'up0' },
      // 3 dynamic addresses: adding apps fills it (the push is refused, or partial refuses the interface)
      { name: 'tiny', type: 'local', subnet: '10.2.0.0/29', dns: { hosts: [{ name: 'printer', ip: '10.2.0.2' }] } },
      { name: 'sw', type: 'switch' },
      { name: 'vsw', type: 'switch' },
    ],
    apps: [],
  };
}

export class ConfigEditor {
  private readonly r: () => number;
  config: ConfigInput;
  constructor(seed: number) {
    this.r = rng(seed);
    this.config = baseConfig();
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  private itf(network: string): Itf {
    const itf: Itf = { network };
    if (this.chance(0.6)) itf.tap = `tp${Math.floor(this.r() * 40)}`;
    else {
      itf.netns = this.chance(0.8) ? `/run/netns/ns${Math.floor(this.r() * 6)}` : 1000 + Math.floor(this.r() * 3);
      if (this.chance(0.3)) itf.ifname = this.pick(['eth0', 'eth1', 'net0']);
    }
    if (network === 'lan' && this.chance(0.3)) itf.ip = `10.1.0.${2 + Math.floor(this.r() * 20)}`;
    if (network === 'tiny' && this.chance(0.2)) itf.ip = `10.2.0.${1 + Math.floor(this.r() * 7)}`;
    if (this.chance(0.1)) itf.mac = this.pick(['02:00:00:00:00:01', '02:00:00:00:00:02', '02:AA:00:00:00:03']);
    if (network === 'vsw' && this.chance(0.5)) itf.accessVlanId = this.pick([10, 20]);
    if (network === 'lan' && this.chance(0.15)) {
      itf.acls = this.chance(0.5)
        ? [{ match: { host: 'example.com' }, action: 'allow' }]
        : [{ match: { protocol: 'tcp', lport: 8080 + Math.floor(this.r() * 2) }, action: 'portmap', appPort: 80 }];
    }
    return itf;
  }

  private app(name: string): App {
    const n = this.chance(0.8) ? 1 : 2;
    const nis = [...NIS].sort(() => this.r() - 0.5).slice(0, n);
    return { name, interfaces: nis.map((ni) => this.itf(ni)), ...(this.chance(0.1) && { userData: 'aGVsbG8=' }) };
  }

  private apps(): App[] {
    return (this.config.apps ??= []);
  }

  /** The next edit: the config after it (a fresh object, or the same one changed in place). */
  next(): EditStep {
    const apps = this.apps();
    const roll = this.r();
    const clone = (): ConfigInput => structuredClone(this.config);
    if (roll < 0.25 || apps.length === 0) {
      const name = this.pick(NAMES);
      apps.push(this.app(name));
      return { what: `add ${name}`, config: clone() };
    }
    if (roll < 0.38) {
      const i = Math.floor(this.r() * apps.length);
      const [gone] = apps.splice(i, 1);
      return { what: `remove ${gone?.name}`, config: clone() };
    }
    if (roll < 0.55) {
      const i = Math.floor(this.r() * apps.length);
      const a = apps[i]!;
      const itfs = a.interfaces ?? [];
      const k = Math.floor(this.r() * Math.max(1, itfs.length));
      const kind = this.pick(['ip', 'network', 'kind', 'mac', 'add-itf', 'userData']);
      const itf = itfs[k];
      if (itf && kind === 'ip') {
        if (itf.ip) delete itf.ip;
        else itf.ip = itf.network === 'tiny' ? '10.2.0.5' : '10.1.0.7';
      } else if (itf && kind === 'network') itf.network = this.pick(NIS);
      else if (itf && kind === 'kind') apps[i] = { ...a, interfaces: itfs.map((x, j) => (j === k ? this.itf(x.network) : x)) };
      else if (itf && kind === 'mac') itf.mac = itf.mac ? undefined : '02:00:00:00:00:09';
      else if (kind === 'userData') a.userData = a.userData ? undefined : 'd29ybGQ=';
      else a.interfaces = [...itfs, this.itf(this.pick(NIS))];
      return { what: `change ${a.name} (${kind})`, config: clone() };
    }
    if (roll < 0.62) {
      const i = Math.floor(this.r() * apps.length);
      const j = Math.floor(this.r() * apps.length);
      [apps[i], apps[j]] = [apps[j]!, apps[i]!];
      return { what: 'swap apps', config: clone() };
    }
    if (roll < 0.7) return { what: 'no-op (same config, a copy)', config: clone() };
    if (roll < 0.76) {
      // a broken push: the editor's own config stays as it was
      const bad = clone();
      const badApps = (bad.apps ??= []);
      const how = this.pick(['dup', 'unknown-field', 'bad-ip', 'unknown-ni', 'tap-is-port', 'not-a-list']);
      if (how === 'dup' && badApps[0]) badApps.push(structuredClone(badApps[0]));
      else if (how === 'unknown-field') badApps.push({ name: 'zz', interfaces: [{ network: 'lan', tap: 'tz', colour: 'red' } as Itf] });
      else if (how === 'bad-ip') badApps.push({ name: 'zz', interfaces: [{ network: 'lan', tap: 'tz', ip: '10.9.0.1' }] });
      else if (how === 'unknown-ni') badApps.push({ name: 'zz', interfaces: [{ network: 'nope', tap: 'tz' }] });
      else if (how === 'tap-is-port') badApps.push({ name: 'zz', interfaces: [{ network: 'sw', tap: 'up0' }] });
      else (bad as Record<string, unknown>)['apps'] = 'apps';
      return { what: `invalid (${how})`, config: bad };
    }
    if (roll < 0.82) {
      const nets = (this.config.networks ??= []);
      const how = this.pick(['mtu', 'add-ni', 'drop-ni', 'subnet']);
      if (how === 'mtu') {
        const sw = nets.find((n) => n.name === 'sw');
        if (sw) sw.mtu = sw.mtu ? undefined : 1400;
      } else if (how === 'add-ni' && !nets.some((n) => n.name === 'extra')) nets.push({ name: 'extra', type: 'switch' });
      else if (how === 'drop-ni') this.config.networks = nets.filter((n) => n.name !== 'extra');
      else {
        const lan = nets.find((n) => n.name === 'lan');
        if (lan && lan.type === 'local') lan.subnet = lan.subnet === '10.1.0.0/24' ? '10.1.0.0/23' : '10.1.0.0/24';
      }
      return { what: `network edit (${how})`, config: clone() };
    }
    if (roll < 0.86) {
      const p = this.config.ports?.[0];
      if (p) p.cost = p.cost ? undefined : 5;
      return { what: 'port edit', config: clone() };
    }
    // pushed as the same object again, after changing it in place
    const name = this.pick(NAMES);
    apps.push(this.app(name));
    return { what: `add ${name} (same object, changed in place)`, config: this.config };
  }

  /** A rejected push: the editor goes back to the config before the step (tracked by the caller). */
  reset(config: ConfigInput): void {
    this.config = structuredClone(config);
  }
}
