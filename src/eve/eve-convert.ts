// EVE EdgeDevConfig (protobuf JSON) → edgenet config, with a finding for everything edgenet does not do as EVE would.
import type { ConfigInput } from '../config/config-schema.ts';
import { ConfigError } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';
import { eveAcls } from './eve-acls.ts';
import { correctDhcpRange } from './eve-dhcp-range.ts';
import { eveNiServices, evePortDns, portNetworkOf } from './eve-dns.ts';
import { eveAppMac } from './eve-macs.ts';
import { eveAccessVlan, eveSwitchFields } from './eve-switch.ts';
import type { EveL2Port } from './eve-vlans-bonds.ts';
import { appTapTags, NAME_LIMITS, NameAllocator, tapName } from './eve-names.ts';
import { portLabelError, EvePortLabels, type EvePortChoice } from './eve-ports.ts';
import { ADDRESS_TYPES, enumName, NI_TYPES, parseEdgeDevConfig } from './eve-schema.ts';
import type { EdgeDevConfig, EveAce, EveAdapter, EveApp, EveNetworkInstance, EveSystemAdapter } from './eve-schema.ts';
import type { EveConversion, EveConvertOptions, EveFinding, EveNames, EveNetworkName, EveObjectError, EveTap } from './eve-types.ts';

type NetworkInput = ConfigInput['networks'] extends (infer N)[] | undefined ? N : never;
type PortInput = ConfigInput['ports'] extends (infer P)[] | undefined ? P : never;
type AppInput = ConfigInput['apps'] extends (infer A)[] | undefined ? A : never;
type InterfaceInput = NonNullable<AppInput['interfaces']>[number];
type LocalInput = Extract<NetworkInput, { type: 'local' }>;

/** True for a document that reads as an EdgeDevConfig (it has `networkInstances`), for format auto-detection. */
export function isEveDocument(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && Object.hasOwn(doc, 'networkInstances');
}

/**
 * Only an entry that matches every address and neither drops, limits nor maps ports: what a local NI allows anyway.
 * The forms EVE's own tests write: `[{ip: 0.0.0.0/0}]`, `[{ip: ::/0}]`, `[{protocol: all}, {ip: 0.0.0.0/0}]`.
 */
export function isAllowAll(ace: EveAce): boolean {
  const everyAddress = (m: { type: string; value: string }): boolean => m.type === 'ip' && (m.value === '0.0.0.0/0' || m.value === '::/0');
  const anyProtocol = (m: { type: string; value: string }): boolean => m.type === 'protocol' && m.value.toLowerCase() === 'all';
  return (
    ace.matches.some(everyAddress) &&
    ace.matches.every((m) => everyAddress(m) || anyProtocol(m)) &&
    ace.actions.every((a) => !a.drop && !a.limit && !a.portmap)
  );
}

/** `cfg: {}` (or an empty `oConfig`), as controllers send it for every NI, configures nothing. */
function isEmptyCfg(cfg: unknown): boolean {
  if (cfg === null) return true;
  if (typeof cfg !== 'object' || Array.isArray(cfg)) return false;
  return Object.values(cfg).every((v) => v === '' || v === null || v === undefined || (Array.isArray(v) && v.length === 0));
}

class Converter {
  readonly findings: EveFinding[] = [];
  readonly errors: ConfigIssue[] = [];
  readonly sources: Record<string, string> = {};
  readonly names: EveNames = { networks: [], apps: [], taps: [], ports: [] };
  /** objects not built (EVE's per-object errors) */
  readonly objectErrors: EveObjectError[] = [];
  private readonly networks: NetworkInput[] = [];
  private readonly ports: PortInput[] = [];
  private readonly apps: AppInput[] = [];
  /** NI uuid → its entry in names.networks and its document index */
  private readonly byUuid = new Map<string, { entry: EveNetworkName; index: number }>();
  /** SystemAdapter index → edgenet port name */
  private readonly portUse = new Map<number, string>();
  private readonly labels: EvePortLabels;
  private readonly portNames = new NameAllocator(NAME_LIMITS.port, 'port');
  private readonly tapOverrides: Map<string, string>;
  private readonly usedOverrides = new Set<string>();
  private readonly refusals: NonNullable<EveConvertOptions['refusals']>;

