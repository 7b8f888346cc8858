import type { EveAdapter, EveNetworkInstance, EveSystemAdapter } from './eve-schema.ts';

// EVE's switch-NI L2 settings as edgenet's (pillar nireconciler/linux_config.go): STP runs on a switch NI with more
// than one port, BPDU guard on the ports `stp.portsWithBpduGuard` names (logical or shared label) and on every app
// adapter of such an NI; `vlanAccessPorts` make ports access ports; an adapter's `accessVlanId` 2–4093 is its access
// VLAN, 0 or 1 a trunk.

type Finder = (level: 'info' | 'warning', path: string, field: string, message: string) => void;

/** One port of the NI: its edgenet name and the EVE adapter it came from. */
export interface EveNiPort {
  name: string;
  adapter: EveSystemAdapter;
}

function matches(adapter: EveSystemAdapter, label: string): boolean {
  return label !== '' && (adapter.name === label || adapter.sharedLabels.includes(label));
}

/** `stp` and `vlanPorts` of a switch NI built from `ni` on `ports`. */
export function eveSwitchFields(ni: EveNetworkInstance, ports: readonly EveNiPort[], at: string, find: Finder): { stp?: { portsWithBpduGuard: string[]; guardApps: boolean }; vlanPorts?: { port: string; access: number }[] } {
  const out: { stp?: { portsWithBpduGuard: string[]; guardApps: boolean }; vlanPorts?: { port: string; access: number }[] } = {};
  const guardLabel = ni.stp?.portsWithBpduGuard ?? '';
  if (ports.length > 1) {
    out.stp = { portsWithBpduGuard: ports.filter((p) => matches(p.adapter, guardLabel)).map((p) => p.name), guardApps: true };
  } else if (guardLabel) {
    find('info', `${at}.stp.portsWithBpduGuard`, 'stp', 'EVE runs spanning tree (and BPDU guard) only on a switch network instance with several ports: ignored');
  }
  const vlanPorts: { port: string; access: number }[] = [];
  ni.vlanAccessPorts.forEach((vap, k) => {
    const matched = ports.filter((p) => matches(p.adapter, vap.accessPort));
    if (matched.length === 0) find('warning', `${at}.vlanAccessPorts[${k}].accessPort`, 'vlanAccessPorts', `"${vap.accessPort}" names no port of this network instance: ignored`);
    for (const p of matched) if (!vlanPorts.some((v) => v.port === p.name)) vlanPorts.push({ port: p.name, access: vap.vlanId });
  });
  if (vlanPorts.length) out.vlanPorts = vlanPorts;
  return out;
}

/** An app adapter's access VLAN on a switch NI (undefined: a trunk, EVE's 0 or 1); ignored with a finding on a local NI. */
export function eveAccessVlan(adapter: EveAdapter, niType: 'local' | 'switch' | undefined, at: string, find: Finder): number | undefined {
  if (adapter.accessVlanId <= 1) return undefined;
  if (niType !== 'switch') {
    find('info', `${at}.accessVlanId`, 'accessVlanId', `a local network instance carries no VLANs: accessVlanId ${adapter.accessVlanId} ignored (as EVE)`);
    return undefined;
  }
  return adapter.accessVlanId;
}
