// The daemon's V8 heap sizing, set by `edgenet run` before the daemon's modules load (README "Memory"). Measured
// with bench/memory.ts (1000 taps): V8 grows the young generation to two 16 MiB semi-spaces while the daemon
// loads and keeps them (32 MiB of an idle daemon's RSS), and after a converge the old generation holds its
// garbage (2–3× what survives a GC) because the first old-generation limit is far above it. Both are V8 flags that
// take effect at run time (the size limits, --max-semi-space-size and --max-old-space-size, only count at start-up,
// which would mean re-executing Node):
//   --semi-space-growth-factor=1  the young generation stays at the size it has when `run` starts (2 MiB semi-spaces
//                                 once the CLI has loaded: as --max-semi-space-size=2)
//   --heap-growing-percent=50     after a full GC the old generation may grow to 1.5× what survived (V8 picks
//                                 1.1–4× by GC speed; 4× on a machine with memory to spare), with no cap. 25 for a
//                                 while on 2026-12-02 (10 000 taps 270 → 241–262 MiB 2 s after the converge), which
//                                 made a push at 10 000 apps wait on full GCs: +1 app 17–19 ms with 50, 42–55 ms with
//                                 25 (bench/push-fakes.ts with the flags); 1000 taps alike; 35: 21 ms, 273 MiB
// $EDGENET_DAEMON_V8_FLAGS replaces them (space- or comma-separated; empty: none), for a device to tune or undo.
import { setFlagsFromString } from 'node:v8';

export const DAEMON_V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'];

/** The flags `edgenet run` sets: $EDGENET_DAEMON_V8_FLAGS when set, else DAEMON_V8_FLAGS. */
export function daemonV8Flags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const raw = env.EDGENET_DAEMON_V8_FLAGS;
  if (raw === undefined) return DAEMON_V8_FLAGS;
  const flags = raw.split(/[\s,]+/).filter(Boolean);
  for (const f of flags) {
    if (!/^--[a-z0-9][a-z0-9_-]*(=\S+)?$/i.test(f)) throw new Error(`EDGENET_DAEMON_V8_FLAGS: "${f}" is not a V8 flag (--name or --name=value)`);
  }
  return flags;
}

/** Sets them in this process's V8; returns them. */
export function applyDaemonV8Flags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const flags = daemonV8Flags(env);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}
