import type { BondMode } from '../config/port-links-schema.ts';
import { BOND_MODES, enumName, LACP_RATES } from './eve-schema.ts';
import type { EdgeDevConfig } from './eve-schema.ts';

// EVE's vlans[] and bonds[] (devmodel.proto VlanAdapter / BondAdapter) as edgenet ports (ports[].vlan / ports[].bond),
// as pillar's dpcmanager/dpcreconciler builds them: a SystemAdapter whose lower layer is a VLAN adapter becomes a
// VLAN port on its parent (a PhysicalIO, or a bond — declared as a port of its own so it is made first); one whose
// lower layer is a bond becomes a bond port of the PhysicalIOs it aggregates.

type Level = 'info' | 'warning';

/** A port's VLAN or bond settings, in the native config's words. */
export interface EveL2Port {
  ifname: string;
  /** the EVE path that named the interface */
  ifnameSource: string;
  vlan?: { parent: string; id: number };
  bond?: { members: string[]; mode: BondMode; miimon?: number; upDelay?: number; downDelay?: number; lacpRate?: 'slow' | 'fast' };
  /** EVE paths of the port's fields (`vlan.id` → `vlans[0].vlanId`), for errors about them */
  sources: Record<string, string>;
  /** the VLAN's bond: declared as a port too (no NI uses it directly), so edgenet makes it */
  lowerPorts: { label: string; port: Omit<EveL2Port, 'lowerPorts' | 'notes'>; source: string }[];
  notes: { level: Level; message: string }[];
}

/** EVE BondMode → the kernel's word (UNSPECIFIED is round-robin, as EVE). */
const MODE_WORDS: Record<number, BondMode> = {
  [BOND_MODES.BOND_MODE_UNSPECIFIED]: 'balance-rr',
  [BOND_MODES.BOND_MODE_BALANCE_RR]: 'balance-rr',
  [BOND_MODES.BOND_MODE_ACTIVE_BACKUP]: 'active-backup',
  [BOND_MODES.BOND_MODE_BALANCE_XOR]: 'balance-xor',
  [BOND_MODES.BOND_MODE_BROADCAST]: 'broadcast',
  [BOND_MODES.BOND_MODE_802_3AD]: '802.3ad',
  [BOND_MODES.BOND_MODE_BALANCE_TLB]: 'balance-tlb',
  [BOND_MODES.BOND_MODE_BALANCE_ALB]: 'balance-alb',
};

/** A PhysicalIO's kernel interface: its `phyaddrs.ifname`, else the label itself (as eve-convert does for ports). */
function physicalIfname(eve: EdgeDevConfig, label: string): { ifname: string; source: string } | { refused: string } {
  const index = eve.deviceIoList.findIndex((p) => p.logicallabel === label);
  const io = eve.deviceIoList[index];
  if (!io) return { ifname: label, source: label };
  const key = Object.keys(io.phyaddrs).find((k) => k.toLowerCase() === 'ifname');
  const ifname = key ? io.phyaddrs[key] : undefined;
  if (!key || !ifname) return { refused: `deviceIoList[${index}] (${label}) has no ifname in phyaddrs` };
  return { ifname, source: `deviceIoList[${index}].phyaddrs.${key}` };
}

/** The VLAN or bond port `lower` (a SystemAdapter's lower layer) names; undefined when it names neither. */
export function eveL2Port(eve: EdgeDevConfig, lower: string): EveL2Port | { refused: string } | undefined {
  const v = eve.vlans.findIndex((x) => x.logicallabel === lower);
  if (v >= 0) return vlanPort(eve, v);
  const b = eve.bonds.findIndex((x) => x.logicallabel === lower);
  if (b >= 0) return bondPort(eve, b);
  return undefined;
}

