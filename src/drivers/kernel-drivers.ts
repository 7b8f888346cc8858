import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { createDnsmasqDriver } from './dhcpdns-dnsmasq.ts';
import { createNetlinkBridgePortDriver } from './bridge-ports-netlink.ts';
import type { Drivers } from './drivers.ts';
import { createNftFirewall } from './firewall-nft.ts';
import { withInstanceMarks } from './link-marks.ts';
import { createNetlinkLinkDriver } from './links-netlink.ts';
import { createIpRouteDriver } from './routes-ip.ts';
import { createNetlinkRouteReads } from './routes-netlink-reads.ts';
import { createIpPortLinkDriver } from './port-links-ip.ts';
import { createExecProbeDriver } from './probes-exec.ts';

/**
 * The real drivers, acting on the network namespace this process runs in; `runtimeDir` (default: stateDir) holds
 * dnsmasq's files; with `instanceId` the links' ownership marks carry it (link-marks.ts).
 */
export function createKernelDrivers(opts: { stateDir: string; runtimeDir?: string; logger?: Logger; instanceId?: string }): Drivers {
  const logger = opts.logger;
  const links = createNetlinkLinkDriver(logger ? { logger } : {});
  return {
    links: opts.instanceId ? withInstanceMarks(links, opts.instanceId) : links,
    firewall: createNftFirewall(logger ? { logger } : {}),
    dhcpdns: createDnsmasqDriver({ stateDir: opts.runtimeDir ?? opts.stateDir, ...(logger && { logger }) }),
    routes: createIpRouteDriver({ reads: createNetlinkRouteReads(links), ...(logger && { logger }) }),
    bridgePorts: createNetlinkBridgePortDriver(logger ? { logger } : {}),
    portLinks: createIpPortLinkDriver(logger ? { logger } : {}),
    probes: createExecProbeDriver(),
  };
}