  constructor(
    private readonly eve: EdgeDevConfig,
    opts: EveConvertOptions,
  ) {
    this.tapOverrides = new Map(Object.entries(opts.tapNames ?? {}));
    this.refusals = opts.refusals ?? { networks: new Map(), adapters: new Map() };
    this.labels = new EvePortLabels(eve);
  }

  find(level: EveFinding['level'], path: string, subject: string, field: string, message: string): void {
    this.findings.push({ level, path, subject, field, message });
  }

  convert(): ConfigInput {
    this.deviceFindings();
    const niNames = new NameAllocator(NAME_LIMITS.network, 'ni');
    const seen = new Map<string, number>();
    this.eve.networkInstances.forEach((ni, j) => {
      const uuid = ni.uuidandversion.uuid;
      const again = seen.get(uuid);
      if (again !== undefined) {
        this.errors.push({ path: `networkInstances[${j}].uuidandversion.uuid`, message: `duplicate network instance uuid "${uuid}" (also networkInstances[${again}])` });
        return;
      }
      seen.set(uuid, j);
      const name = niNames.allocate(ni.displayname, uuid);
      this.network(ni, j, name);
    });
    this.convertApps();
    for (const key of this.tapOverrides.keys()) {
      if (!this.usedOverrides.has(key)) {
        this.find('warning', `tapNames[${JSON.stringify(key)}]`, 'device', 'tapNames', `matches no app adapter (keys are "<app uuid>/<adapter index>" or "<app uuid>/<adapter name>"): ignored`);
      }
    }
    return { ports: this.ports, networks: this.networks, apps: this.apps };
  }

  private deviceFindings(): void {
    if (this.eve.networks.length > 0) {
      this.find('info', 'networks', 'device', 'networks', "the device ports' own IP configuration (NetworkConfig) is the host's business: only its DNS servers (ip.dns) are read, as the upstream resolvers of the port that references it");
    }
  }

