import type { Observable } from 'rxjs';
import type { WriteCounter } from './write-counter.ts';

// Bridge and bridge-port options the links driver does not cover: spanning tree (IFLA_BR_STP_STATE,
// IFLA_BR_FORWARD_DELAY), BPDU guard (IFLA_BRPORT_GUARD), the STP state of each port (AF_BRIDGE link messages).

/** STP port states (BR_STATE_*), as words. */
export type StpPortState = 'disabled' | 'listening' | 'learning' | 'forwarding' | 'blocking';

export const STP_PORT_STATES: readonly StpPortState[] = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'];

/** The kernel's default forward delay (seconds): listening and learning each last this long before a port forwards. */
export const DEFAULT_FORWARD_DELAY_S = 15;

export interface BridgeOptions {
  /** kernel STP (IFLA_BR_STP_STATE 1) */
  stp: boolean;
  /** seconds, 2..30 (the kernel refuses others while STP runs); applied only with STP */
  forwardDelayS?: number;
  /** IFLA_BR_VLAN_FILTERING: ports carry only their VLAN entries */
  vlanFiltering?: boolean;
}

/** A bridge member's VLAN entries: `pvid` (untagged in and out), `tagged` (carried with their tag). */
export interface MemberVlans {
  pvid: number;
  tagged: number[];
}

/** One VLAN entry of a bridge port, as the kernel lists it. */
export interface VlanEntry {
  vid: number;
  pvid: boolean;
  untagged: boolean;
}

/** What the running kernel can build (Debian's stock kernel: all; this project's CI kernel: none of them). */
export interface KernelFeatures {
  /** bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING) */
  vlanFiltering: boolean;
  /** VLAN sub-interfaces (802.1Q, CONFIG_VLAN_8021Q) */
  vlan8021q: boolean;
  /** bond interfaces (CONFIG_BONDING) */
  bonding: boolean;
}

export interface BridgePortOptions {
  /** IFLA_BRPORT_GUARD: a BPDU arriving on the port disables it */
  bpduGuard: boolean;
}

/** One bridge port as the kernel reports it. */
export interface BridgePortView {
  ifindex: number;
  ifname: string;
  /** the bridge's ifindex */
  master: number;
  state: StpPortState;
  bpduGuard: boolean;
  up: boolean;
  carrier: boolean;
}

/**
 * BPDU guard has taken the port out: the kernel sets a guarded port that received a BPDU to `disabled` although
 * it is up with carrier (a port without carrier is disabled too, but that is not the guard's doing). The kernel
 * enables it again on the next carrier change (or admin down/up) of the port.
 */
export function guardTripped(v: Pick<BridgePortView, 'bpduGuard' | 'state' | 'up' | 'carrier'>): boolean {
  return v.bpduGuard && v.state === 'disabled' && v.up && v.carrier;
}

export interface BridgePortDriver {
  readonly writes: WriteCounter;
  /** RTM_NEWLINK of family AF_BRIDGE: a port's STP state changed (also when BPDU guard disables it). */
  readonly events$: Observable<BridgePortView>;
  /** Converge the bridge's STP options; one write when they differ, none when converged. */
  ensureBridgeOptions(bridge: string, opts: BridgeOptions, signal?: AbortSignal): Promise<void>;
  /** Converge a port's options (it must be enslaved already); one write when they differ. */
  ensurePortOptions(ifname: string, opts: BridgePortOptions, signal?: AbortSignal): Promise<void>;
  /** Converge a bridge member's VLAN entries to exactly `vlans` (one write per entry added or removed). */
  ensureVlans(ifname: string, vlans: MemberVlans, signal?: AbortSignal): Promise<void>;
  vlanEntries(ifname: string): Promise<VlanEntry[]>;
  /** Probed once (throw-away links, removed at once) and remembered. */
  kernelFeatures(): Promise<KernelFeatures>;
  /** The port's bridge view; undefined when the link is absent or not a bridge port. */
  portView(ifname: string): Promise<BridgePortView | undefined>;
  close(): Promise<void>;
}

/** The entries `vlans` means on a port: the PVID untagged, the others tagged. */
export function vlanEntriesOf(vlans: MemberVlans): VlanEntry[] {
  const tagged = vlans.tagged.filter((v) => v !== vlans.pvid).map((vid) => ({ vid, pvid: false, untagged: false }));
  return [{ vid: vlans.pvid, pvid: true, untagged: true }, ...tagged].sort((a, b) => a.vid - b.vid);
}
