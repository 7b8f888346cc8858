// Reachability probes of the path behind a port (ports[].probe): a ping of its gateway, or a TCP connect to a
// configured host:port, each bound to the port's L3 interface (SO_BINDTODEVICE), so a probe tests that port's
// path whatever the main table prefers. Probes write nothing to the kernel.

/** One probe's result: `detail` says what answered or what failed, in words. */
export interface ProbeOutcome {
  ok: boolean;
  detail: string;
}

export interface ProbeDriver {
  /** One echo request to `target` out of `ifname`, answered within `timeoutMs`. */
  ping(ifname: string, target: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome>;
  /** A TCP handshake with `host:port` out of `ifname` within `timeoutMs` (closed at once; nothing is sent). */
  tcp(ifname: string, host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome>;
}
