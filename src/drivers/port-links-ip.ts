// Port links over iproute2: `ip -d -j link show` to read, one `ip -batch -` per change to write. (The netlink
// package's link encoder has no bond attributes; iproute2 is already a runtime dependency of the routes driver.)
import { spawn } from 'node:child_process';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import { KernelError } from '../errors.ts';
import type { PortLinkDriver, PortLinkSpec, PortLinkView } from './port-links.ts';
import { WriteCounter } from './write-counter.ts';

export interface IpPortLinkOptions {
  logger?: Logger;
  writes?: WriteCounter;
}

function ip(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => reject(new KernelError('exec', 'ip', err.code, err.message)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // ip may exit before reading all of its input (a bad line ends `-batch`): the exit code tells that, so the
    // write's EPIPE is not an error of its own (unhandled, it would end the process).
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
  });
}

type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** The VLAN and bond links of one `ip -d -j link show` listing. */
export function parsePortLinks(stdout: string): PortLinkView[] {
  const text = stdout.trim();
  const all: unknown = text ? JSON.parse(text) : [];
  const links = Array.isArray(all) ? all.filter(isJson) : [];
  const members = new Map<string, string[]>();
  for (const l of links) {
    const master = str(l['master']);
    const info = isJson(l['linkinfo']) ? l['linkinfo'] : undefined;
    const ifname = str(l['ifname']);
    if (master && ifname && info?.['info_slave_kind'] === 'bond') members.set(master, [...(members.get(master) ?? []), ifname]);
  }
  const views: PortLinkView[] = [];
  for (const l of links) {
    const info = isJson(l['linkinfo']) ? l['linkinfo'] : undefined;
    const kind = str(info?.['info_kind']);
    const data = isJson(info?.['info_data']) ? info['info_data'] : {};
    const ifname = str(l['ifname']);
    if (!ifname || (kind !== 'vlan' && kind !== 'bond')) continue;
    const flags = Array.isArray(l['flags']) ? l['flags'] : [];
    const alias = str(l['ifalias']);
    const view: PortLinkView = { ifindex: num(l['ifindex']), ifname, kind, up: flags.includes('UP'), ...(alias !== undefined && alias !== '' && { alias }) };
    if (kind === 'vlan') view.vlan = { parent: str(l['link']) ?? `if${num(l['link_index'])}`, id: num(data['id']) };
    else {
      view.bond = {
        mode: str(data['mode']) ?? 'balance-rr',
        miimon: num(data['miimon']),
        upDelay: num(data['updelay']),
        downDelay: num(data['downdelay']),
        lacpRate: str(data['ad_lacp_rate']) ?? str(data['lacp_rate']) ?? 'slow',
        members: members.get(ifname) ?? [],
      };
    }
    views.push(view);
  }
  return views;
}

/** The `ip -batch` lines that create the port's link, mark it, enslave a bond's members and bring it up. */
export function createLines(spec: PortLinkSpec): string[] {
  const up = [`link set dev ${spec.ifname} up`];
  if (spec.vlan) {
    return [`link add link ${spec.vlan.parent} name ${spec.ifname} type vlan id ${spec.vlan.id}`, `link set dev ${spec.ifname} alias ${spec.alias}`, ...up];
  }
  const b = spec.bond;
  if (!b) throw new Error(`port ${spec.port}: neither vlan nor bond`);
  const opts = [
    `mode ${b.mode}`,
    ...(b.miimon !== undefined ? [`miimon ${b.miimon}`] : []),
    ...(b.upDelay !== undefined ? [`updelay ${b.upDelay}`] : []),
    ...(b.downDelay !== undefined ? [`downdelay ${b.downDelay}`] : []),
    ...(b.lacpRate !== undefined ? [`lacp_rate ${b.lacpRate}`] : []),
  ];
  return [`link add name ${spec.ifname} type bond ${opts.join(' ')}`, `link set dev ${spec.ifname} alias ${spec.alias}`, ...enslaveLines(spec.ifname, b.members), ...up];
}

/** A member must be down to be enslaved (the bond brings it up again). */
function enslaveLines(bond: string, members: readonly string[]): string[] {
  return members.flatMap((m) => [`link set dev ${m} down`, `link set dev ${m} master ${bond}`]);
}

export class IpPortLinkDriver implements PortLinkDriver {
  readonly writes: WriteCounter;
  private readonly log: Logger;

  constructor(opts: IpPortLinkOptions = {}) {
    this.writes = opts.writes ?? new WriteCounter();
    this.log = opts.logger ?? silentLogger;
  }

  async list(): Promise<PortLinkView[]> {
    const r = await ip(['-d', '-j', 'link', 'show']);
    if (r.code !== 0) throw new KernelError('list', 'port links', undefined, `ip -d -j link show: ${r.stderr.trim()}`);
    return parsePortLinks(r.stdout);
  }

  async create(spec: PortLinkSpec): Promise<void> {
    try {
      await this.batch('create', spec.ifname, createLines(spec));
    } catch (err) {
      // never half a port: what this call made goes again (it did not exist before: the caller checked)
      await ip(['link', 'del', 'dev', spec.ifname]).catch(() => undefined);
      if (spec.bond) await this.batch('release', spec.ifname, spec.bond.members.map((m) => `link set dev ${m} up`)).catch(() => undefined);
      throw err;
    }
    this.log.info({ port: spec.port, ifname: spec.ifname }, `port link ${spec.ifname} created`);
  }

  async setMembers(ifname: string, add: readonly string[], release: readonly string[]): Promise<void> {
    const lines = [...release.flatMap((m) => [`link set dev ${m} nomaster`, `link set dev ${m} up`]), ...enslaveLines(ifname, add), `link set dev ${ifname} up`];
    await this.batch('setMembers', ifname, lines);
  }

  async remove(ifname: string, members: readonly string[] = []): Promise<void> {
    const r = await ip(['link', 'del', 'dev', ifname]);
    this.writes.inc('link');
    if (r.code !== 0 && !/Cannot find device|No such device/.test(r.stderr)) throw new KernelError('remove', ifname, undefined, r.stderr.trim());
    // the kernel closes a member it releases: it was up before the bond took it
    for (const m of members) {
      const up = await ip(['link', 'set', 'dev', m, 'up']);
      this.writes.inc('link');
      if (up.code !== 0) this.log.warn({ member: m, err: up.stderr.trim() }, `released bond member ${m} could not be brought up`);
    }
    this.log.info({ ifname }, `port link ${ifname} removed`);
  }

  async close(): Promise<void> {}

  private async batch(operation: string, ifname: string, lines: readonly string[]): Promise<void> {
    const r = await ip(['-batch', '-'], lines.join('\n') + '\n');
    this.writes.inc('link', lines.length);
    if (r.code !== 0) throw new KernelError(operation, ifname, errnoOf(r.stderr), `ip -batch: ${r.stderr.trim()}`);
  }
}

function errnoOf(text: string): string | undefined {
  if (/File exists/.test(text)) return 'EEXIST';
  if (/Cannot find device|No such device/.test(text)) return 'ENODEV';
  if (/not supported|Unknown device type/i.test(text)) return 'EOPNOTSUPP';
  return undefined;
}

export function createIpPortLinkDriver(opts: IpPortLinkOptions = {}): IpPortLinkDriver {
  return new IpPortLinkDriver(opts);
}
