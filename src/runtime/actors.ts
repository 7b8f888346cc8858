import { fromPromise } from 'xstate';
import type { DeviceSpec } from '../../machines/device.machine.ts';
import type { AttachInput, AttachOutput, ProbeResult } from '../../machines/endpoint.machine.ts';
import type { SwitchUplinkInput } from '../../machines/network-instance.machine.ts';
import type { BridgeHandle, MemberSpec, NiSpec } from '../../machines/specs.ts';
import type { Drivers } from '../drivers/drivers.ts';
import type { LinkInfo } from '../drivers/links.ts';
import type { LocalServices } from '../services/local-services.ts';
import type { L3Moves } from '../services/l3-moves.ts';
import { KernelError } from '../errors.ts';
import { guardTripped } from '../drivers/bridge-ports.ts';
import { endpointAlias, niAlias, parseAlias } from '../util/names.ts';
import { learnUplink, niTableSpec, selectedOf } from '../services/ni-routing.ts';
import { endpointRulesOf } from '../services/endpoint-rules.ts';

// The kernel work behind the machines' invoked actors. Each is idempotent: the drivers converge and write only
// what differs, so a retry or a repair after a change behind our back touches just the object concerned.

export interface ActorDeps {
  drivers: Drivers;
  local: LocalServices;
  /** a switch NI's port's own addresses and routes, moved onto its bridge and back (src/services/l3-moves.ts) */
  l3: L3Moves;
}

export function deviceActors({ drivers }: Pick<ActorDeps, 'drivers'>) {
  return {
    ensureDevice: fromPromise<void, DeviceSpec>(async ({ input, signal }) => {
      if (input.firewall) await drivers.firewall.ensureBase(signal);
      if (input.forwarding) await drivers.firewall.ensureForwarding(signal);
    }),
  };
}

