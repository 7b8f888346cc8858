// The Host header check of the loopback-only servers (inspector, live view): a DNS-rebound name is not loopback.

/** Host names a browser uses for this machine's loopback. */
export const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host name of a Host header (`127.0.0.1:8788` → `127.0.0.1`, `[::1]:1` → `[::1]`); undefined if unparseable. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return undefined;
  }
}
