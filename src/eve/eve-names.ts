// Names edgenet gives to an EVE document's objects: short, valid, and derived only from the document.
import { createHash } from 'node:crypto';

/** Limits of edgenet's names: NIs and ports end up in kernel names, apps in DNS labels. */
export const NAME_LIMITS = { network: 15, port: 15, app: 63 } as const;

function hashHex(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** Lowercase, runs of anything outside [a-z0-9] become "-", no "-" at either end. */
export function slug(display: string): string {
  return display
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function fit(base: string, max: number, suffix: string): string {
  const room = max - suffix.length - 1;
  const head = base.slice(0, room).replace(/-+$/, '');
  return head ? `${head}-${suffix}` : suffix;
}

/**
 * Hands out names in document order: the first object keeps the plain slug of its display name; a name that is too
 * long, empty or already taken gets a short hash of the object's UUID instead of its tail.
 */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(
    private readonly max: number,
    /** used when the display name has no usable character */
    private readonly fallback: string,
  ) {}

  /** Claims a name as is (a name edgenet already uses). */
  reserve(name: string): void {
    this.taken.add(name);
  }

  allocate(display: string, uuid: string): string {
    const base = slug(display) || this.fallback;
    const candidates = base.length <= this.max && slug(display) !== '' ? [base] : [];
    for (const chars of [4, 6, 8, 12]) candidates.push(fit(base, this.max, hashHex(uuid, chars)));
    for (const name of candidates) {
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
    // Only reachable when the same UUID and display name repeat: counting keeps names unique and deterministic.
    for (let n = 2; ; n++) {
      const name = fit(base, this.max, `${hashHex(uuid, 4)}${n}`);
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
  }
}

/** `nbu` (EVE's own prefix for app interfaces) + 8 hex digits naming the app + `x` + the adapter's index. */
export const TAP_PREFIX = 'nbu';

/** The 8 hex digits of an app in its tap names: the head of its UUID when that is hex, else a hash of it. */
export function appTapTag(uuid: string): string {
  const hex = uuid.toLowerCase().replace(/-/g, '');
  return /^[0-9a-f]{8}/.test(hex) ? hex.slice(0, 8) : hashHex(`app:${uuid}`, 8);
}

/** Tags for every app, so that two apps whose UUIDs share their first 8 hex digits both fall back to a hash. */
export function appTapTags(uuids: readonly string[]): Map<string, string> {
  const byTag = new Map<string, string[]>();
  for (const uuid of uuids) {
    const tag = appTapTag(uuid);
    byTag.set(tag, [...(byTag.get(tag) ?? []), uuid]);
  }
  const tags = new Map<string, string>();
  for (const [tag, owners] of byTag) {
    const unique = new Set(owners);
    for (const uuid of unique) tags.set(uuid, unique.size === 1 ? tag : hashHex(`app:${uuid}`, 8));
  }
  return tags;
}

/** Host-side name of an app adapter's interface, which the hypervisor creates: e.g. `nbu6f1c2a9bx0` (≤ 15 chars). */
export function tapName(tag: string, adapterIndex: number): string {
  return `${TAP_PREFIX}${tag}x${adapterIndex}`;
}
