// The library entry: `import { createEdgenet } from 'edgenet'`. Re-exports only: importing it opens no socket,
// starts no timer and touches no file (test/unit/library-entry.test.ts), and loads neither fastify, commander nor the
// inspector. Fakes for embedders' tests: 'edgenet/testing'; the daemon and its API: 'edgenet/daemon'; the Stately
// inspector server: 'edgenet/inspector'.

// ---- the core ----
export { createEdgenet, lastGoodConfig, DEFAULT_RUNTIME_DIR, DEFAULT_STATE_DIR } from './edgenet.ts';
export { migrateStateLayout, resolveLayout } from './daemon/state-layout.ts';
export type { LayoutOptions, StateLayout } from './daemon/state-layout.ts';
export type { CreateEdgenetOptions } from './edgenet.ts';
export type {
  ActorState,
  ApplyResult,
  Edgenet,
  EdgenetOptions,
  EndpointStatus,
  NetworkStatus,
  PortStatus,
  Status,
  Transition,
} from './edgenet-types.ts';
export type { WriteCounts, WriteKind } from './drivers/write-counter.ts';

export type { EdgenetLogger, LogFn } from './util/logger.ts';

// ---- errors ----
export { ConfigError, KernelError, formatIssues } from './errors.ts';
export type { ConfigIssue } from './errors.ts';

// ---- config ----
export { loadConfigFile, parseConfigText, validateConfig } from './config/config-load.ts';
export type { ValidateOptions } from './config/config-load.ts';
export { configSchema } from './config/config-schema.ts';
export type {
  AppSpec,
  Config,
  ConfigInput,
  InterfaceSpec,
  LocalNetworkSpec,
  NetworkSpec,
  PortSpec,
  SwitchNetworkSpec,
} from './config/config-schema.ts';

// ---- EVE controllers' EdgeDevConfig ----
export { convertEveConfig, isEveDocument } from './eve/eve-convert.ts';
export { validateEveConfig } from './eve/eve-load.ts';
export { createEveReporter, eveNetworkInstanceInfo, eveNetworkInstanceMetrics } from './eve/eve-info.ts';
export type { EveReporter, EveReporterOptions, ZInfoNetworkInstance, ZMetricNetworkInstance, AclDrops } from './eve/eve-info.ts';
export type { EdgeDevConfig } from './eve/eve-schema.ts';
export type {
  EveAppName,
  EveConversion,
  EveConvertOptions,
  EveFinding,
  EveNames,
  EveNetworkName,
  EvePortName,
  EveTap,
  ValidatedEveConversion,
} from './eve/eve-types.ts';

// ---- the machines, for inspection and visualisation ----
export { systemMachine } from '../machines/system.machine.ts';
export { networkInstanceMachine } from '../machines/network-instance.machine.ts';
export { endpointMachine } from '../machines/endpoint.machine.ts';
export { ACTOR_STATES } from '../machines/specs.ts';
export { EDGENET_DIAGRAMS, machineToMermaid } from './util/diagrams.ts';
export type { DiagramSource } from './util/diagrams.ts';

// ---- observability an agent can serve itself ----
export { createMetrics } from './daemon/metrics.ts';
export type { ApplyOutcome, EdgenetMetrics } from './daemon/metrics.ts';

// ---- drivers: the kernel as the actors see it (implement these to run edgenet elsewhere) ----
export { createKernelDrivers } from './drivers/kernel-drivers.ts';
export type { Drivers } from './drivers/drivers.ts';
export type { AddressInfo, AttachSpec, BridgeSpec, LinkDriver, LinkEvent, LinkInfo, VethSpec } from './drivers/links.ts';
export type { Firewall, NiRules, RulesetView } from './drivers/firewall.ts';
export type { DhcpDns, DhcpDnsEvent, DhcpDnsSpec, DhcpLease, Reservation } from './drivers/dhcpdns.ts';
export { WriteCounter } from './drivers/write-counter.ts';
