// The metadata service's answers and its lookup of the app behind a source address (no kernel).
import { describe, expect, it } from 'vitest';
import { lookupApp, metadataAnswer, startMetadataService, userDataOf } from '../../src/services/metadata-service.ts';
import { validateConfig } from '../../src/config/config-load.ts';
import { issuesOf } from '../helpers/config-issues.ts';

const status = {
  networks: [{ name: 'lan', type: 'local' }, { name: 'sw', type: 'switch' }],
  endpoints: [{ app: 'a', network: 'lan', ip: '10.1.0.10' }, { app: 'b', network: 'lan', ip: '10.1.0.11' }, { app: 'c', network: 'sw', ip: '10.9.0.5' }],
  eve: { names: { taps: [{ app: 'a', appUuid: 'uuid-a' }] } },
};
const data = userDataOf({ apps: [{ name: 'a', userData: Buffer.from('#cloud-config\nA\n').toString('base64') }, { name: 'b' }] });

describe('metadata service', () => {
  it('finds the app behind a source address on a local NI only', () => {
    expect(lookupApp(status, data, '10.1.0.10')).toMatchObject({ name: 'a', uuid: 'uuid-a', network: 'lan', userData: data.get('a') });
    expect(lookupApp(status, data, '10.1.0.11')).toEqual({ name: 'b', network: 'lan', ip: '10.1.0.11' });
    expect(lookupApp(status, data, '10.9.0.5')).toBeUndefined();
    expect(lookupApp(status, data, '10.1.0.99')).toBeUndefined();
  });

  it('serves user data decoded, meta_data.json, EVE network.json; 404 elsewhere, 403 to strangers', () => {
    const a = lookupApp(status, data, '10.1.0.10');
    expect(metadataAnswer('/openstack/latest/user_data', a)).toMatchObject({ status: 200, body: Buffer.from('#cloud-config\nA\n') });
    expect(JSON.parse(String(metadataAnswer('/openstack/latest/meta_data.json', a).body))).toEqual({ uuid: 'uuid-a', name: 'a', hostname: 'a', 'local-hostname': 'a' });
    expect(JSON.parse(String(metadataAnswer('/eve/v1/network.json', a).body))).toMatchObject({ 'caller-ip': '10.1.0.10', hostname: 'uuid-a' });
    expect(metadataAnswer('/openstack/latest/user_data', lookupApp(status, data, '10.1.0.11')).status).toBe(404);
    expect(metadataAnswer('/latest/meta-data/', a).status).toBe(404);
    expect(metadataAnswer('/openstack/latest/user_data', undefined).status).toBe(403);
  });

  it('answers over HTTP by source address (loopback listener, port 0)', async () => {
    const svc = await startMetadataService({ address: '127.0.0.1', port: 0, lookup: (from) => (from === '127.0.0.1' ? { name: 'me', network: 'lan', ip: from, userData: Buffer.from('hi').toString('base64') } : undefined) });
    try {
      const r = await fetch(`http://127.0.0.1:${svc.port}/openstack/latest/user_data`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('hi');
    } finally {
      await svc.close();
    }
  });

  it('refuses user data that is not base64, naming the path', () => {
    const issues = issuesOf(() => validateConfig({ apps: [{ name: 'a', userData: 'not base64!' }] }));
    expect(issues).toEqual([{ path: 'apps[0].userData', message: 'must be base64 (plain, not encrypted), got "not base64!"' }]);
  });
});