  private network(ni: EveNetworkInstance, j: number, name: string): void {
    const at = `networkInstances[${j}]`;
    const subject = `network ${name}`;
    const entry: EveNetworkName = { uuid: ni.uuidandversion.uuid, displayname: ni.displayname, name, state: 'built' };
    this.names.networks.push(entry);
    this.byUuid.set(entry.uuid, { entry, index: j });
    const refuse = (field: string, reason: string): void => {
      entry.state = 'refused';
      entry.reason = reason;
      this.find('warning', field ? `${at}.${field}` : at, subject, field || 'instType', `${reason}: network instance not created`);
      this.objectErrors.push({ kind: 'network', path: at, uuid: entry.uuid, name, reason });
    };

    const type = ni.instType === NI_TYPES.ZnetInstSwitch ? 'switch' : ni.instType === NI_TYPES.ZnetInstLocal ? 'local' : undefined;
    if (type) entry.type = type;
    if (!ni.activate) {
      entry.state = 'inactive';
      entry.reason = 'activate is false';
      this.find('info', `${at}.activate`, subject, 'activate', 'activate is false (or absent): network instance not created');
      return;
    }
    if (!type) {
      refuse('instType', `type ${enumName(NI_TYPES, ni.instType)} is not supported (edgenet builds ZnetInstSwitch and ZnetInstLocal)`);
      return;
    }
    const invalid = this.refusals.networks.get(entry.uuid);
    if (invalid) {
      // validation found it invalid: it alone is not built (EVE's per-object error)
      entry.state = 'refused';
      entry.reason = `${invalid.path}: ${invalid.reason}`;
      this.objectErrors.push({ kind: 'network', path: at, uuid: entry.uuid, name, reason: entry.reason });
      return;
    }
    if (type === 'local') {
      if (ni.ipType !== ADDRESS_TYPES.First && ni.ipType !== ADDRESS_TYPES.IPV4) {
        refuse('ipType', `address type ${enumName(ADDRESS_TYPES, ni.ipType)} is not supported (edgenet serves IPv4)`);
        return;
      }
      if (ni.ip?.subnet.includes(':')) {
        refuse('ip.subnet', `IPv6 subnet ${ni.ip.subnet} is not supported (edgenet serves IPv4)`);
        return;
      }
    }

    // the label's ports (src/eve/eve-ports.ts): several for a label naming several, none when air-gapped
    let ports: EvePortChoice[] = [];
    const label = ni.port?.name ?? '';
    if (label) {
      const r = this.labels.forNetwork(label, name, type);
      if ('refused' in r) {
        refuse('port.name', r.refused);
        return;
      }
      ports = r.ports;
      for (const n of r.notes) this.find(n.level, `${at}.port.name`, subject, 'port.name', n.message);
      if (r.error !== undefined) {
        // as EVE does: the NI is built with the ports that remain (air-gapped when none) and carries the error
        const e = portLabelError(at, r.error, ports);
        entry.error = e.error;
        this.find('warning', `${at}.port.name`, subject, 'port.name', e.finding);
        this.objectErrors.push({ kind: 'network', path: at, uuid: entry.uuid, name, reason: e.error });
      }
      this.labels.claim(name, type, ports);
    }
    const port = ports[0];

    const i = this.networks.length;
    const to = `networks[${i}]`;
    this.sources[to] = at;
    this.sources[`${to}.name`] = `${at}.displayname`;
    this.sources[`${to}.type`] = `${at}.instType`;
    this.sources[`${to}.mtu`] = `${at}.mtu`;
    const common: { name: string; port?: string; ports?: string[]; mtu?: number } = { name };
    if (ni.mtu !== 0) common.mtu = ni.mtu;
    const portNames = ports.map((p) => {
      for (const n of p.notes) this.find(n.level, `${at}.port.name`, subject, 'port.name', n.message);
      // a multi-port local NI probes its ports to select one; a switch NI bridges them all
      return this.usePort(p, type === 'local' && ports.length > 1);
    });
    if (portNames.length === 1) {
      common.port = portNames[0];
      this.sources[`${to}.port`] = `${at}.port.name`;
    } else if (portNames.length > 1) {
      // a local NI on a label naming several ports: it NATs out of the one selected (ports[].cost, probe); a switch
      // NI bridges them all, with spanning tree (eve-switch.ts)
      common.ports = portNames;
      this.sources[`${to}.ports`] = `${at}.port.name`;
      portNames.forEach((_p, k) => (this.sources[`${to}.ports[${k}]`] = `${at}.port.name`));
    }
    this.unsupportedNiFields(ni, at, subject, type);
    if (type === 'switch') {
      const swPorts = ports.map((p, k) => ({ name: portNames[k] as string, adapter: p.adapter }));
      const l2 = eveSwitchFields(ni, swPorts, at, (level, path, field, message) => this.find(level, path, subject, field, message));
      if (l2.vlanPorts) this.sources[`${to}.vlanPorts`] = `${at}.vlanAccessPorts`;
      this.networks.push({ ...common, type: 'switch', ...l2 });
      return;
    }
    // Cast: a local NI without a subnet is passed on for validation to reject with its path.
    this.networks.push({ ...common, type: 'local', ...this.localFields(ni, at, to, subject, port?.adapter) } as LocalInput);
  }

  /** subnet, gateway, DHCP range, what apps are told, routes and DNS entries of a local NI. */
  private localFields(ni: EveNetworkInstance, at: string, to: string, subject: string, portAdapter?: EveSystemAdapter): Partial<LocalInput> {
    const ip = ni.ip;
    const out: Partial<LocalInput> = {};
    // A missing subnet stays missing: validation names it (`networkInstances[0].ip.subnet: is required`).
    this.sources[`${to}.subnet`] = `${at}.ip.subnet`;
    if (ip?.subnet) out.subnet = ip.subnet;
    if (ip?.gateway) {
      out.gateway = ip.gateway;
      this.sources[`${to}.gateway`] = `${at}.ip.gateway`;
    }
    if (ip?.dhcpRange && (ip.dhcpRange.start || ip.dhcpRange.end)) {
      out.dhcpRange = { start: ip.dhcpRange.start, end: ip.dhcpRange.end };
      this.sources[`${to}.dhcpRange`] = `${at}.ip.dhcpRange`;
      const fixed = ip.dhcpRange.start ? correctDhcpRange(ip.subnet, ip.gateway || undefined, ip.dhcpRange.start, ip.dhcpRange.end) : undefined;
      if (fixed) {
        out.dhcpRange = fixed.range;
        for (const note of fixed.notes) this.find('info', `${at}.ip.dhcpRange`, subject, 'ip.dhcpRange', note);
      }
    }

    // what apps are told, static routes and static DNS entries (eve-dns.ts)
    const portNetwork = portAdapter ? portNetworkOf(this.eve, portAdapter) : undefined;
    Object.assign(out, eveNiServices(ni, at, to, subject, this, portNetwork));
    return out;
  }

