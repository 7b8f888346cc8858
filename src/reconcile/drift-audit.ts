import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { Subscription, concatMap, debounceTime, exhaustMap, tap, timer } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import type { DeviceEvent, DeviceSpec } from '../../machines/device.machine.ts';
import type { NiContext, NiEvent } from '../../machines/network-instance.machine.ts';
import { topState } from '../../machines/specs.ts';
import type { SystemSnapshotLike } from '../../machines/system.machine.ts';
import { bridgeDrift, type BridgeWant } from './bridge-drift.ts';
import type { Drivers } from '../drivers/drivers.ts';
import { niAlias } from '../util/names.ts';

// The periodic audit finds what the kernel sends no event for (rules, the forwarding sysctl, addresses when the
// event was missed, renames) and tells the one actor that owns it: an NI (its rules, its bridge) or the device
// actor (the table's base, ip_forward). The owner repairs; the audit itself writes nothing.

/** What a ready NI's bridge must look like (undefined: the NI is not ready, or has no bridge yet). */
export function bridgeWantOf(context: NiContext): BridgeWant | undefined {
  const { spec, bridge } = context;
  if (!bridge || bridge.ifindex === 0) return undefined;
  return {
    ni: spec.name,
    name: spec.bridge,
    ifindex: bridge.ifindex,
    alias: niAlias(spec.name),
    ...(spec.mtu !== undefined && { mtu: spec.mtu }),
    ...(spec.type === 'local' && spec.gateway !== undefined && spec.prefixlen !== undefined && { address: { address: spec.gateway, prefixlen: spec.prefixlen } }),
  };
}

/** The NI actors that are `ready`, with what their bridge must look like. */
export function readyBridges(root: SystemSnapshotLike): { ref: AnyActorRef; want: BridgeWant }[] {
  const out: { ref: AnyActorRef; want: BridgeWant }[] = [];
  for (const entry of Object.values(root.context.networks)) {
    const ref = root.children.get(entry.id);
    const snap = ref?.getSnapshot() as { value?: unknown; context?: NiContext } | undefined;
    if (!ref || !snap?.context || topState(snap.value) !== 'ready') continue;
    const want = bridgeWantOf(snap.context);
    if (want) out.push({ ref, want });
  }
  return out;
}

export interface AuditDeps {
  drivers: Drivers;
  root: () => SystemSnapshotLike;
  childOfNetwork: (name: string) => AnyActorRef | undefined;
  device: AnyActorRef;
  deviceSpec: () => DeviceSpec;
  logger: Logger;
}

/**
 * One audit: rules of every NI, the table's base and ip_forward, the bridges of ready NIs. `rules: false`: not the
 * nft tables (the firewall reports changes to them as they happen: changes$).
 */
export async function auditOnce(deps: AuditDeps, opts: { rules?: boolean } = {}): Promise<void> {
  const { drivers, logger } = deps;
  const rulesToo = opts.rules !== false;
  const failed = (what: string) => (err: unknown) => {
    logger.warn({ err }, `${what} audit failed`);
    return undefined;
  };
  // without the rules audit the counters of the endpoints' rules (status, metrics) are read on their own
  const counters = async (): Promise<string[]> => {
    await drivers.firewall.refreshCounters?.().catch(failed('counters'));
    return [];
  };
  const [rules, base] = await Promise.all([
    rulesToo ? drivers.firewall.drifted().catch(failed('firewall')) : counters(),
    deviceProblems(deps, rulesToo).catch(failed('device')),
  ]);
  for (const name of rules ?? []) deps.childOfNetwork(name)?.send({ type: 'DRIFT', detail: `firewall rules of ${name} changed behind edgenet's back` } satisfies NiEvent);
  if (base && base.length > 0) deps.device.send({ type: 'DRIFT', detail: base.join('; ') } satisfies DeviceEvent);
  await auditBridges(deps).catch(failed('bridge'));
}

