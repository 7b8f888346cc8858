import type { AnyActorRef } from 'xstate';
import type { EndpointEvent } from '../../machines/endpoint.machine.ts';
import type { NiEvent } from '../../machines/network-instance.machine.ts';
import type { LinkSeen } from '../../machines/specs.ts';
import { memberOf, type SystemSnapshotLike } from '../../machines/system.machine.ts';
import type { EndpointSpec, NetworkResolved, PortSpecResolved } from '../config/config-resolve.ts';
import type { AddressEvent, LinkEvent, LinkInfo } from '../drivers/links.ts';
import type { NiContext } from '../../machines/network-instance.machine.ts';
import { topState } from '../../machines/specs.ts';
import { bridgeDrift } from '../reconcile/bridge-drift.ts';
import { bridgeWantOf } from '../reconcile/drift-audit.ts';
import { guardTripped, type BridgePortView } from '../drivers/bridge-ports.ts';

// Link events go to the one actor that owns the interface: a bridge to its NI, a veth/tap/NIC to its member.
// The index is rebuilt on a full apply (O(config)), changed on an apps-only one (O(change)); routing an event is a
// map lookup (O(1)).

type Owner = { kind: 'ni'; name: string } | { kind: 'member'; key: string };


export function linkSeen(link: LinkInfo): LinkSeen {
  return { ifindex: link.ifindex, ifname: link.ifname, carrier: link.carrier, up: link.up, ...(link.master !== undefined && { master: link.master }) };
}

export class LinkRouter {
  private owners = new Map<string, Owner>();
  /** app namespace path → endpoint keys that wait for it */
  private netnsUsers = new Map<string, string[]>();
  /** ifindex → NI of the bridges seen: a bridge renamed behind our back is still found */
  private bridges = new Map<number, string>();
  /** events routed, by outcome: for tests and metrics */
  readonly counts = { routed: 0, unowned: 0 };

  constructor(private readonly root: () => SystemSnapshotLike) {}

  index(networks: readonly NetworkResolved[], endpoints: readonly EndpointSpec[], ports: readonly PortSpecResolved[]): void {
    const owners = new Map<string, Owner>();
    for (const n of networks) owners.set(n.bridge, { kind: 'ni', name: n.name });
    const netnsUsers = new Map<string, string[]>();
    for (const e of endpoints) {
      owners.set(e.hostIfname, { kind: 'member', key: e.key });
      if (e.kind === 'veth' && typeof e.netns === 'string') netnsUsers.set(e.netns, [...(netnsUsers.get(e.netns) ?? []), e.key]);
    }
    this.netnsUsers = netnsUsers;
    for (const p of ports) owners.set(p.ifname, { kind: 'member', key: `port:${p.name}` });
    this.owners = owners;
  }

  /**
   * The index after a push that changed only app endpoints (the NIs and ports are those of the last index()):
   * `removed` left, `added` came (a changed endpoint is in both). Costs what changed.
   */
  indexChange(removed: readonly EndpointSpec[], added: readonly EndpointSpec[]): void {
    for (const e of removed) {
      const owner = this.owners.get(e.hostIfname);
      if (owner?.kind === 'member' && owner.key === e.key) this.owners.delete(e.hostIfname);
      if (e.kind === 'veth' && typeof e.netns === 'string') {
        const users = this.netnsUsers.get(e.netns)?.filter((k) => k !== e.key) ?? [];
        if (users.length > 0) this.netnsUsers.set(e.netns, users);
        else this.netnsUsers.delete(e.netns);
      }
    }
    for (const e of added) {
      this.owners.set(e.hostIfname, { kind: 'member', key: e.key });
      if (e.kind === 'veth' && typeof e.netns === 'string') this.netnsUsers.set(e.netns, [...(this.netnsUsers.get(e.netns) ?? []), e.key]);
    }
  }

  childOfNetwork(name: string): AnyActorRef | undefined {
    const snap = this.root();
    const id = snap.context.networks[name]?.id;
    return id ? snap.children.get(id) : undefined;
  }

  childOfMember(key: string): AnyActorRef | undefined {
    const snap = this.root();
    const id = memberOf(snap.context, key)?.id;
    return id ? snap.children.get(id) : undefined;
  }

  /** An app namespace appeared or went away: tell the endpoints that live in it. */
  routeNetns(change: { type: 'added' | 'removed'; path: string }): void {
    for (const key of this.netnsUsers.get(change.path) ?? []) {
      this.childOfMember(key)?.send({ type: change.type === 'added' ? 'NETNS_ADDED' : 'NETNS_REMOVED' } satisfies EndpointEvent);
    }
  }