function vlanPort(eve: EdgeDevConfig, k: number): EveL2Port | { refused: string } {
  const vlan = eve.vlans[k] as EdgeDevConfig['vlans'][number];
  const at = `vlans[${k}]`;
  const parentLabel = vlan.lowerLayerName;
  if (!parentLabel) return { refused: `VLAN adapter "${vlan.logicallabel}" (${at}) has no lowerLayerName` };
  if (eve.vlans.some((x) => x.logicallabel === parentLabel)) return { refused: `VLAN adapter "${vlan.logicallabel}" (${at}) is on VLAN adapter "${parentLabel}": EVE puts VLANs on a PhysicalIO or a bond` };
  const ifname = vlan.interfaceName || vlan.logicallabel;
  const ifnameSource = vlan.interfaceName ? `${at}.interfaceName` : `${at}.logicallabel`;
  const b = eve.bonds.findIndex((x) => x.logicallabel === parentLabel);
  if (b >= 0) {
    const bond = bondPort(eve, b);
    if ('refused' in bond) return bond;
    const { lowerPorts: _l, notes, ...port } = bond;
    return {
      ifname,
      ifnameSource,
      sources: vlanSources(at),
      vlan: { parent: bond.ifname, id: vlan.vlanId },
      lowerPorts: [{ label: parentLabel, port, source: `bonds[${b}]` }],
      notes: [{ level: 'info', message: `VLAN ${vlan.vlanId} (${at}) on bond "${parentLabel}" (${bond.ifname})` }, ...notes],
    };
  }
  const parent = physicalIfname(eve, parentLabel);
  if ('refused' in parent) return { refused: `VLAN adapter "${vlan.logicallabel}" (${at}): ${parent.refused}` };
  return { ifname, ifnameSource, sources: vlanSources(at), vlan: { parent: parent.ifname, id: vlan.vlanId }, lowerPorts: [], notes: [{ level: 'info', message: `VLAN ${vlan.vlanId} (${at}) on ${parent.ifname}` }] };
}

function bondPort(eve: EdgeDevConfig, k: number): EveL2Port | { refused: string } {
  const bond = eve.bonds[k] as EdgeDevConfig['bonds'][number];
  const at = `bonds[${k}]`;
  const notes: EveL2Port['notes'] = [];
  if (bond.lowerLayerNames.length === 0) return { refused: `bond "${bond.logicallabel}" (${at}) has no lowerLayerNames` };
  const members: string[] = [];
  for (const label of bond.lowerLayerNames) {
    const m = physicalIfname(eve, label);
    if ('refused' in m) return { refused: `bond "${bond.logicallabel}" (${at}): ${m.refused}` };
    members.push(m.ifname);
  }
  const mode = MODE_WORDS[bond.bondMode];
  if (!mode) return { refused: `bond "${bond.logicallabel}" (${at}): bond mode ${enumName(BOND_MODES, bond.bondMode)} is not known` };
  const out: NonNullable<EveL2Port['bond']> = { members, mode };
  const mii = bond.mii;
  if (mii && mii.interval > 0) {
    out.miimon = mii.interval;
    // EVE (and the kernel) round the delays down to a multiple of the interval
    const round = (ms: number): number => Math.floor(ms / mii.interval) * mii.interval;
    if (mii.updelay > 0) out.upDelay = round(mii.updelay);
    if (mii.downdelay > 0) out.downDelay = round(mii.downdelay);
    if (round(mii.updelay) !== mii.updelay || round(mii.downdelay) !== mii.downdelay) {
      notes.push({ level: 'info', message: `${at}.mii: delays rounded down to multiples of the ${mii.interval} ms interval, as the kernel does` });
    }
  }
  if (bond.arp && bond.arp.interval > 0) {
    notes.push({ level: 'warning', message: `${at}.arp: ARP link monitoring is not implemented: bond "${bond.logicallabel}" is built without it` });
  }
  if (bond.lacpRate !== LACP_RATES.LACP_RATE_UNSPECIFIED) {
    if (mode === '802.3ad') out.lacpRate = bond.lacpRate === LACP_RATES.LACP_RATE_FAST ? 'fast' : 'slow';
    else notes.push({ level: 'info', message: `${at}.lacpRate: applies to 802.3ad only (mode ${mode}): ignored` });
  }
  if (mode === 'active-backup') {
    notes.push({ level: 'info', message: `${at}: EVE's primary member (the first, ${members[0] ?? ''}) is the first enslaved; edgenet sets no primary option` });
  }
  const ifname = bond.interfaceName || bond.logicallabel;
  const sources = {
    bond: at,
    'bond.members': `${at}.lowerLayerNames`,
    'bond.mode': `${at}.bondMode`,
    'bond.miimon': `${at}.mii.interval`,
    'bond.upDelay': `${at}.mii.updelay`,
    'bond.downDelay': `${at}.mii.downdelay`,
    'bond.lacpRate': `${at}.lacpRate`,
  };
  return { ifname, ifnameSource: bond.interfaceName ? `${at}.interfaceName` : `${at}.logicallabel`, sources, bond: out, lowerPorts: [], notes };
}

function vlanSources(at: string): Record<string, string> {
  return { vlan: at, 'vlan.id': `${at}.vlanId`, 'vlan.parent': `${at}.lowerLayerName` };
}
