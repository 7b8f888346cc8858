// `edgenet run`'s V8 heap flags (src/daemon/heap-flags.ts) and $EDGENET_DAEMON_V8_FLAGS.
import { describe, expect, it } from 'vitest';
import { DAEMON_V8_FLAGS, daemonV8Flags } from '../../src/daemon/heap-flags.ts';

describe('daemon V8 flags', () => {
  it('are the measured defaults unless EDGENET_DAEMON_V8_FLAGS is set', () => {
    expect(daemonV8Flags({})).toEqual(DAEMON_V8_FLAGS);
    expect(DAEMON_V8_FLAGS).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=50']);
  });

  it.each([
    ['', []],
    ['--heap-growing-percent=100', ['--heap-growing-percent=100']],
    ['--semi-space-growth-factor=1, --heap-growing-percent=30', ['--semi-space-growth-factor=1', '--heap-growing-percent=30']],
    ['  --trace-gc  ', ['--trace-gc']],
  ])('EDGENET_DAEMON_V8_FLAGS=%j sets %j', (raw, flags) => {
    expect(daemonV8Flags({ EDGENET_DAEMON_V8_FLAGS: raw })).toEqual(flags);
  });

  it.each(['heap-growing-percent=50', '-x', '--a b=c=', '--=1'])('refuses %j, naming the variable and the rule', (raw) => {
    expect(() => daemonV8Flags({ EDGENET_DAEMON_V8_FLAGS: raw })).toThrow(/EDGENET_DAEMON_V8_FLAGS: ".*" is not a V8 flag \(--name or --name=value\)/);
  });
});
