import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NiSpec } from '../../machines/specs.ts';
import { parseResolvConf, PortResolvFiles, upstreamOf } from '../../src/services/port-dns.ts';

const ni = (over: Partial<NiSpec>): NiSpec => ({ name: 'lan', type: 'local', bridge: 'enbr-lan', dns: { forwarders: [], hosts: [] }, uplinks: [], ...over });

describe('upstream DNS of a local NI', () => {
  it('pins each port\'s servers to the port; static ports[].dns wins over what was learned', () => {
    const u = upstreamOf(
      ni({ uplinks: [{ port: 'a', ifname: 'eth1', dns: ['192.168.77.2'] }, { port: 'b', ifname: 'eth2', dns: [] }] }),
      (port) => (port === 'b' ? ['10.9.0.1'] : ['9.9.9.9']),
    );
    expect(u).toMatchObject({ from: 'ports', upstream: [{ ip: '192.168.77.2', ifname: 'eth1' }, { ip: '10.9.0.1', ifname: 'eth2' }] });
  });

  it('explicit forwarders override; no port or no servers: none, and says why', () => {
    expect(upstreamOf(ni({ dns: { forwarders: ['1.1.1.1'], hosts: [] }, uplinks: [{ port: 'a', ifname: 'eth1', dns: ['192.168.77.2'] }] }), () => [])).toMatchObject({ from: 'forwarders', upstream: [] });
    expect(upstreamOf(ni({}), () => []).summary).toBe('none (no port): app names and static entries only');
    expect(upstreamOf(ni({ uplinks: [{ port: 'a', ifname: 'eth1', dns: [] }] }), () => []).summary).toBe('none (port a has no DNS servers): app names and static entries only');
  });

  it('reads IPv4 nameserver lines of a resolv.conf', () => {
    expect(parseResolvConf('# dhcp\nsearch example\nnameserver 192.168.77.2\nnameserver fe80::1\n nameserver 10.0.0.1 \nnameserver 192.168.77.2\nnameserver bad\n')).toEqual(['192.168.77.2', '10.0.0.1']);
  });
});

describe('PortResolvFiles', () => {
  let dir: string | undefined;
  let files: PortResolvFiles | undefined;
  afterEach(async () => {
    await files?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads a port\'s file at once, and reports a change of its servers for that port only', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-resolv-'));
    const a = join(dir, 'a.conf');
    const b = join(dir, 'b.conf');
    await writeFile(a, 'nameserver 10.0.0.1\n');
    await writeFile(b, 'nameserver 10.0.0.2\n');
    const changed: string[] = [];
    files = new PortResolvFiles((port) => changed.push(port), undefined, 10);
    files.setFiles(new Map([['up0', a], ['up1', b], ['up2', join(dir, 'absent.conf')]]));
    expect([files.serversOf('up0'), files.serversOf('up1'), files.serversOf('up2')]).toEqual([['10.0.0.1'], ['10.0.0.2'], []]);
    await new Promise((r) => setTimeout(r, 200));
    // rewritten the way DHCP clients do it (temp + rename)
    await writeFile(`${a}.tmp`, 'nameserver 10.0.0.9\n');
    await rename(`${a}.tmp`, a);
    await expect.poll(() => files?.serversOf('up0'), { timeout: 5000 }).toEqual(['10.0.0.9']);
    expect(changed).toEqual(['up0']);
    // a file that appears later is learned too
    await writeFile(join(dir, 'absent.conf'), 'nameserver 10.0.0.3\n');
    await expect.poll(() => files?.serversOf('up2'), { timeout: 5000 }).toEqual(['10.0.0.3']);
    expect(changed).toEqual(['up0', 'up2']);
  });
});