  private unsupportedNiFields(ni: EveNetworkInstance, at: string, subject: string, type: 'local' | 'switch'): void {
    const ignored = (field: string, what: string, level: EveFinding['level'] = 'warning'): void =>
      this.find(level, `${at}.${field}`, subject, field, `${what}: ignored`);
    if (ni.cfg !== undefined && !isEmptyCfg(ni.cfg)) ignored('cfg', 'opaque (VPN/LISP) network instance config is not implemented');
    if (ni.forwardLldp) ignored('forwardLldp', 'forwarding LLDP frames is not implemented');
    if (type === 'switch') {
      const ip = ni.ip;
      if (ip && (ip.subnet || ip.gateway || ip.dhcpRange || ip.dns.length > 0 || ip.domain || ip.ntp || ip.moreNtp.length > 0)) {
        ignored('ip', 'a switch network instance has no IP services', 'info');
      }
      if (ni.dns.length > 0) ignored('dns', 'a switch network instance serves no DNS', 'info');
      if (ni.staticRoutes.length > 0) ignored('staticRoutes', 'a switch network instance has no IP services', 'info');
      if (ni.propagateConnectedRoutes) ignored('propagateConnectedRoutes', 'a switch network instance has no IP services', 'info');
      return;
    }
  }

  /** The edgenet port of a SystemAdapter: made once, shared by every NI on it. `probed`: a multi-port local NI's. */
  private usePort(choice: EvePortChoice, probed: boolean): string {
    const known = this.portUse.get(choice.adapterIndex);
    if (known !== undefined) {
      if (probed) this.probePort(known, choice);
      return known;
    }
    // a bond declared already as a VLAN's lower layer (no NI on it then): this NI uses that port
    const declared = choice.l2?.bond ? this.ports.find((x) => x.ifname === choice.ifname) : undefined;
    if (declared) {
      this.portUse.set(choice.adapterIndex, declared.name);
      this.names.ports.push({ name: declared.name, adapter: choice.adapter.name, ifname: choice.ifname });
      return declared.name;
    }
    const name = this.portNames.allocate(choice.adapter.name, `port:${choice.adapter.name}`);
    const p = this.ports.length;
    this.sources[`ports[${p}]`] = `systemAdapterList[${choice.adapterIndex}]`;
    this.sources[`ports[${p}].name`] = `systemAdapterList[${choice.adapterIndex}].name`;
    this.sources[`ports[${p}].ifname`] = choice.ifnameSource;
    const dns = evePortDns(this.eve, choice.adapter, choice.adapterIndex, `ports[${p}]`, this);
    const cost = choice.adapter.cost;
    if (cost !== 0) this.sources[`ports[${p}].cost`] = `systemAdapterList[${choice.adapterIndex}].cost`;
    this.ports.push({ name, ifname: choice.ifname, ...(cost !== 0 && { cost }), ...(dns && { dns }), ...(choice.l2 && l2Fields(choice.l2)) });
    if (choice.l2) this.lowerPorts(choice.l2, `ports[${p}]`);
    this.portUse.set(choice.adapterIndex, name);
    this.names.ports.push({ name, adapter: choice.adapter.name, ifname: choice.ifname });
    if (probed) this.probePort(name, choice);
    return name;
  }

