// A port shared by a switch NI and the device's own IP connectivity (or local NIs): its IPv4 addresses and
// main-table routes move onto the switch NI's bridge once the port is enslaved (as EVE's NIM makes ethN an L3
// bridge over kethN), and back onto the port before it is released. Each move is recorded first in the runtime
// dir (`l3-moves/<ifname>.json`, written atomically): after a crash between move and restore, the next start moves
// the same addresses again (the port still bridged) or puts them back (it no longer is). The record is runtime
// state on purpose: it describes the kernel's addresses, which a reboot clears as it clears /run.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { LinkDriver } from '../drivers/links.ts';
import type { L3Config, RouteDriver } from '../drivers/routes.ts';
import { serialQueue } from '../runtime/serial-queue.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { parseAlias } from '../util/names.ts';

export const L3_MOVES_DIR = 'l3-moves';

const l3Schema = z.object({
  addresses: z.array(z.object({ address: z.string(), prefixlen: z.number().int() })),
  routes: z.array(
    z.object({
      to: z.string(),
      via: z.string().optional(),
      src: z.string().optional(),
      scope: z.enum(['link', 'global']).optional(),
      onlink: z.boolean().optional(),
      metric: z.number().int().optional(),
      protocol: z.string().optional(),
    }),
  ),
});

const recordSchema = z.object({ port: z.string(), ifname: z.string(), bridge: z.string(), l3: l3Schema });
export type L3MoveRecord = z.output<typeof recordSchema>;

const key = (a: { address: string; prefixlen: number }): string => `${a.address}/${a.prefixlen}`;

function union(a: L3Config, b: L3Config): L3Config {
  const addresses = [...a.addresses];
  for (const x of b.addresses) if (!addresses.some((y) => key(y) === key(x))) addresses.push(x);
  const routes = [...a.routes];
  for (const r of b.routes) if (!routes.some((s) => s.to === r.to && (s.metric ?? 0) === (r.metric ?? 0))) routes.push(r);
  return { addresses, routes };
}

export class L3Moves {
  private readonly dir: string;
  // moves of one interface go one at a time (a port actor and its switch NI's deletion may both restore)
  private readonly serial = serialQueue();

  constructor(
    runtimeDir: string,
    private readonly routes: Pick<RouteDriver, 'l3Of' | 'moveL3'>,
    private readonly logger?: Logger,
  ) {
    this.dir = join(runtimeDir, L3_MOVES_DIR);
  }

  private path(ifname: string): string {
    return join(this.dir, `${ifname}.json`);
  }

  async record(ifname: string): Promise<L3MoveRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(ifname), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = recordSchema.safeParse(JSON.parse(text) as unknown);
    if (!parsed.success) {
      this.logger?.warn({ ifname, file: this.path(ifname) }, `unreadable L3 move record for ${ifname}: ignored`);
      return undefined;
    }
    return parsed.data;
  }

  /** Every recorded move (ports whose addresses are, or were about to be, on a bridge). */
  async records(): Promise<L3MoveRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: L3MoveRecord[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      const r = await this.record(n.slice(0, -'.json'.length));
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * The port's addresses and routes onto `bridge` (the port is enslaved to it). What a record already holds is
   * moved too (a restart after a crash finds them on the bridge, or half-moved). Nothing to move: no record.
   */
  moveToBridge(port: string, ifname: string, bridge: string, signal?: AbortSignal): Promise<void> {
    return this.serial(async () => {
      const before = await this.record(ifname);
      const l3 = union(before && before.bridge === bridge ? before.l3 : { addresses: [], routes: [] }, await this.routes.l3Of(ifname));
      if (l3.addresses.length === 0 && l3.routes.length === 0) return;
      const rec: L3MoveRecord = { port, ifname, bridge, l3 };
      if (JSON.stringify(before) !== JSON.stringify(rec)) await writeFileAtomic(this.path(ifname), `${JSON.stringify(rec, null, 2)}\n`, 0o600);
      await this.routes.moveL3(ifname, bridge, l3, signal);
      if (!before) this.logger?.info({ port, ifname, bridge, l3 }, `port ${port}: addresses and routes of ${ifname} moved onto ${bridge}`);
    });
  }

  /**
   * The recorded addresses and routes back onto the port; then the record goes. `release`: the port leaves its
   * bridge in the same batch, just before (the caller has checked the bridge is ours). Resolves false when there was
   * no record (nothing done, not even the release).
   */
  restore(ifname: string, signal?: AbortSignal, opts: { release?: boolean } = {}): Promise<boolean> {
    return this.serial(async () => {
      const rec = await this.record(ifname);
      if (!rec) return false;
      // from a bridge that is gone already, moveL3 only adds them to the port
      await this.routes.moveL3(rec.bridge, ifname, rec.l3, signal, { release: opts.release === true });
      await rm(this.path(ifname), { force: true });
      this.logger?.info({ port: rec.port, ifname, bridge: rec.bridge, l3: rec.l3 }, `port ${rec.port}: addresses and routes moved back from ${rec.bridge} onto ${ifname}`);
      return true;
    });
  }

  /**
   * At start: moves of ports that no switch NI bridges any more (the config changed while edgenet was down) go back;
   * a port still in that bridge (`inOurBridge`) leaves it in the same batch (while bridged, its ARP answers would
   * land on the bridge).
   */
  async restoreUnless(bridged: (ifname: string, bridge: string) => boolean, inOurBridge?: (ifname: string, bridge: string) => Promise<boolean>): Promise<string[]> {
    const back: string[] = [];
    for (const rec of await this.records()) {
      if (bridged(rec.ifname, rec.bridge)) continue;
      await this.restore(rec.ifname, undefined, { release: (await inOurBridge?.(rec.ifname, rec.bridge)) === true });
      back.push(rec.ifname);
    }
    return back;
  }
}

/**
 * `restoreUnless`'s check: the port is still in the bridge its move went to, and that bridge is ours (it still
 * carries an NI mark); anything else is left where it is.
 */
export function inOurBridge(links: Pick<LinkDriver, 'get'>): (ifname: string, bridge: string) => Promise<boolean> {
  return async (ifname, bridge) => {
    const [port, master] = await Promise.all([links.get(ifname), links.get(bridge)]);
    return port?.master !== undefined && master !== undefined && port.master === master.ifindex && parseAlias(master.alias)?.kind === 'ni';
  };
}
