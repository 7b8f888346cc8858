// EDGENET_NETLINK_RCVBUF: the event socket's receive buffer, for reproducing a stock kernel's storms.
import { describe, expect, it } from 'vitest';
import { eventRecvBufferFromEnv } from '../../src/drivers/links-netlink.ts';

describe('EDGENET_NETLINK_RCVBUF', () => {
  it('is unset by default', () => {
    expect(eventRecvBufferFromEnv({})).toBeUndefined();
    expect(eventRecvBufferFromEnv({ EDGENET_NETLINK_RCVBUF: '' })).toBeUndefined();
  });

  it('takes a byte count', () => {
    expect(eventRecvBufferFromEnv({ EDGENET_NETLINK_RCVBUF: '212992' })).toBe(212992);
  });

  it.each(['abc', '1.5', '100', '-4096'])('refuses %j with the rule', (v) => {
    expect(() => eventRecvBufferFromEnv({ EDGENET_NETLINK_RCVBUF: v })).toThrow(/EDGENET_NETLINK_RCVBUF: must be an integer of at least 4096 bytes/);
  });
});
