import type { AnyActorRef } from 'xstate';
import type { EndpointEvent } from '../machines/endpoint.machine.ts';
import type { NiEvent } from '../machines/network-instance.machine.ts';
import type { LinkSeen } from '../machines/specs.ts';
import type { SystemSnapshotLike } from '../machines/system.machine.ts';
import type { EndpointSpec, NetworkResolved, PortSpecResolved } from './config/config-resolve.ts';
import type { LinkEvent, LinkInfo } from './drivers/links.ts';
import { guardTripped, type BridgePortView } from './drivers/bridge-ports.ts';

// Link events go to the one actor that owns the interface: a bridge to its NI, a veth/tap/NIC to its member.
// The index is rebuilt on apply (O(config)); routing an event is a map lookup (O(1)).

type Owner = { kind: 'ni'; name: string } | { kind: 'member'; key: string };


export function linkSeen(link: LinkInfo): LinkSeen {
  return { ifindex: link.ifindex, ifname: link.ifname, carrier: link.carrier, up: link.up, ...(link.master !== undefined && { master: link.master }) };
}

export class LinkRouter {
  private owners = new Map<string, Owner>();
  /** app namespace path → endpoint keys that wait for it */
  private netnsUsers = new Map<string, string[]>();
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

  childOfNetwork(name: string): AnyActorRef | undefined {
    const snap = this.root();
    const id = snap.context.networks[name]?.id;
    return id ? snap.children[id] : undefined;
  }

  childOfMember(key: string): AnyActorRef | undefined {
    const snap = this.root();
    const id = snap.context.members[key]?.id;
    return id ? snap.children[id] : undefined;
  }

  /** An app namespace appeared or went away: tell the endpoints that live in it. */
  routeNetns(change: { type: 'added' | 'removed'; path: string }): void {
    for (const key of this.netnsUsers.get(change.path) ?? []) {
      this.childOfMember(key)?.send({ type: change.type === 'added' ? 'NETNS_ADDED' : 'NETNS_REMOVED' } satisfies EndpointEvent);
    }
  }

  /** A bridge port's STP state changed (BPDU guard tripped or cleared): tell the member that owns the interface. */
  routeBridgePort(view: BridgePortView): AnyActorRef | undefined {
    const owner = this.owners.get(view.ifname);
    const target = owner?.kind === 'member' ? this.childOfMember(owner.key) : undefined;
    target?.send({ type: 'BRIDGE_PORT', state: view.state, guardTripped: guardTripped(view) } satisfies EndpointEvent);
    return target;
  }

  /** Sends the event to its owner; returns the actor it reached, if any. */
  route(ev: LinkEvent): AnyActorRef | undefined {
    const owner = this.owners.get(ev.link.ifname);
    let target: AnyActorRef | undefined;
    if (owner?.kind === 'ni') {
      // only a bridge's disappearance concerns its NI; its own changes (members joining) do not
      if (ev.type === 'del') {
        target = this.childOfNetwork(owner.name);
        target?.send({ type: 'BRIDGE_GONE' } satisfies NiEvent);
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
