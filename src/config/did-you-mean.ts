// "unknown field "prots" (did you mean "ports"?)": the fields the schema knows at an issue's path, read from the zod
// schema itself (so a new field is suggested without a list to keep), and the closest one by edit distance.
import leven from 'leven';

interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
  options?: readonly unknown[];
  getter?: () => unknown;
  valueType?: unknown;
  left?: unknown;
  right?: unknown;
  items?: readonly unknown[];
}

function defOf(schema: unknown): SchemaDef | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const zod = (schema as { _zod?: { def?: SchemaDef } })._zod;
  return zod?.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);

/** The keys of every object schema reachable at `path` (several for a union: all of its options'). */
export function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): Set<string> {
  const out = new Set<string>();
  const walk = (s: unknown, i: number, depth: number): void => {
    const def = defOf(s);
    if (!def || depth > 64) return;
    const type = def.type ?? '';
    if (WRAPPERS.has(type)) return walk(def.innerType, i, depth + 1);
    if (type === 'pipe') return walk(def.in, i, depth + 1);
    if (type === 'lazy' && def.getter) return walk(def.getter(), i, depth + 1);
    if (type === 'union') {
      for (const option of def.options ?? []) walk(option, i, depth + 1);
      return;
    }
    if (type === 'intersection') {
      walk(def.left, i, depth + 1);
      walk(def.right, i, depth + 1);
      return;
    }
    const key = path[i];
    if (type === 'object' && def.shape) {
      if (i === path.length) for (const k of Object.keys(def.shape)) out.add(k);
      else if (typeof key === 'string') walk(def.shape[key], i + 1, depth + 1);
      return;
    }
    if (i === path.length) return;
    if (type === 'array' && typeof key === 'number') return walk(def.element, i + 1, depth + 1);
    if (type === 'tuple' && typeof key === 'number') return walk(def.items?.[key], i + 1, depth + 1);
    if (type === 'record') return walk(def.valueType, i + 1, depth + 1);
  };
  walk(schema, 0, 0);
  return out;
}

/** The known field closest to `key`, when it is close enough to be a typo (or differs only in case). */
export function closestField(key: string, known: Iterable<string>): string | undefined {
  // one edit for short names, two (a swapped pair) from four letters, a third of the name for long ones
  const limit = Math.max(key.length <= 3 ? 1 : 2, Math.floor(key.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    if (name === key) continue;
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : leven(key, name);
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
