import type { EndpointSpec, NiSpec } from '../../machines/specs.ts';
import type { EndpointRules } from '../drivers/firewall-acl.ts';

// What the firewall enforces for one app interface on a local NI: its ACLs and port forwards (when it has `acls`)
// and anti-spoofing (always: an app sends only from its own MAC and reserved address).

export function endpointRulesOf(ep: EndpointSpec, ni: NiSpec, ip: string): EndpointRules | undefined {
  if (ni.type !== 'local' || ni.gateway === undefined || ni.subnet === undefined) return undefined;
  const facts = ep.aclFacts;
  const ports = facts?.ports ?? (ni.port !== undefined && ni.portIfname !== undefined ? [{ name: ni.port, ifname: ni.portIfname }] : []);
  return {
    key: ep.key,
    app: ep.app,
    network: ep.network,
    bridge: ni.bridge,
    hostIfname: ep.hostIfname,
    mac: ep.mac,
    ip,
    gateway: ni.gateway,
    subnet: ni.subnet,
    ports,
    ...(ep.acls !== undefined && { acls: ep.acls }),
    antiSpoof: true,
    exempt: ep.routedVia ?? [],
    staticHosts: facts?.staticHosts ?? [],
  };
}