export function niActors({ drivers, local, l3 }: ActorDeps) {
  const { links, firewall, routes } = drivers;
  /** Converge the NI's own table out of `selected` (idempotent; a switchover differs by one route). */
  const ensureTable = async (ni: NiSpec, signal: AbortSignal): Promise<void> => {
    const facts = await Promise.all((ni.uplinks ?? []).map((u) => learnUplink(u, drivers, async (ifname) => (await l3.record(ifname))?.l3)));
    const table = niTableSpec(ni, facts, selectedOf(ni)?.port);
    if (table) return routes.ensureTable(table, signal);
    // no port (any more): a table this NI had, found by its rule from the NI's subnet, goes
    for (const rule of await routes.listRules()) {
      if (rule.ours && rule.from === ni.subnet) await routes.removeTable(rule.table, signal);
    }
  };
  /** A local NI's gateway address and rules (a switch NI has none): what its members need before they attach. */
  const localNi = async (ni: NiSpec, signal: AbortSignal): Promise<void> => {
    if (ni.type !== 'local' || !ni.gateway || !ni.subnet || ni.prefixlen === undefined) return;
    await links.ensureAddress(ni.bridge, ni.gateway, ni.prefixlen, signal);
    // the gateway is the only address of a local NI's bridge: one added behind our back goes
    for (const a of await links.listAddresses(ni.bridge)) {
      if (a.address !== ni.gateway || a.prefixlen !== ni.prefixlen) await links.deleteAddress(ni.bridge, a.address, a.prefixlen, signal);
    }
    await firewall.ensureNetwork(
      {
        name: ni.name,
        bridge: ni.bridge,
        subnet: ni.subnet,
        gateway: ni.gateway,
        ...(ni.portIfname !== undefined && { port: { ifname: ni.portIfname } }),
        // several ports: NAT out of each, so a switchover rewrites no rule
        ...((ni.uplinks?.length ?? 0) > 1 && { ports: (ni.uplinks ?? []).map((u) => ({ ifname: u.ifname })) }),
      },
      signal,
    );
    // members attaching from now on find the NI's addresses and reservations
    local.noteNi(ni);
  };
  return {
    createNi: fromPromise<BridgeHandle, NiSpec & { ifindex?: number }>(async ({ input: ni, signal }) => {
      const bridge = await links.ensureBridge(
        { name: ni.bridge, alias: niAlias(ni.name), ...(ni.mtu !== undefined && { mtu: ni.mtu }), ...(ni.ifindex !== undefined && { ifindex: ni.ifindex }) },
        signal,
      );
      if (ni.type === 'switch') await ensureStp(drivers, ni, signal);
      // ARP on our bridges answers only for the bridge's own addresses (a switch NI's app learns no gateway MAC);
      // set beside the local NI's own work (no member is attached before createNi is done)
      await Promise.all([firewall.guardBridge(ni.bridge, signal), localNi(ni, signal)]);
      return { name: bridge.ifname, ifindex: bridge.ifindex };
    }),
    // a local NI's routing table and dnsmasq, while its members attach (its state says when they are there)
    createServices: fromPromise<void, NiSpec>(async ({ input: ni, signal }) => {
      if (ni.type !== 'local' || !ni.gateway || !ni.subnet || ni.prefixlen === undefined) return;
      await ensureTable(ni, signal);
      await local.ensureNi(ni, signal);
    }),
    deleteNi: fromPromise<void, NiSpec>(async ({ input: ni, signal }) => {
      // a switch NI's port gets its own addresses and routes back before the bridge holding them goes
      if (ni.type === 'switch') {
        for (const rec of await l3.records()) {
          if (rec.bridge !== ni.bridge) continue;
          // still in this bridge (its actor went without detaching): released in the same batch
          const [port, bridge] = await Promise.all([links.cached(rec.ifname), links.cached(ni.bridge)]);
          await l3.restore(rec.ifname, signal, { release: port?.master !== undefined && port.master === bridge?.ifindex });
        }
      }
      if (ni.type === 'local') {
        await local.removeNi(ni.name);
        await firewall.removeNetwork(ni.name, signal);
        if (ni.table !== undefined) await routes.removeTable(ni.table, signal);
      }
      // only a bridge carrying this NI's mark is ours to delete (a same-named foreign one made creation fail)
      const bridge = await links.get(ni.bridge);
      if (bridge && bridge.alias === niAlias(ni.name)) await links.deleteLink(ni.bridge, signal);
    }),
    // a switchover: this NI's default route and its connections, nothing else (bridge, apps, dnsmasq stay)
    switchUplink: fromPromise<void, SwitchUplinkInput>(async ({ input: { spec, port }, signal }) => {
      await ensureTable({ ...spec, selectedUplink: port }, signal);
      if (spec.subnet !== undefined) await routes.flushConntrack(spec.subnet, signal);
    }),
  };
}

