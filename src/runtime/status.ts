import { selectUplink } from '../../machines/uplink-selection.ts';
import type { EndpointContext } from '../../machines/endpoint.machine.ts';
import type { NiContext } from '../../machines/network-instance.machine.ts';
import { memberBridgeNetwork } from '../../machines/specs.ts';
import type { SystemSnapshotLike } from '../../machines/system.machine.ts';
import type { DhcpDns } from '../drivers/dhcpdns.ts';
import type { Firewall } from '../drivers/firewall.ts';
import type { WriteCounts } from '../drivers/write-counter.ts';
import type { DeviceContext } from '../../machines/device.machine.ts';
import type { ActorState, DeviceStatus, EndpointStatus, NetworkStatus, PortStatus, Status } from '../edgenet-types.ts';
import type { LocalServices } from '../services/local-services.ts';
import type { NiUpstream } from '../services/port-dns.ts';
import { compareNames } from '../util/names.ts';
import { deviceReason, isNiContext, reasonOf, topState, type ChildContext } from './transitions.ts';

/** The device actor's state, and why when it is not ready. */
export function deviceStatus(snapshot: { value?: unknown; context: DeviceContext }): DeviceStatus {
  const state = topState(snapshot.value) ?? 'pending';
  const reason = state === 'ready' ? undefined : deviceReason(state, snapshot.context);
  return { state, ...(reason !== undefined && { reason }) };
}

// Status is derived from the actors' snapshots every time it is asked for: nothing is stored twice.


interface Child {
  state: ActorState;
  context: ChildContext;
}

function childrenOf(root: SystemSnapshotLike): Child[] {
  const out: Child[] = [];
  for (const ref of root.children.values()) {
    const snap = ref.getSnapshot() as { value?: unknown; context?: ChildContext } | undefined;
    const state = topState(snap?.value);
    if (state && snap?.context) out.push({ state, context: snap.context });
  }
  return out;
}

/** The port a local NI leaves by now (several ports: the selection in the kernel; one: that port). */
function uplinkStatus(context: NiContext): { selectedPort?: string; selectedReason?: string } {
  const list = context.spec.uplinks ?? [];
  const only = list.length === 1 ? list[0] : undefined;
  if (only) return { selectedPort: only.port, selectedReason: 'its only port' };
  const sel = context.selected;
  if (sel?.port === undefined) return {};
  // why, as of now: the reason given when it was selected goes stale as the other ports come and go
  const now = selectUplink(list, context.portStates, sel.port);
  return { selectedPort: sel.port, selectedReason: now.port === sel.port ? now.reason : sel.reason };
}

function upstreamStatus(u: NiUpstream, forwarders: readonly string[]): NonNullable<NetworkStatus['upstreamDns']> {
  if (u.from === 'forwarders') return { from: 'forwarders', servers: [...forwarders] };
  if (u.from === 'ports') return { from: 'ports', servers: u.upstream.map((s) => `${s.ip}@${s.ifname}`) };
  return { from: 'none', servers: [], note: u.summary };
}

const byName = <T extends { name: string }>(a: T, b: T): number => compareNames(a.name, b.name);

export function buildStatus(
  root: SystemSnapshotLike,
  local: LocalServices,
  dhcpdns: DhcpDns,
  writes: WriteCounts,
  firewall?: Pick<Firewall, 'endpointStatus'>,
): Status {
  const networks: NetworkStatus[] = [];
  const endpoints: EndpointStatus[] = [];
  const ports: PortStatus[] = [];
  for (const { state, context } of childrenOf(root)) {
    const reason = state === 'ready' ? undefined : reasonOf(state, context);
    const why = reason !== undefined ? { reason } : {};
    if (isNiContext(context)) {
      const { spec } = context;
      const pid = spec.type === 'local' ? dhcpdns.pid(spec.name) : undefined;
      const leases = spec.type === 'local' ? dhcpdns.leasesNow(spec.name).map((l) => ({ mac: l.mac, ip: l.ip, ...(l.hostname !== undefined && { hostname: l.hostname }) })) : [];
      networks.push({
        name: spec.name,
        type: spec.type,
        state,
        bridge: spec.bridge,
        ...(spec.subnet !== undefined && { subnet: spec.subnet }),
        ...(spec.gateway !== undefined && { gateway: spec.gateway }),
        ...(spec.port !== undefined && { port: spec.port }),
        ...(spec.uplinks && spec.uplinks.length > 0 && { ports: spec.uplinks.map((u) => u.port) }),
        ...uplinkStatus(context),
        ...(spec.table !== undefined && { table: spec.table }),
        ...(pid !== undefined && { dnsmasqPid: pid }),
        ...(spec.type === 'local' && { upstreamDns: upstreamStatus(local.upstreamOf(spec), spec.dns?.forwarders ?? []) }),
        ...(leases.length > 0 && { leases }),
        ...why,
      });
      continue;
    }
    const { spec } = context;
    if (spec.kind === 'port') {
      ports.push({
        name: spec.name,
        ifname: spec.ifname,
        state,
        carrier: context.present === true && context.carrier,
        ...(spec.network !== undefined && { network: spec.network }),
        ...why,
      });
      continue;
    }
    const ip = local.addressOf(spec) ?? spec.ip;
    const rules = firewall?.endpointStatus(spec.key);
    endpoints.push({
      app: spec.app,
      network: spec.network,
      kind: spec.kind,
      state,
      ifname: spec.hostIfname,
      ...(spec.appIfname !== undefined && { appIfname: spec.appIfname }),
      ...(spec.netns !== undefined && { netns: String(spec.netns) }),
      mac: spec.mac,
      ...(ip !== undefined && { ip }),
      ...why,
      ...(rules && { rules }),
    });
  }
  networks.sort(byName);
  ports.sort(byName);
  // by app/network: each key made once, not twice per comparison
  const keyed = endpoints.map((e) => ({ key: `${e.app}/${e.network}`, e }));
  keyed.sort((a, b) => compareNames(a.key, b.key));
  return { networks, endpoints: keyed.map((k) => k.e), ports, writes };
}