  /** The NI whose bridge has this ifindex (a bridge of an unknown name: renamed behind our back?). */
  private niWithBridge(ifindex: number): string | undefined {
    for (const [name, entry] of Object.entries(this.root().context.networks)) if (entry.bridge?.ifindex === ifindex) return name;
    return undefined;
  }

  /** A bridge port's STP state changed (BPDU guard tripped or cleared): tell the member that owns the interface. */
  routeBridgePort(view: BridgePortView): AnyActorRef | undefined {
    const owner = this.owners.get(view.ifname);
    const target = owner?.kind === 'member' ? this.childOfMember(owner.key) : undefined;
    if (!target) return undefined;
    // only a guarded interface, a device port (its state is reported) or one the guard still holds has a use for it:
    // a converge's 2–3 port events per tap stay out of the other actors
    if (!view.bpduGuard) {
      const ctx = (target.getSnapshot() as { context?: { spec?: { kind?: string }; guard?: unknown } }).context;
      if (ctx?.spec?.kind !== 'port' && ctx?.guard === undefined) return undefined;
    }
    target.send({ type: 'BRIDGE_PORT', state: view.state, guardTripped: guardTripped(view) } satisfies EndpointEvent);
    return target;
  }

  /** An address came or went: a ready local NI's bridge holds exactly its gateway, anything else is drift. */
  routeAddress(ev: AddressEvent): AnyActorRef | undefined {
    const name = this.bridges.get(ev.address.ifindex) ?? this.niWithBridge(ev.address.ifindex);
    const target = name !== undefined ? this.childOfNetwork(name) : undefined;
    const snap = target?.getSnapshot() as { value?: unknown; context?: NiContext } | undefined;
    const want = snap?.context && topState(snap.value) === 'ready' ? bridgeWantOf(snap.context) : undefined;
    const gw = want?.address;
    if (!want || !gw || want.ifindex !== ev.address.ifindex) return undefined;
    const isGateway = ev.address.address === gw.address && ev.address.prefixlen === gw.prefixlen;
    const detail =
      ev.type === 'del' && isGateway
        ? `gateway ${gw.address}/${gw.prefixlen} missing on ${want.name} (behind edgenet's back)`
        : ev.type === 'new' && !isGateway
          ? `foreign address ${ev.address.address}/${ev.address.prefixlen} on ${want.name} (behind edgenet's back)`
          : undefined;
    if (!detail) return undefined;
    target?.send({ type: 'DRIFT', detail } satisfies NiEvent);
    return target;
  }

  /** Sends the event to its owner; returns the actor it reached, if any. */
  route(ev: LinkEvent): AnyActorRef | undefined {
    let owner = this.owners.get(ev.link.ifname);
    const renamedFrom = owner === undefined && ev.link.kind === 'bridge' ? (this.bridges.get(ev.link.ifindex) ?? this.niWithBridge(ev.link.ifindex)) : undefined;
    if (renamedFrom !== undefined) owner = { kind: 'ni', name: renamedFrom };
    let target: AnyActorRef | undefined;
    if (owner?.kind === 'ni') {
      target = this.childOfNetwork(owner.name);
      if (ev.type === 'del') {
        this.bridges.delete(ev.link.ifindex);
        target?.send({ type: 'BRIDGE_GONE' } satisfies NiEvent);
      } else {
        // members joining are no news for the NI; its bridge's own attributes changed behind our back are
        const snap = target?.getSnapshot() as { value?: unknown; context?: NiContext } | undefined;
        const want = snap?.context ? bridgeWantOf(snap.context) : undefined;
        if (want && want.ifindex === ev.link.ifindex) this.bridges.set(ev.link.ifindex, owner.name);
        const detail = want && want.ifindex === ev.link.ifindex && topState(snap?.value) === 'ready' ? bridgeDrift(want, ev.link) : undefined;
        if (detail) target?.send({ type: 'DRIFT', detail } satisfies NiEvent);
        else if (renamedFrom === undefined && !detail) target = undefined;
      }
    } else if (owner?.kind === 'member') {
      target = this.childOfMember(owner.key);
      target?.send({ type: ev.type === 'new' ? 'LINK_NEW' : 'LINK_DEL', link: linkSeen(ev.link) } satisfies EndpointEvent);
    }
    if (target) this.counts.routed++;
    else this.counts.unowned++;
    return target;
  }
}