export function endpointActors({ drivers, local, l3 }: ActorDeps) {
  const { links, firewall } = drivers;
  // one request for the bridge, not a dump of every link (removing N apps was O(N²))
  const isOwnedBridge = async (ifindex: number): Promise<boolean> => parseAlias((await links.getByIndex(ifindex))?.alias)?.kind === 'ni';
  // a tap or port is released only from one of our bridges: never from a bridge someone else put it in
  const inOurBridge = async (ifname: string): Promise<boolean> => {
    const link = await links.cached(ifname);
    return link?.master !== undefined && (await isOwnedBridge(link.master));
  };
  const release = async (ifname: string, signal: AbortSignal): Promise<void> => {
    if (await inOurBridge(ifname)) await links.detach(ifname, signal);
  };
  // a port whose addresses are on our bridge: released and given them back in one batch (moved back while still
  // bridged, its ARP answers would land on the bridge and its first replies wait a second for a neighbour; released
  // apart from the move, the address would be on neither for a while); nothing moved: only released
  const releaseAndRestore = async (ifname: string, signal: AbortSignal): Promise<void> => {
    const owned = await inOurBridge(ifname);
    if (!(await l3.restore(ifname, signal, { release: owned })) && owned) await links.detach(ifname, signal);
  };
  return {
    // the link cache answers a probe; verifying what an event reported asks the kernel
    probe: fromPromise<ProbeResult, MemberSpec>(async ({ input: spec }) => {
      const link = await links.cached(memberIfname(spec));
      // a veth is present when its app's netns is: edgenet makes the link itself
      return spec.kind === 'veth' ? vethProbe(spec, link, await links.hasNetns(spec.netns ?? '')) : probeResult(link);
    }),
    verify: fromPromise<ProbeResult, MemberSpec>(async ({ input: spec }) => {
      const link = await links.get(memberIfname(spec));
      return spec.kind === 'veth' ? vethProbe(spec, link, await links.hasNetns(spec.netns ?? '')) : probeResult(link);
    }),
    attach: fromPromise<AttachOutput, AttachInput>(async ({ input: { spec, bridge }, signal }) => {
      if (spec.kind === 'port') {
        if (spec.attach && bridge) {
          // the bridge that will carry the port's addresses answers with the port's MAC (as EVE's NIM makes it):
          // the segment's neighbour caches stay right through the move and the move back
          if (spec.moveL3) {
            const port = await links.cached(spec.ifname);
            if (port) await links.setMac(bridge.name, port.mac, signal);
          }
          const link = await links.attach({ ifname: spec.ifname, master: bridge.ifindex, ...(spec.mtu !== undefined && { mtu: spec.mtu }) }, signal);
          // the device's own addresses and routes on the port follow it onto the bridge (recorded first); a port
          // that no longer moves them (a switch NI with several ports now) gets them back
          if (spec.moveL3) await l3.moveToBridge(spec.name, spec.ifname, bridge.name, signal);
          else await l3.restore(spec.ifname, signal);
          // the carrier as it is now: the port came up while its addresses moved (the attach reports it as it was)
          const now = await links.get(spec.ifname);
          return withPortOptions(drivers, spec, { ifindex: link.ifindex, carrier: now?.carrier ?? link.carrier }, signal);
        }
        const link = await links.get(spec.ifname);
        if (!link) throw new KernelError('attach', `port ${spec.name} (${spec.ifname})`, 'ENODEV', 'not present');
        // a port that left a switch NI for a local one (its NAT uplink) must not stay in our old bridge, and gets
        // its addresses and routes back, released in the same batch
        await releaseAndRestore(spec.ifname, signal);
        return { ifindex: link.ifindex, carrier: link.carrier };
      }
      if (!bridge) throw new Error(`network ${spec.network} has no bridge yet`);
      const mtu = spec.mtu !== undefined ? { mtu: spec.mtu } : {};
      const veth =
        spec.kind === 'veth' && spec.netns !== undefined && spec.appIfname !== undefined
          ? { name: spec.hostIfname, alias: endpointAlias(spec.app, spec.network), netns: spec.netns, peerName: spec.appIfname, peerMac: spec.mac, ...mtu }
          : undefined;
      // Before the interface joins the bridge (up): dnsmasq serves the app's reservation (its first DHCP request
      // gets its address) and its rules are in (ACLs, port forwards, anti-spoofing: it never sends a packet they have
      // not seen). These and the making of a veth (not yet enslaved nor up) are independent: side by side.
      const ni = local.niOf(spec.network);
      const ip = local.addressOf(spec);
      const rules = ni && ip !== undefined ? endpointRulesOf(spec, ni, ip) : undefined;
      const steps = await Promise.allSettled([
        local.addEndpoint(spec, signal),
        rules ? firewall.ensureEndpoint(rules, signal) : undefined,
        veth ? links.ensureVeth(veth, signal) : undefined,
      ]);
      const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (spec.kind === 'tap') {
        const link = await links.attach({ ifname: spec.hostIfname, master: bridge.ifindex, ...mtu }, signal);
        return withPortOptions(drivers, spec, { ifindex: link.ifindex, carrier: link.carrier }, signal);
      }
      if (!veth) throw new Error(`endpoint ${spec.key}: veth without netns`);
      // one write: marked, enslaved, up
      const link = await links.ensureVeth({ ...veth, master: bridge.ifindex }, signal);
      return withPortOptions(drivers, spec, { ifindex: link.ifindex, carrier: link.carrier }, signal);
    }),
    detach: fromPromise<void, MemberSpec>(async ({ input: spec, signal }) => {
      if (spec.kind === 'port') {
        if (spec.attach) await releaseAndRestore(spec.ifname, signal);
        else await l3.restore(spec.ifname, signal);
        return;
      }
      // Out of the bridge first (one write): from then on the app reaches no dnsmasq, so its reservation and lease go
      // with nothing left to renew them. A tap belongs to its hypervisor: released, never deleted. A veth is deleted
      // beside the reservation's removal (a lease's eviction is a dnsmasq restart). They do not overlap yet: the
      // kernel deletes the veth inside the request's sendmsg, on this thread, waiting for an RCU grace period.
      await release(spec.hostIfname, signal);
      const steps = await Promise.allSettled([local.removeEndpoint(spec), spec.kind === 'tap' ? undefined : links.deleteLink(spec.hostIfname, signal)]);
      const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      // the link is gone (or out of the bridge) first: the app is never without its rules while it can send
      await firewall.removeEndpoint(spec.key, signal);
    }),
  };
}