/**
 * Every actor (or every one of `only`, child ids) has settled: ready, degraded, or pending on something only the
 * outside world can bring (a tap not yet created, an app netns not yet there, a port not present) — or on an NI that
 * itself settled without a bridge. Creations queued behind a deletion count as not settled.
 */
export function isSettled(root: SystemSnapshotLike, only?: Iterable<string>): boolean {
  return unsettledOf(root, only ?? allIds(root)).length === 0 && queuesEmpty(root);
}

function queuesEmpty(root: SystemSnapshotLike): boolean {
  const ctx = root.context;
  return Object.keys(ctx.queuedNetworks).length === 0 && Object.keys(ctx.queuedMembers).length === 0;
}

function* allIds(root: SystemSnapshotLike): Iterable<string> {
  for (const ref of root.children.values()) yield ref.id;
}

/** The actors of `ids` that have not settled (in order; `max`: stop after that many). */
export function unsettledOf(root: SystemSnapshotLike, ids: Iterable<string>, max = 1): string[] {
  const ctx = root.context;
  const stateOf = (id: string | undefined): ActorState | undefined => {
    const snap = id ? (root.children.get(id)?.getSnapshot() as { value?: unknown } | undefined) : undefined;
    return topState(snap?.value);
  };
  const out: string[] = [];
  for (const id of ids) {
    const snap = root.children.get(id)?.getSnapshot() as { value?: unknown; context?: ChildContext } | undefined;
    if (!actorSettled(snap, ctx, stateOf)) {
      out.push(id);
      if (out.length >= max) break;
    }
  }
  return out;
}

function actorSettled(snap: { value?: unknown; context?: ChildContext } | undefined, ctx: SystemSnapshotLike['context'], stateOf: (id: string | undefined) => ActorState | undefined): boolean {
  const state = topState(snap?.value);
  const context = snap?.context;
  if (!state || !context) return true;
  if (state === 'ready' || state === 'degraded' || state === 'deleted') return true;
  if (state !== 'pending' || isNiContext(context)) return false;
  const member = context as EndpointContext;
  if (member.present === false) return true;
  if (member.present === undefined) return false;
  const ni = memberBridgeNetwork(member.spec);
  // waiting for an NI that is still being built is not settled; one that failed to build is
  return !(ni !== undefined && stateOf(ctx.networks[ni]?.id) !== 'degraded');
}

/**
 * Waiting for a push's actors to settle, in O(change): the actors not yet seen settled are kept, and after each batch
 * of snapshots only those among them whose snapshot changed are looked at again (all of them when an NI changed: a
 * member waiting for its NI settles when the NI fails). Once none is left, one pass over all confirms (an actor that
 * left a settled state meanwhile is kept again).
 */
export class SettleWatch {
  private readonly ids: Set<string>;
  private pending: Set<string>;
  private touched = new Set<string>();
  private touchedNi = false;
  private first = true;

  /**
   * `current`: the push's actors as they are now, given when the push replaces some (an NI with a new subnet, an app
   * moved to another netns): the new actor is made only once the old one of the same name has let go, after the ids
   * were taken. They are looked up again at each check, and new ones are waited for too.
   */
  constructor(ids: ReadonlySet<string>, private readonly current?: () => Iterable<string>) {
    this.ids = new Set(ids);
    this.pending = new Set(ids);
  }

  /** An actor's snapshot changed (its child id). */
  touch(id: string): void {
    if (id.startsWith('ni:')) this.touchedNi = true;
    else if (this.pending.has(id)) this.touched.add(id);
  }

  /** True when every watched actor has settled and nothing is queued. */
  check(root: SystemSnapshotLike): boolean {
    if (this.current) {
      for (const id of this.current()) {
        if (this.ids.has(id)) continue;
        this.ids.add(id);
        this.pending.add(id);
      }
    }
    const look = this.first || this.touchedNi ? this.pending : this.touched;
    this.first = false;
    this.touchedNi = false;
    this.touched = new Set();
    const still = new Set(unsettledOf(root, look, Infinity));
    for (const id of [...look]) if (!still.has(id)) this.pending.delete(id);
    if (this.pending.size > 0 || !queuesEmpty(root)) return false;
    const again = unsettledOf(root, this.ids, Infinity);
    for (const id of again) this.pending.add(id);
    return again.length === 0;
  }
}
