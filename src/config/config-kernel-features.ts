import type { Drivers } from '../drivers/drivers.ts';
import type { KernelFeatures } from '../drivers/bridge-ports.ts';
import type { ConfigIssue } from '../errors.ts';
import type { Config } from './config-schema.ts';
import { wantedPortLinks } from '../reconcile/port-links.ts';

// A config that needs what the running kernel cannot build (VLANs on a kernel without 802.1Q / bridge VLAN
// filtering) is refused as a whole, before anything is built: never half a VLAN plan.

const NONE: KernelFeatures = { vlanFiltering: false, vlan8021q: false, bonding: false };

/** Paths of the config that need bridge VLAN filtering. */
export function vlanPaths(config: Config): string[] {
  const paths: string[] = [];
  config.networks.forEach((ni, i) => {
    if (ni.type === 'switch') ni.vlanPorts?.forEach((_, k) => paths.push(`networks[${i}].vlanPorts[${k}]`));
  });
  config.apps.forEach((app, a) => app.interfaces.forEach((itf, k) => itf.accessVlanId !== undefined && paths.push(`apps[${a}].interfaces[${k}].accessVlanId`)));
  return paths;
}

export async function kernelFeatureIssues(drivers: Drivers, config: Config): Promise<ConfigIssue[]> {
  const vlans = vlanPaths(config);
  // VLAN and bond ports an NI uses (declared but unused ones build nothing)
  const links = wantedPortLinks(config);
  if (vlans.length === 0 && links.length === 0) return [];
  const features = drivers.bridgePorts ? await drivers.bridgePorts.kernelFeatures() : NONE;
  const issues: ConfigIssue[] = [];
  if (!features.vlanFiltering) {
    issues.push(...vlans.map((path) => ({ path, message: 'this kernel has no 802.1Q support (bridge VLAN filtering): VLANs cannot be built, so the config is refused' })));
  }
  for (const { index, spec } of links) {
    if (spec.vlan && !features.vlan8021q) {
      issues.push({ path: `ports[${index}].vlan`, message: 'this kernel has no 802.1Q support (VLAN sub-interfaces): the VLAN port cannot be built, so the config is refused' });
    }
    if (spec.bond && !features.bonding) {
      issues.push({ path: `ports[${index}].bond`, message: 'this kernel has no bonding support: the bond cannot be built, so the config is refused' });
    }
  }
  return issues;
}