  /**
   * A port of a local NI with several: probed as EVE probes them by default (a ping of the port's gateway, only on
   * ports of cost 0: gw_ping_max_cost 0; EVE's TCP connect to the controller for `uplink`/`freeuplink` has no
   * counterpart here).
   */
  private probePort(name: string, choice: EvePortChoice): void {
    const p = this.ports.findIndex((x) => x.name === name);
    const port = this.ports[p];
    if (!port || port.probe || choice.adapter.cost !== 0) return;
    port.probe = { kind: 'ping' };
    this.sources[`ports[${p}].probe`] = `systemAdapterList[${choice.adapterIndex}]`;
  }

  /** A VLAN's bond: a port of its own (no NI on it), so edgenet makes it; once, however many VLANs it carries. */
  private lowerPorts(l2: EveL2Port, to: string): void {
    for (const [field, source] of Object.entries(l2.sources)) this.sources[`${to}.${field}`] = source;
    for (const lower of l2.lowerPorts) {
      if (this.ports.some((x) => x.ifname === lower.port.ifname)) continue;
      const q = this.ports.length;
      const name = this.portNames.allocate(lower.label, `port:${lower.label}`);
      this.sources[`ports[${q}]`] = lower.source;
      this.sources[`ports[${q}].ifname`] = lower.port.ifnameSource;
      for (const [field, source] of Object.entries(lower.port.sources)) this.sources[`ports[${q}].${field}`] = source;
      this.ports.push({ name, ...l2Fields(lower.port) });
    }
  }

  private convertApps(): void {
    const appNames = new NameAllocator(NAME_LIMITS.app, 'app');
    const tags = appTapTags(this.eve.apps.map((a) => a.uuidandversion.uuid));
    const seen = new Map<string, number>();
    this.eve.apps.forEach((app, A) => {
      const uuid = app.uuidandversion.uuid;
      const again = seen.get(uuid);
      if (again !== undefined) {
        this.errors.push({ path: `apps[${A}].uuidandversion.uuid`, message: `duplicate app uuid "${uuid}" (also apps[${again}])` });
        return;
      }
      seen.set(uuid, A);
      const name = appNames.allocate(app.displayname, uuid);
      this.names.apps.push({ uuid, displayname: app.displayname, name });
      this.app(app, A, name, tags.get(uuid) ?? '', appNames);
    });
  }

