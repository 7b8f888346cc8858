// MACs of app adapters as EVE makes them (pillar cmd/zedrouter/ipam.go generateAppMac, MACGeneratorClusterDeterministic):
// sha256 over the app's UUID bytes, the NI's UUID bytes and [adapterNum, 0] with adapterNum = adapter index + 1.
// Switch NIs: 02:16:3e + the first 3 hash bytes (an external DHCP server sees the same MAC across upgrades);
// local NIs: the first 6 hash bytes, unicast and locally administered. A renamed app keeps its MAC (only UUIDs
// go in), and two devices on one L2 segment do not collide (the app UUID is global).
import { createHash } from 'node:crypto';

/** The 16 bytes of a UUID in its canonical text form; other strings (not a UUID) hash as their UTF-8 text. */
export function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.from(uuid, 'utf8');
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** EVE's MAC for adapter `adapterIndex` (0-based, as in `apps[].interfaces[]`) of an app on an NI. */
export function eveAppMac(appUuid: string, niUuid: string, adapterIndex: number, niType: 'local' | 'switch'): string {
  const h = createHash('sha256')
    .update(uuidBytes(appUuid))
    .update(uuidBytes(niUuid))
    .update(Buffer.from([(adapterIndex + 1) & 0xff, 0]))
    .digest();
  const bytes = niType === 'switch' ? [0x02, 0x16, 0x3e, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0] : [...h.subarray(0, 6)];
  if (niType === 'local') bytes[0] = ((bytes[0] ?? 0) & ~1 & 0xff) | 2;
  return bytes.map(hex2).join(':');
}
