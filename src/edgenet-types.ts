import type { Observable, Observer } from 'rxjs';
import type { EdgenetLogger as Logger } from './util/logger.ts';
import type { InspectionEvent } from 'xstate';
import type { ConfigInput } from './config/config-schema.ts';
import type { ConfigLimits } from './config/config-limits.ts';
import type { WriteCounts } from './drivers/write-counter.ts';
import type { EveFinding, EveNames, EveObjectError } from './eve/eve-types.ts';
import type { ConfigSource } from './daemon/config-source.ts';

/** Top-level states every NI and endpoint actor goes through. */
export type ActorState = 'pending' | 'creating' | 'ready' | 'degraded' | 'deleting' | 'deleted';

export interface NetworkStatus {
  name: string;
  type: 'switch' | 'local';
  state: ActorState;
  bridge: string;
  subnet?: string;
  gateway?: string;
  port?: string;
  /** local NIs: every port it can NAT out of (its `port`, or its `ports`) */
  ports?: string[];
  /** local NIs with a port: the one its default route goes out of now, and why */
  selectedPort?: string;
  selectedReason?: string;
  /** local NIs with a port: its own routing table */
  table?: number;
  /** why the NI is not ready (e.g. `port up0 lost carrier`) */
  reason?: string;
  /** dnsmasq pid (local NIs) */
  dnsmasqPid?: number;
  /**
   * local NIs: where dnsmasq sends what it cannot answer itself — `forwarders` (dns.forwarders), `ports` (the
   * ports' DNS servers, each `IP@ifname`) or `none` (no port, or no servers on its ports: app names and static
   * entries only, said in `note`)
   */
  upstreamDns?: { from: 'forwarders' | 'ports' | 'none'; servers: string[]; note?: string };
  leases?: { mac: string; ip: string; hostname?: string }[];
}

export interface EndpointStatus {
  app: string;
  network: string;
  kind: 'veth' | 'tap';
  state: ActorState;
  /** host-side interface: the veth's host end or the tap's name */
  ifname: string;
  /** name inside the app's namespace (veth) */
  appIfname?: string;
  netns?: string;
  mac?: string;
  ip?: string;
  /** why the endpoint is not ready (e.g. `tap vif7 gone`, `waiting for netns /run/netns/web`) */
  reason?: string;
  /** counted rules (ACL rules in order, `default` deny, `anti-spoofing`) with packets as last read */
  rules?: { rule: string; action: 'allow' | 'drop' | 'limit' | 'portmap' | 'deny'; packets: number }[];
}

export interface PortStatus {
  name: string;
  ifname: string;
  state: ActorState;
  carrier: boolean;
  /** NI that uses the port, if any */
  network?: string;
  reason?: string;
}

/** The device actor: the base of table inet edgenet and net.ipv4.ip_forward, which no single NI owns. */
export interface DeviceStatus {
  state: ActorState;
  /** why it is not ready (e.g. `foreign rule in base chain forward: accept`) */
  reason?: string;
}

export interface Status {
  /** absent until the first apply */
  device?: DeviceStatus;
  networks: NetworkStatus[];
  endpoints: EndpointStatus[];
  ports: PortStatus[];
  /** kernel writes by kind since start */
  writes: WriteCounts;
  /** the link event socket (real driver): how often it overflowed since start (events lost, links resynchronised) */
  linkEvents?: { overflows: number };
  /**
   * Daemon only (GET /v1/status), when the running config came from an EVE EdgeDevConfig: the conversion's
   * findings (NIs refused and why, fields ignored) and the names it mapped (uuid/displayname → edgenet name, taps).
   */
  eve?: { findings: EveFinding[]; names: EveNames; errors?: EveObjectError[] };
  /** app interfaces the running (partial) apply refused, as they stand now */
  refused?: RefusedEndpoint[];
  /** Daemon only: where the running config came from (the -c file, the API, or the resumed last good config). */
  source?: ConfigSource;
}

export interface Transition {
  kind: 'network' | 'endpoint' | 'port' | 'device';
  /** NI name, `<app>/<ni>` for endpoints, port name for ports, `device` for the device actor */
  name: string;
  from: ActorState | null;
  to: ActorState;
  /** ISO timestamp */
  at: string;
  reason?: string;
}

/** An app interface a partial apply did not build (no address left in its NI's range); built once one is free. */
export interface RefusedEndpoint {
  /** `<app>/<ni>` */
  key: string;
  app: string;
  network: string;
  /** `apps[i].interfaces[j]` in the applied config */
  path: string;
  reason: string;
}

/** What an apply changed, by object. */
export interface ApplyResult {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: number;
  /** partial apply only: app interfaces refused alone (the rest was applied) */
  refused?: RefusedEndpoint[];
}

export interface ApplyOptions {
  /**
   * EVE semantics: an app interface that cannot be served (no address left) is refused alone and listed in
   * `refused`, everything else is applied; it is built, without a push of its own, once an address is free.
   * Default (edgenet's own config): all or nothing.
   */
  partial?: boolean;
}

export interface EdgenetOptions {
  /**
   * persistent state: the last good config, the IP reservations (default /var/lib/edgenet). Given alone, it holds
   * the runtime files too.
   */
  stateDir?: string;
  /** runtime files, gone at a reboot: dnsmasq's conf/hosts/lease/pid files (default: stateDir if given, else /run/edgenet) */
  runtimeDir?: string;
  logger?: Logger;
  /** xstate inspection observer, passed to createActor */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** caps a config must stay within (defaults: 1000 networks, 250 local networks, 5000 app interfaces) */
  limits?: Partial<ConfigLimits>;
}

export interface Edgenet {
  /** Validates, diffs against the running config and moves the affected actors; resolves when they have settled. Rejects with ConfigError (nothing changed). */
  apply(config: ConfigInput | unknown, opts?: ApplyOptions): Promise<ApplyResult>;
  status(): Status;
  /** Kernel writes by kind since start: `status().writes` without building the status (a scrape, a counter). */
  writes(): WriteCounts;
  /** Whether every actor has settled (ready, degraded, or waiting for something outside: a tap, a namespace). */
  settled(): boolean;
  readonly status$: Observable<Status>;
  readonly transitions$: Observable<Transition>;
  /** Stop the actors and leave the data plane running. */
  stop(): Promise<void>;
  /** Delete every object edgenet owns. */
  teardown(): Promise<void>;
}