async function deviceProblems({ drivers, device, deviceSpec }: AuditDeps, rules = true): Promise<string[]> {
  if (topState((device.getSnapshot() as { value?: unknown }).value) !== 'ready') return [];
  const spec = deviceSpec();
  const problems = spec.firewall && rules ? await drivers.firewall.baseDrift() : [];
  if (spec.forwarding && !(await drivers.firewall.forwardingOn())) problems.push('net.ipv4.ip_forward turned off behind edgenet\'s back');
  return problems;
}

async function auditBridges({ drivers, root }: AuditDeps): Promise<void> {
  const ready = readyBridges(root());
  if (ready.length === 0) return;
  // the bridges from the link cache (fed by the event socket; re-read whole after an overflow), not a dump of every
  // link each second: at 1000 endpoints that dump held the main thread for tens of ms a tick, the tail of every flap
  const [links, addrs] = await Promise.all([
    Promise.all(ready.map((r) => drivers.links.getByIndex(r.want.ifindex))),
    ready.some((r) => r.want.address) ? drivers.links.listAddresses() : Promise.resolve([]),
  ]);
  const byIndex = new Map(links.flatMap((l) => (l ? [[l.ifindex, l] as const] : [])));
  // only NIs still ready now: one that moved meanwhile is repairing already
  const still = new Set(readyBridges(root()).map((r) => r.ref));
  for (const { ref, want } of ready) {
    const detail = bridgeDrift(want, byIndex.get(want.ifindex), addrs);
    if (detail && still.has(ref)) ref.send({ type: 'DRIFT', detail } satisfies NiEvent);
  }
}

/**
 * Audits every `intervalMs`; a slow one never lets audits pile up (ticks meanwhile are dropped). When the firewall
 * reports changes to its tables (`nft monitor`), the tables are audited on each such change (and when the watch
 * (re)starts) instead of listed every tick — at 1000 endpoints a listing costs nft ~100–200 ms, and the firewall's
 * writes wait behind it — while the ticks keep auditing what sends no event (ip_forward, missed link events).
 */
export function startAudits(deps: AuditDeps, intervalMs: number): Subscription {
  const changes = deps.drivers.firewall.changes$;
  if (!changes) {
    return timer(intervalMs, intervalMs)
      .pipe(exhaustMap(() => auditOnce(deps)))
      .subscribe();
  }
  const sub = new Subscription();
  sub.add(
    timer(intervalMs, intervalMs)
      .pipe(exhaustMap(() => auditOnce(deps, { rules: false })))
      .subscribe(),
  );
  // a burst of changes (one tool's several transactions) is one audit after it; one already running finishes first
  sub.add(
    changes
      .pipe(
        tap((c) => {
          if (c.kind === 'foreign') deps.logger.info({ change: c.detail }, 'nft tables changed behind edgenet\'s back: auditing');
        }),
        debounceTime(RULES_AUDIT_QUIET_MS),
        concatMap(() => rulesAudit(deps)),
      )
      .subscribe(),
  );
  return sub;
}

/** quiet time after a reported change before the rules are audited (a burst of transactions is one audit) */
const RULES_AUDIT_QUIET_MS = 20;

/** The nft part of an audit alone: rules of every NI and the table's base. */
async function rulesAudit(deps: AuditDeps): Promise<void> {
  const { drivers, logger } = deps;
  const [rules, base] = await Promise.all([
    drivers.firewall.drifted().catch((err: unknown) => (logger.warn({ err }, 'firewall audit failed'), undefined)),
    topState((deps.device.getSnapshot() as { value?: unknown }).value) === 'ready' && deps.deviceSpec().firewall
      ? drivers.firewall.baseDrift().catch((err: unknown) => (logger.warn({ err }, 'device audit failed'), undefined))
      : Promise.resolve([]),
  ]);
  for (const name of rules ?? []) deps.childOfNetwork(name)?.send({ type: 'DRIFT', detail: `firewall rules of ${name} changed behind edgenet's back` } satisfies NiEvent);
  if (base && base.length > 0) deps.device.send({ type: 'DRIFT', detail: base.join('; ') } satisfies DeviceEvent);
}
