// EVE port labels → edgenet ports, as pillar resolves them (types/dpc.go UpdateEveDefinedSharedLabels,
// cmd/zedrouter/networkinstance.go updateNIPorts, validation.go checkIfPortUsedByAnotherNI):
// - a network instance's `port.name` is a port's logical name (SystemAdapter.name) or a shared label naming any
//   number of ports: the user's `sharedLabels`, or EVE's own `all` (every port), `uplink` (every management port)
//   and `freeuplink` (every management port of cost 0);
// - a local NI takes only L3 ports (a port whose NetworkConfig says `dhcp: DHCPNone` is L2-only and left out);
// - a port serves any number of local NIs and at most one switch NI; a port of a multi-port switch NI serves
//   nothing else;
// - a port left out, and a label naming no port at all, is an error the NI carries: it is built with the ports
//   that remain, air-gapped when none does (EVE's "no port is matching label"), never a refusal of the document.
import type { EdgeDevConfig, EveSystemAdapter } from './eve-schema.ts';
import { PHYIO_USAGES } from './eve-schema.ts';
import { portNetworkOf } from './eve-dns.ts';
import { eveL2Port, type EveL2Port } from './eve-vlans-bonds.ts';

/** Labels EVE gives ports without the controller saying so (devmodel.proto, SystemAdapter.shared_labels). */
export const EVE_DEFINED_LABELS = ['all', 'uplink', 'freeuplink'] as const;

export interface EveNote {
  level: 'info' | 'warning';
  message: string;
}

/** One SystemAdapter chosen for a network instance, with its kernel interface. */
export interface EvePortChoice {
  adapter: EveSystemAdapter;
  adapterIndex: number;
  ifname: string;
  /** EVE path that named the interface, for errors about it */
  ifnameSource: string;
  notes: EveNote[];
  /** a VLAN or bond port (eve-vlans-bonds.ts) */
  l2?: EveL2Port;
}

/** What a network instance's label gives it. */
export type EveNiPorts =
  /** `error`: some (or all: air-gapped) of the ports the label names cannot be used, and why; the NI carries it */
  | { ports: EvePortChoice[]; notes: EveNote[]; error?: string }
  /** the NI cannot be built (a port edgenet cannot make) */
  | { refused: string };

type OnePort = { ok: EvePortChoice } | { refused: string };

interface PortUser {
  network: string;
  type: 'local' | 'switch';
  /** the user names several ports */
  multi: boolean;
}

// DHCPType (evecommon/netcmn.proto): DHCPNone is a port without IP (passed through to a switch NI's apps).
const DHCP_NONE = new Set<unknown>([2, '2', 'DHCPNone']);

/** Port labels of one EdgeDevConfig, and which network instances use which port. */
export class EvePortLabels {
  /** SystemAdapter index → the NIs that use it */
  private readonly users = new Map<number, PortUser[]>();

  constructor(private readonly eve: EdgeDevConfig) {}

  /** A management port, as EVE counts it (PhysicalIO usage MgmtAndApps/MgmtOnly, or the deprecated `uplink`). */
  isManagement(a: EveSystemAdapter): boolean {
    const usage = this.physicalIoOf(a.lowerLayerName || a.name)?.io.usage;
    return a.uplink || usage === PHYIO_USAGES.PhyIoUsageMgmtAndApps || usage === PHYIO_USAGES.PhyIoUsageMgmtOnly;
  }

  /** Does `label` name this adapter (its logical name, a shared label, or one of EVE's own labels)? */
  hasLabel(a: EveSystemAdapter, label: string): boolean {
    if (label === '') return false;
    if (a.name === label || a.sharedLabels.includes(label)) return true;
    if (label === 'all') return true;
    if (label === 'uplink') return this.isManagement(a);
    if (label === 'freeuplink') return this.isManagement(a) && a.cost === 0;
    return false;
  }

  /** The SystemAdapter indexes a label names: the one by that logical name, else every one with the label. */
  adaptersOf(label: string): number[] {
    const adapters = this.eve.systemAdapterList;
    const exact = adapters.findIndex((a) => a.name === label);
    if (exact >= 0) return [exact];
    return adapters.flatMap((a, i) => (this.hasLabel(a, label) ? [i] : []));
  }

  /** An L2-only port: its NetworkConfig runs no DHCP client and has no static address (`dhcp: DHCPNone`). */
  isL2Only(a: EveSystemAdapter): boolean {
    return DHCP_NONE.has(portNetworkOf(this.eve, a)?.net.ip?.dhcp);
  }

