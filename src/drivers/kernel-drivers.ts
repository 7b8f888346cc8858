import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { createDnsmasqDriver } from './dhcpdns-dnsmasq.ts';
import { createNetlinkBridgePortDriver } from './bridge-ports-netlink.ts';
import type { Drivers } from './drivers.ts';
import { createNftFirewall } from './firewall-nft.ts';
import { createNetlinkLinkDriver } from './links-netlink.ts';
import { createIpRouteDriver } from './routes-ip.ts';
import { createIpPortLinkDriver } from './port-links-ip.ts';
import { createExecProbeDriver } from './probes-exec.ts';

/** The real drivers, acting on the network namespace this process runs in; `runtimeDir` (default: stateDir) holds dnsmasq's files. */
export function createKernelDrivers(opts: { stateDir: string; runtimeDir?: string; logger?: Logger }): Drivers {
  const logger = opts.logger;
  return {
    links: createNetlinkLinkDriver(logger ? { logger } : {}),
    firewall: createNftFirewall(logger ? { logger } : {}),
    dhcpdns: createDnsmasqDriver({ stateDir: opts.runtimeDir ?? opts.stateDir, ...(logger && { logger }) }),
    routes: createIpRouteDriver(logger ? { logger } : {}),
    bridgePorts: createNetlinkBridgePortDriver(logger ? { logger } : {}),
    portLinks: createIpPortLinkDriver(logger ? { logger } : {}),
    probes: createExecProbeDriver(),
  };
}