function memberIfname(spec: MemberSpec): string {
  return spec.kind === 'port' ? spec.ifname : spec.hostIfname;
}

function probeResult(link: LinkInfo | undefined): ProbeResult {
  return link ? { present: true, carrier: link.carrier, ...(link.master !== undefined && { master: link.master }) } : { present: false };
}

function vethProbe(spec: MemberSpec, link: LinkInfo | undefined, netnsThere: boolean): ProbeResult {
  return { present: spec.kind === 'veth' && spec.netns !== undefined && netnsThere, ...(link?.master !== undefined && { master: link.master }) };
}

/** Spanning tree on a switch NI's bridge: on with its forward delay, or off (also after an update turned it off). */
async function ensureStp(drivers: Drivers, ni: NiSpec, signal: AbortSignal): Promise<void> {
  if (!drivers.bridgePorts) {
    if (ni.stp || ni.vlanFiltering) throw new KernelError('createNi', ni.name, 'EOPNOTSUPP', 'no bridge-port driver: spanning tree and VLANs cannot be enabled');
    return;
  }
  const delay = ni.stp?.forwardDelayS !== undefined ? { forwardDelayS: ni.stp.forwardDelayS } : {};
  await drivers.bridgePorts.ensureBridgeOptions(ni.bridge, { stp: ni.stp !== undefined, vlanFiltering: ni.vlanFiltering === true, ...delay }, signal);
}

/** A member of a switch NI with STP or VLANs: BPDU guard and VLAN entries converged; does the guard hold it disabled? */
async function withPortOptions(drivers: Drivers, spec: MemberSpec, out: AttachOutput, signal: AbortSignal): Promise<AttachOutput> {
  if (spec.bpduGuard === undefined && spec.vlans === undefined) return out;
  const ports = drivers.bridgePorts;
  const ifname = spec.kind === 'port' ? spec.ifname : spec.hostIfname;
  if (!ports) throw new KernelError('attach', ifname, 'EOPNOTSUPP', 'no bridge-port driver: BPDU guard and VLANs cannot be set');
  if (spec.vlans) await ports.ensureVlans(ifname, spec.vlans, signal);
  if (spec.bpduGuard === undefined) return out;
  await ports.ensurePortOptions(ifname, { bpduGuard: spec.bpduGuard }, signal);
  const view = await ports.portView(ifname);
  return view && guardTripped(view) ? { ...out, guardTripped: true } : out;
}