  /**
   * The ports network instance `network` gets from its `port.name` label, after EVE's filters (L2-only ports out
   * of local NIs, ports another NI may not share). Call claim() with the ports it is built on.
   */
  forNetwork(label: string, network: string, type: 'local' | 'switch'): EveNiPorts {
    const adapters = this.eve.systemAdapterList;
    const chosen = this.adaptersOf(label);
    const isName = adapters.some((a) => a.name === label);
    if (chosen.length === 0) {
      const known = isName || adapters.some((a) => a.sharedLabels.includes(label)) || (EVE_DEFINED_LABELS as readonly string[]).includes(label);
      const error = known
        ? `no port is matching label "${label}"`
        : `unknown port "${label}": neither a logical name (name) nor a shared label (sharedLabels) in systemAdapterList`;
      return { ports: [], notes: [], error };
    }
    const names = chosen.map((i) => adapters[i]?.name ?? '?');
    const multi = chosen.length > 1;
    const notes: EveNote[] = [];
    if (!isName && !multi) notes.push({ level: 'info', message: `shared label "${label}" names one port, ${names[0] ?? '?'}: using it` });
    if (!isName && multi) {
      const how = type === 'switch' ? 'the switch network instance bridges them all, with spanning tree (as EVE)' : 'the network instance NATs out of the one selected (carrier, probe, then cost)';
      notes.push({ level: 'info', message: `shared label "${label}" names ${chosen.length} ports (${names.join(', ')}): ${how}` });
    }
    const errors: string[] = [];
    const ports: EvePortChoice[] = [];
    for (const index of chosen) {
      const adapter = adapters[index] as EveSystemAdapter;
      if (type === 'local' && this.isL2Only(adapter)) {
        errors.push(`L2-only port ${adapter.name} cannot be used in a local network instance`);
        continue;
      }
      const other = this.conflict(index, network, type, multi);
      if (other !== undefined) {
        errors.push(`port ${adapter.name} is already used by network ${other}${type === 'switch' ? ' (a port serves at most one switch network instance)' : ' (a port of a multi-port switch network instance serves nothing else)'}`);
        continue;
      }
      const one = this.adapterIfname(index);
      if ('refused' in one) {
        // one port named: the NI cannot be built as asked; one of several: it goes without that port
        if (!multi) return { refused: one.refused };
        errors.push(one.refused);
        continue;
      }
      ports.push(one.ok);
    }
    if (multi && ports.length === 1) notes.push({ level: 'info', message: `only port ${ports[0]?.adapter.name ?? '?'} of label "${label}" is usable` });
    return { ports, notes, ...(errors.length > 0 && { error: errors.join('; ') }) };
  }

  /** Records that `network` is built on these ports (what forNetwork checks the next NIs against). */
  claim(network: string, type: 'local' | 'switch', ports: readonly EvePortChoice[]): void {
    for (const p of ports) {
      const list = this.users.get(p.adapterIndex) ?? [];
      list.push({ network, type, multi: ports.length > 1 });
      this.users.set(p.adapterIndex, list);
    }
  }

  /** EVE's checkIfPortUsedByAnotherNI: which NI already holds the port against this one (undefined: none). */
  private conflict(index: number, network: string, type: 'local' | 'switch', multi: boolean): string | undefined {
    const others = (this.users.get(index) ?? []).filter((u) => u.network !== network);
    const blocking = others.find((u) => {
      if (type === 'local') return u.type === 'switch' && u.multi;
      if (multi) return true;
      return u.type === 'switch';
    });
    return blocking?.network;
  }

  private physicalIoOf(lower: string): { io: EdgeDevConfig['deviceIoList'][number]; index: number } | undefined {
    const index = this.eve.deviceIoList.findIndex((p) => p.logicallabel === lower);
    const io = this.eve.deviceIoList[index];
    return io ? { io, index } : undefined;
  }

  /** SystemAdapter → lower layer (PhysicalIO by logical label) → its `ifname` address. */
  private adapterIfname(index: number): OnePort {
    const adapter = this.eve.systemAdapterList[index] as EveSystemAdapter;
    const lower = adapter.lowerLayerName || adapter.name;
    // a VLAN sub-interface or a bond (vlans[], bonds[]): a port edgenet makes
    const l2 = eveL2Port(this.eve, lower);
    if (l2 && 'refused' in l2) return { refused: `port "${adapter.name}": ${l2.refused}` };
    if (l2) return { ok: { adapter, adapterIndex: index, ifname: l2.ifname, ifnameSource: l2.ifnameSource, notes: l2.notes, l2 } };
    const phys = this.physicalIoOf(lower);
    if (phys) {
      const key = Object.keys(phys.io.phyaddrs).find((k) => k.toLowerCase() === 'ifname');
      const ifname = key ? phys.io.phyaddrs[key] : undefined;
      if (!key || !ifname) return { refused: `port "${adapter.name}": deviceIoList[${phys.index}] (${lower}) has no ifname in phyaddrs` };
      return { ok: { adapter, adapterIndex: index, ifname, ifnameSource: `deviceIoList[${phys.index}].phyaddrs.${key}`, notes: [] } };
    }
    const source = adapter.lowerLayerName ? `systemAdapterList[${index}].lowerLayerName` : `systemAdapterList[${index}].name`;
    return {
      ok: {
        adapter,
        adapterIndex: index,
        ifname: lower,
        ifnameSource: source,
        notes: [{ level: 'info', message: `no deviceIoList entry with logicallabel "${lower}": taking "${lower}" as the interface name` }],
      },
    };
  }
}

/**
 * What an NI whose label left ports out carries (as EVE: the NI is built, with an error): `error` for its object
 * error, `finding` for the findings. `remaining`: the ports it is built on (none: air-gapped).
 */
export function portLabelError(at: string, error: string, remaining: readonly EvePortChoice[]): { error: string; finding: string } {
  if (remaining.length === 0) return { error: `${at}.port.name: ${error}: built air-gapped`, finding: `${error}: network instance built air-gapped (no port)` };
  const on = remaining.map((p) => p.adapter.name).join(', ');
  return { error: `${at}.port.name: ${error}: built on ${on}`, finding: `${error}: network instance built on ${on}` };
}
