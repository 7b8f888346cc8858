// In-memory BridgePortDriver: bridge STP options and port guards as the real one converges them, plus test controls
// (a BPDU on a guarded port, the carrier cycle that clears it).
import { Subject, type Observable } from 'rxjs';
import { KernelError } from '../errors.ts';
import { WriteCounter } from './write-counter.ts';
import { DEFAULT_FORWARD_DELAY_S, vlanEntriesOf, type BridgeOptions, type BridgePortDriver, type BridgePortOptions, type BridgePortView, type KernelFeatures, type MemberVlans, type VlanEntry } from './bridge-ports.ts';
import type { LinkDriver } from './links.ts';

export class FakeBridgePortDriver implements BridgePortDriver {
  readonly writes = new WriteCounter();
  private readonly subject = new Subject<BridgePortView>();
  readonly events$: Observable<BridgePortView> = this.subject.asObservable();
  private readonly bridges = new Map<string, { stp: boolean; forwardDelayS: number; vlanFiltering: boolean }>();
  private readonly vlans = new Map<string, VlanEntry[]>();
  /** what the fake kernel can build (default: everything; set to model this project's CI kernel) */
  features: KernelFeatures = { vlanFiltering: true, vlan8021q: true, bonding: true };
  private readonly guards = new Map<string, boolean>();
  private readonly tripped = new Set<string>();

  /** `links`: whose links exist and which are enslaved (the fake links driver in tests). */
  constructor(private readonly links: LinkDriver) {}

  // ---- test controls -----------------------------------------------------------------------------------

  bridgeOptions(bridge: string): { stp: boolean; forwardDelayS: number; vlanFiltering: boolean } | undefined {
    return this.bridges.get(bridge);
  }

  guardOf(ifname: string): boolean {
    return this.guards.get(ifname) === true;
  }

  /** A BPDU arrives on the port: a guarded port is disabled (emits its view), an unguarded one is untouched. */
  async receiveBpdu(ifname: string): Promise<void> {
    if (!this.guardOf(ifname)) return;
    this.tripped.add(ifname);
    const view = await this.portView(ifname);
    if (view) this.subject.next(view);
  }

  /** The port's carrier cycled: the kernel enables a port BPDU guard had disabled. */
  async carrierCycled(ifname: string): Promise<void> {
    if (!this.tripped.delete(ifname)) return;
    const view = await this.portView(ifname);
    if (view) this.subject.next(view);
  }

  // ---- driver ------------------------------------------------------------------------------------------

  async ensureBridgeOptions(bridge: string, opts: BridgeOptions, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const link = await this.links.get(bridge);
    if (!link || link.kind !== 'bridge') throw new KernelError('ensureBridgeOptions', bridge, 'ENODEV', 'no such bridge');
    const now = this.bridges.get(bridge) ?? { stp: false, forwardDelayS: DEFAULT_FORWARD_DELAY_S, vlanFiltering: false };
    if (opts.vlanFiltering === true && !this.features.vlanFiltering) throw new KernelError('ensureBridgeOptions', bridge, 'EOPNOTSUPP');
    const want = { stp: opts.stp, forwardDelayS: opts.stp ? (opts.forwardDelayS ?? DEFAULT_FORWARD_DELAY_S) : now.forwardDelayS, vlanFiltering: opts.vlanFiltering === true };
    if (now.stp === want.stp && now.forwardDelayS === want.forwardDelayS && now.vlanFiltering === want.vlanFiltering) return;
    this.writes.inc('link');
    this.bridges.set(bridge, want);
  }

  async vlanEntries(ifname: string): Promise<VlanEntry[]> {
    return (this.vlans.get(ifname) ?? [{ vid: 1, pvid: true, untagged: true }]).map((e) => ({ ...e }));
  }

  async ensureVlans(ifname: string, vlans: MemberVlans, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const link = await this.links.get(ifname);
    if (!link || link.master === undefined) throw new KernelError('ensureVlans', ifname, 'EINVAL', 'not a bridge port');
    const want = vlanEntriesOf(vlans);
    const now = await this.vlanEntries(ifname);
    const same = (a: VlanEntry, b: VlanEntry): boolean => a.vid === b.vid && a.pvid === b.pvid && a.untagged === b.untagged;
    const writes = want.filter((w) => !now.some((n) => same(n, w))).length + now.filter((n) => !want.some((w) => w.vid === n.vid)).length;
    this.writes.inc('link', writes);
    this.vlans.set(ifname, want);
  }

  async kernelFeatures(): Promise<KernelFeatures> {
    return { ...this.features };
  }

  async ensurePortOptions(ifname: string, opts: BridgePortOptions, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const link = await this.links.get(ifname);
    if (!link) throw new KernelError('ensurePortOptions', ifname, 'ENODEV', 'no such interface');
    if (link.master === undefined) throw new KernelError('ensurePortOptions', ifname, 'EINVAL', 'not a bridge port');
    if (this.guardOf(ifname) === opts.bpduGuard) return;
    this.writes.inc('link');
    this.guards.set(ifname, opts.bpduGuard);
    if (!opts.bpduGuard) this.tripped.delete(ifname);
  }

  async portView(ifname: string): Promise<BridgePortView | undefined> {
    const link = await this.links.get(ifname);
    if (!link || link.master === undefined) return undefined;
    const disabled = this.tripped.has(ifname) || !link.up || !link.carrier;
    return {
      ifindex: link.ifindex,
      ifname,
      master: link.master,
      state: disabled ? 'disabled' : 'forwarding',
      bpduGuard: this.guardOf(ifname),
      up: link.up,
      carrier: link.carrier,
    };
  }

  async close(): Promise<void> {
    this.subject.complete();
  }
}

export function createFakeBridgePortDriver(links: LinkDriver): FakeBridgePortDriver {
  return new FakeBridgePortDriver(links);
}
