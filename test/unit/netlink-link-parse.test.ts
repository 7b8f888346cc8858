// parseLinkFields reads what the netlink package's full parse reads, for the fields edgenet keeps (the kernel test
// links-netlink.test.ts compares the two on every link of a real dump).
import { AttrStream, ifla, rt } from 'netlink';
import type { StreamData } from 'netlink';
import { describe, expect, it } from 'vitest';
import { parseLinkFields, quietEventSocket } from '../../src/drivers/netlink-link-parse.ts';
import { viaPackage } from '../helpers/link-parse-reference.ts';

function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

function message(msg: rt.LinkMessage): Buffer {
  const s = new AttrStream();
  rt.formatLinkMessage(msg, s);
  return Buffer.concat(s.bufs);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

describe('parseLinkFields', () => {
  const cases: [string, rt.LinkMessage][] = [
    ['a bare header', { kind: 'link', data: { index: 7 }, attrs: {} }],
    [
      'a veth with its peer in another namespace',
      {
        kind: 'link',
        data: { index: 42, flags: { up: true, lowerUp: true, broadcast: true, multicast: true } },
        attrs: {
          ifname: 'enve1',
          mtu: 1400,
          address: Buffer.from([0x02, 0, 0, 0xaa, 0xbb, 0x01]),
          master: 5,
          operstate: 6,
          carrier: 1,
          ifalias: 'edgenet:ep:web/lan',
          link: u32(3),
          linkNetnsid: 0,
          linkinfo: encode(ifla.formatInfo({ kind: 'veth' })),
          txqlen: 1000,
          group: 0,
        },
      },
    ],
    ['a bridge, down, no carrier', { kind: 'link', data: { index: 5, flags: {} }, attrs: { ifname: 'enbr0', carrier: 0, operstate: 2, linkinfo: encode(ifla.formatInfo({ kind: 'bridge' })) } }],
    ['an empty alias, a negative netnsid', { kind: 'link', data: { index: 9 }, attrs: { ifname: 'x', ifalias: '', linkNetnsid: -1 } }],
    [
      'an AF_BRIDGE port-state event',
      { kind: 'link', data: { family: 7, index: 12, flags: { up: true } }, attrs: { ifname: 'vt0001', master: 5, protinfo: new Map([[1, Buffer.from([3])], [5, Buffer.from([1])]]) } },
    ],
  ];

  it.each(cases)('%s: the same fields as the package reads', (_name, msg) => {
    const buf = message(msg);
    expect(parseLinkFields(buf)).toEqual(viaPackage(buf));
  });

  it('refuses a message shorter than an ifinfomsg, and an attribute running past the end', () => {
    expect(() => parseLinkFields(Buffer.alloc(8))).toThrow(/link message of 8 bytes/);
    const buf = message({ kind: 'link', data: { index: 1 }, attrs: { ifname: 'eth0' } });
    expect(() => parseLinkFields(buf.subarray(0, buf.length - 2))).toThrow(/invalid attribute length/);
  });

  it('quietEventSocket drops the package parse of every event, and nothing else', () => {
    let removed: string | undefined;
    const nl = { socket: { removeAllListeners: (ev: string) => void (removed = ev) } };
    expect(quietEventSocket(nl as unknown as Parameters<typeof quietEventSocket>[0])).toBe(nl);
    expect(removed).toBe('message');
  });
});
