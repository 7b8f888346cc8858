import { describe, expect, it } from 'vitest';
import { checkPortAddresses, crossCheck, isReservedIfname } from '../../src/config/config-checks.ts';
import { loadConfigFile, parseConfigText } from '../../src/config/config-load.ts';

describe('crossCheck', () => {
  it('finds nothing wrong with the DESIGN §3 example', async () => {
    const config = await loadConfigFile(new URL('../fixtures/config/design-example.yaml', import.meta.url).pathname);
    expect(crossCheck(config)).toEqual([]);
  });

  it.each([
    ['enbr-lan', true],
    ['enbr0123456789a', true],
    ['env0123456789ab', true],
    ['enp3s0', false],
    ['eno1', false],
    ['ens18', false],
    ['env0', false],
    ['vif7', false],
  ] as const)('reserves only edgenet\'s own name shapes: %s → %s', (ifname, reserved) => {
    expect(isReservedIfname(ifname)).toBe(reserved);
  });
});

describe('checkPortAddresses', () => {
  const config = parseConfigText(`
ports:
  - { name: uplink, ifname: eth1 }
  - { name: fieldbus, ifname: eth2 }
networks:
  - { name: lan, type: local, port: uplink, subnet: 192.168.1.0/24 }
  - { name: plant, type: switch, port: fieldbus }
`);

  it('refuses a subnet overlapping an address on another port too (that port would lose its route)', () => {
    const issues = checkPortAddresses(config, (ifname) => (ifname === 'eth2' ? [{ address: '192.168.0.10', prefixlen: 16 }] : []));
    expect(issues).toEqual([
      {
        path: 'networks[0].subnet',
        message: 'subnet 192.168.1.0/24 overlaps address 192.168.0.10/16 already on port "fieldbus" (eth2): the device would lose its uplink',
      },
    ]);
  });

  it('ignores IPv6 and non-overlapping addresses', () => {
    const addresses = [{ address: 'fe80::1', prefixlen: 64 }, { address: '192.168.2.1', prefixlen: 24 }, { address: '10.0.0.1', prefixlen: 8 }];
    expect(checkPortAddresses(config, () => addresses)).toEqual([]);
  });

  it('also catches a port address inside a larger NI subnet', () => {
    expect(checkPortAddresses(config, (i) => (i === 'eth1' ? [{ address: '192.168.1.77', prefixlen: 32 }] : []))).toHaveLength(1);
  });
});
