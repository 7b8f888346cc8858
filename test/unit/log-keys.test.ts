// Log lines parse as JSON with unique keys (issue 19, acceptance 5): the daemon's logger merges a child's bindings
// with each line's fields and keeps pino's own keys to itself; a whole daemon run on the fake drivers is checked.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createDaemonLogger } from '../../src/daemon/daemon-logger.ts';
import { runDaemon } from '../../src/daemon/daemon.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import { createFakeDrivers } from '../../src/testing.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { createApiClient } from '../../src/api/client.ts';
import { duplicateKeys, objectKeys } from '../helpers/log-lines.ts';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  let rest = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
      done();
    },
  });
  return { lines, stream };
}

describe('duplicateKeys', () => {
  it('finds a key twice in one object, at any depth, and nothing in a clean line', () => {
    expect(duplicateKeys('{"a":1,"b":{"c":1,"c":2},"a":"x"}')).toEqual(['a', 'c']);
    expect(duplicateKeys('{"level":30,"msg":"a \\" } ,","list":[{"k":1},{"k":2}]}')).toEqual([]);
    expect(objectKeys('{"a":[1,{"b":null}],"c":true}')).toEqual([['a', 'c'], ['b']]);
    expect(() => objectKeys('{"a":1,}')).toThrow();
  });
});

describe('daemon log lines', () => {
  it('a child binding and a field of the same name give one key (the field wins); pino keys stay pino\'s', () => {
    const { lines, stream } = capture();
    const log = createDaemonLogger('debug', stream);
    const child = log.child({ ni: 'lan', driver: 'dnsmasq' });
    child.info({ ni: 'other', pid: 4242, name: 'web/lan' }, 'hello');
    child.child({ component: 'x' }).debug('plain');
    log.child({ level: 'x' }).warn({ hostname: 'h', time: 1, msg: 'm' }, 'reserved');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(first).toMatchObject({ ni: 'other', driver: 'dnsmasq', field_pid: 4242, pid: process.pid, name: 'web/lan', msg: 'hello' });
    expect(JSON.parse(lines[2] ?? '{}')).toMatchObject({ field_level: 'x', field_hostname: 'h', field_time: 1, field_msg: 'm', msg: 'reserved', level: 40 });
  });

  it('below the level nothing is written', () => {
    const { lines, stream } = capture();
    const log = createDaemonLogger('info', stream);
    log.debug({ a: 1 }, 'dropped');
    expect(log.isLevelEnabled?.('debug')).toBe(false);
    expect(lines).toEqual([]);
  });

  describe('a daemon run on the fake drivers at debug', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'edgenet-logkeys-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('writes only lines with unique keys (transitions, applies, API pushes)', async () => {
      const { lines, stream } = capture();
      const file = join(dir, 'config.yaml');
      await writeFile(
        file,
        [
          'ports: [{ name: uplink, ifname: eth1 }]',
          'networks:',
          '  - { name: lan, type: local, subnet: 10.50.0.0/24, port: uplink }',
          'apps:',
          '  - { name: web, interfaces: [{ network: lan, netns: /run/netns/web }] }',
          '',
        ].join('\n'),
      );
      const drivers = createFakeDrivers();
      drivers.links.addExternal('eth1');
      drivers.links.addNetns('/run/netns/web');
      const stop = new AbortController();
      let socket = '';
      const daemon = runDaemon(
        { configPath: file, stateDir: join(dir, 'state'), allowApiPush: true, logger: createDaemonLogger('debug', stream), signal: stop.signal, onReady: (i) => (socket = i.socketPath) },
        { createEdgenet: (o) => createEdgenet({ ...o, drivers }), loadConfigFile },
      );
      const end = Date.now() + 10_000;
      while (socket === '' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(socket, lines.join('\n')).not.toBe('');
      await createApiClient(socket).putConfig('networks: [{ name: plant, type: switch }]\n');
      stop.abort();
      expect(await daemon).toBe(0);
      expect(lines.some((l) => l.includes('"kind":"network"'))).toBe(true);
      expect(lines.some((l) => l.includes('config applied via API'))).toBe(true);
      for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    });
  });
});
