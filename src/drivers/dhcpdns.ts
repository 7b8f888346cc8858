import type { Observable } from 'rxjs';
import type { WriteCounter } from './write-counter.ts';

export interface Reservation {
  /** the app's name: DNS names `<app>` and `<app>.<ni>` */
  name: string;
  mac: string;
  ip: string;
}

/** What dnsmasq serves on one local network instance. */
export interface DhcpDnsSpec {
  ni: string;
  bridge: string;
  subnet: string;
  gateway: string;
  prefixlen: number;
  range: { start: string; end: string };
  mtu?: number;
  forwarders: string[];
  staticHosts: { name: string; ip: string }[];
  reservations: Reservation[];
}

export type DhcpDnsEvent =
  | { type: 'started'; ni: string; pid: number }
  | { type: 'exited'; ni: string; pid: number; code: number | null; signal: string | null };

/**
 * One supervised dnsmasq per local network instance. Config, hosts, dhcp-hosts, lease and pid files live in
 * `<stateDir>/<ni>/`. Host/reservation changes reload by SIGHUP; other changes restart. An unexpected exit is
 * reported on `events$` and followed by a restart with backoff.
 */
export interface DhcpDns {
  readonly writes: WriteCounter;
  readonly events$: Observable<DhcpDnsEvent>;
  /** Converge: write files, start if not running, SIGHUP if only hosts changed, restart if the config changed. */
  ensure(spec: DhcpDnsSpec, signal?: AbortSignal): Promise<{ pid: number }>;
  /** Stop the NI's dnsmasq and remove its files. Absent is success. */
  remove(ni: string): Promise<void>;
  /** Evict a lease (app removed): so a redeployed app gets its reservation back. */
  evictLease(ni: string, mac: string): Promise<void>;
  pid(ni: string): number | undefined;
  leases(ni: string): Promise<{ mac: string; ip: string; hostname?: string; expires: number }[]>;
  /** Stop supervising (processes keep running: the data plane stays). */
  close(): Promise<void>;
}