  private app(app: EveApp, A: number, name: string, tag: string, appNames: NameAllocator): void {
    const a = this.apps.length;
    this.apps.push({ name, interfaces: [] });
    const interfaces: InterfaceInput[] = [];
    /** adapters of this app on an NI it already joined: an edgenet app of their own each (own name, MAC, address) */
    const extras: AppInput[] = [];
    const joined = new Map<string, number>();
    const subject = `app ${name}`;
    app.interfaces.forEach((adapter, K) => {
      const at = `apps[${A}].interfaces[${K}]`;
      const appUuid = app.uuidandversion.uuid;
      const refuseAdapter = (reason: string, ni?: EveNetworkName): void => {
        const error: EveObjectError = { kind: 'adapter', path: at, uuid: appUuid, name: ni ? `${name}/${ni.name}` : name, adapter: K, reason };
        this.objectErrors.push(error);
        if (ni?.type) {
          this.names.taps.push({
            app: name,
            appUuid,
            adapter: K,
            adapterName: adapter.name,
            network: ni.name,
            networkUuid: ni.uuid,
            ifname: this.tapOverride(app, K, adapter)?.ifname ?? tapName(tag, K),
            mac: (adapter.macAddress || eveAppMac(appUuid, ni.uuid, K, ni.type)).toLowerCase(),
            state: 'refused',
            reason,
          });
        }
      };
      if (!adapter.networkId) {
        refuseAdapter(`${at}.networkId: is required: the uuid of a network instance`);
        return;
      }
      const target = this.byUuid.get(adapter.networkId);
      if (!target) {
        refuseAdapter(`${at}.networkId: unknown network instance "${adapter.networkId}" (not in networkInstances)`);
        return;
      }
      const ni = target.entry;
      if (ni.state !== 'built') {
        const why = ni.state === 'inactive' ? 'is not active' : `was refused (${ni.reason ?? ''})`;
        this.find(ni.state === 'inactive' ? 'info' : 'warning', `${at}.networkId`, subject, 'networkId', `network instance ${ni.name} ${why}: adapter dropped`);
        if (ni.state === 'refused') refuseAdapter(`network instance ${ni.name} was refused`, ni);
        return;
      }
      const invalid = this.refusals.adapters.get(`${appUuid}/${K}`);
      if (invalid) {
        refuseAdapter(`${invalid.path}: ${invalid.reason}`, ni);
        return;
      }
      const before = joined.get(ni.name);
      let owner = name;
      let to: string;
      if (before !== undefined) {
        // edgenet joins an app to an NI once: the adapter becomes an app of its own, named after the adapter
        owner = appNames.allocate(`${app.displayname} ${adapter.name || `a${K}`}`, `${app.uuidandversion.uuid}/${K}`);
        this.find('info', `${at}.networkId`, subject, 'networkId', `a second adapter on network ${ni.name} (also interfaces[${before}]): served as app ${owner} (own MAC, address and DNS name)`);
        const e = this.apps.length + extras.length;
        to = `apps[${e}].interfaces[0]`;
        this.sources[`apps[${e}]`] = `apps[${A}]`;
        this.sources[`apps[${e}].name`] = `apps[${A}].interfaces[${K}].name`;
      } else {
        joined.set(ni.name, K);
        to = `apps[${a}].interfaces[${interfaces.length}]`;
      }
      this.sources[to] = at;
      this.sources[`${to}.network`] = `${at}.networkId`;
      const itf: InterfaceInput = { network: ni.name, tap: this.tapFor(app, K, adapter, tag, to, at) };
      if (adapter.addr) {
        if (ni.type === 'switch') {
          this.find('info', `${at}.addr`, subject, 'addr', `network ${ni.name} is a switch network instance (no IP services): addr ignored`);
        } else if (adapter.addr.includes(':')) {
          this.find('warning', `${at}.addr`, subject, 'addr', `IPv6 address ${adapter.addr} is not supported: ignored`);
        } else {
          itf.ip = adapter.addr;
          this.sources[`${to}.ip`] = `${at}.addr`;
        }
      }
      if (adapter.macAddress) {
        itf.mac = adapter.macAddress;
        this.sources[`${to}.mac`] = `${at}.macAddress`;
      } else {
        // as EVE derives it: from the app's and the NI's UUIDs and the adapter's index, never from names
        itf.mac = eveAppMac(app.uuidandversion.uuid, ni.uuid, K, ni.type ?? 'local');
        this.sources[`${to}.mac`] = at;
      }
      const vlan = eveAccessVlan(adapter, ni.type, at, (level, path, field, message) => this.find(level, path, subject, field, message));
      if (vlan !== undefined) {
        itf.accessVlanId = vlan;
        this.sources[`${to}.accessVlanId`] = `${at}.accessVlanId`;
      }
      const acl = this.adapterAcls(adapter, ni, at, to, subject);
      if ('refused' in acl) {
        refuseAdapter(acl.refused, ni);
        return;
      }
      if (acl.acls) itf.acls = acl.acls;
      this.adapterFindings(adapter, at, subject);
      if (owner === name) interfaces.push(itf);
      else extras.push({ name: owner, interfaces: [itf] });
      const tap: EveTap = {
        app: owner,
        appUuid: app.uuidandversion.uuid,
        adapter: K,
        adapterName: adapter.name,
        network: ni.name,
        networkUuid: ni.uuid,
        ifname: itf.tap ?? '',
        mac: (itf.mac ?? '').toLowerCase(),
      };
      if (itf.ip !== undefined) tap.ip = itf.ip;
      this.names.taps.push(tap);
    });
    this.sources[`apps[${a}]`] = `apps[${A}]`;
    this.sources[`apps[${a}].name`] = `apps[${A}].displayname`;
    this.apps[a] = { name, interfaces, ...(app.userData && { userData: app.userData }) };
    if (app.userData) this.sources[`apps[${a}].userData`] = `apps[${A}].userData`;
    this.apps.push(...extras);
  }

  private tapOverride(app: EveApp, K: number, adapter: EveAdapter): { key: string; ifname: string } | undefined {
    const keys = [`${app.uuidandversion.uuid}/${K}`, ...(adapter.name ? [`${app.uuidandversion.uuid}/${adapter.name}`] : [])];
    for (const key of keys) {
      const ifname = this.tapOverrides.get(key);
      if (ifname !== undefined) {
        this.usedOverrides.add(key);
        return { key, ifname };
      }
    }
    return undefined;
  }

  private tapFor(app: EveApp, K: number, adapter: EveAdapter, tag: string, to: string, at: string): string {
    const override = this.tapOverride(app, K, adapter);
    if (override) {
      this.sources[`${to}.tap`] = `tapNames[${JSON.stringify(override.key)}]`;
      return override.ifname;
    }
    this.sources[`${to}.tap`] = at;
    return tapName(tag, K);
  }

  /** The adapter's ACLs (src/eve/eve-acls.ts), with the NI's subnet and ports as context. */
  private adapterAcls(adapter: EveAdapter, ni: EveNetworkName, at: string, to: string, subject: string): ReturnType<typeof eveAcls> {
    const built = this.networks.find((n) => n.name === ni.name);
    const niPorts = built ? [...(built.port !== undefined ? [built.port] : []), ...((built as { ports?: string[] }).ports ?? [])] : [];
    return eveAcls(adapter.acls, at, to, {
      niType: ni.type === 'switch' ? 'switch' : 'local',
      ...(built?.type === 'local' && { subnet: built.subnet }),
      portOfLabel: (label) => {
        const adapters = this.eve.systemAdapterList.filter((a) => this.labels.hasLabel(a, label)).map((a) => a.name);
        return this.names.ports.find((p) => adapters.includes(p.adapter) && niPorts.includes(p.name))?.name;
      },
      find: (level, path, message) => this.find(level, path, subject, 'acls', message),
      source: (from, eve) => {
        this.sources[from] = eve;
      },
    });
  }

  private adapterFindings(adapter: EveAdapter, at: string, subject: string): void {
    if (adapter.allowToDiscover) this.find('warning', `${at}.allowToDiscover`, subject, 'allowToDiscover', 'discovering other apps is not implemented: ignored');
  }
}

/**
 * Converts an EVE controller's EdgeDevConfig (protobuf JSON: lowerCamelCase or proto field names, enums as names
 * or numbers) to an edgenet config. Throws ConfigError with paths into the EVE document for a malformed document;
 * everything edgenet does not do as EVE would is a finding. The config is not validated yet: see validateEveConfig.
 */
export function convertEveConfig(doc: unknown, opts: EveConvertOptions = {}): EveConversion {
  const eve = parseEdgeDevConfig(doc, opts.source);
  const c = new Converter(eve, opts);
  const config = c.convert();
  if (c.errors.length > 0) throw new ConfigError(c.errors, opts.source);
  return { config, findings: c.findings, names: c.names, sources: c.sources, errors: c.objectErrors };
}

/** The EVE path an edgenet config path came from (longest registered prefix); the path itself when unknown. */
export function evePathOf(path: string, sources: Readonly<Record<string, string>>): string {
  let best: string | undefined;
  for (const key of Object.keys(sources)) {
    const fits = path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`);
    if (fits && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? path : `${sources[best]}${path.slice(best.length)}`;
}

/** Rewrites a ConfigError about the converted config so its paths point into the EVE document. */
export function toEveConfigError(err: ConfigError, sources: Readonly<Record<string, string>>): ConfigError {
  return new ConfigError(
    err.issues.map((i) => ({ path: evePathOf(i.path, sources), message: i.message })),
    err.source,
  );
}

/** The native port fields of a VLAN or bond port. */
function l2Fields(l2: Omit<EveL2Port, 'lowerPorts' | 'notes' | 'sources'>): Pick<PortInput, 'ifname' | 'vlan' | 'bond'> {
  return { ifname: l2.ifname, ...(l2.vlan && { vlan: { ...l2.vlan } }), ...(l2.bond && { bond: { ...l2.bond, members: [...l2.bond.members] } }) };
}
