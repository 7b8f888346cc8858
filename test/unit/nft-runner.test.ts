// How nft's arguments map onto a libnftables call (src/drivers/nft-runner.ts): the flags edgenet uses, `-f -` with
// its text, or a command's words; anything else runs the nft command instead.
import { describe, expect, it } from 'vitest';
import { createNftRunner, libraryCall } from '../../src/drivers/nft-runner.ts';

const JSON_FLAG = 1 << 4;
const ECHO = 1 << 5;
const HANDLE = 1 << 3;

describe('nft arguments as a libnftables call', () => {
  it.each([
    { args: ['-j', '-f', '-'], input: '{"nftables":[]}', want: { flags: JSON_FLAG, buffer: '{"nftables":[]}' } },
    { args: ['-j', '-e', '-a', '-f', '-'], input: '{}', want: { flags: JSON_FLAG | ECHO | HANDLE, buffer: '{}' } },
    { args: ['-f', '-'], input: 'add table inet t\nadd chain inet t c\n', want: { flags: 0, buffer: 'add table inet t\nadd chain inet t c\n' } },
    { args: ['-j', 'list', 'table', 'inet', 'edgenet'], input: undefined, want: { flags: JSON_FLAG, buffer: 'list table inet edgenet' } },
    { args: ['delete', 'table', 'bridge', 'edgenet'], input: undefined, want: { flags: 0, buffer: 'delete table bridge edgenet' } },
  ])('$args', ({ args, input, want }) => {
    expect(libraryCall(args, input)).toEqual(want);
  });

  it.each([
    { why: 'an option it does not map', args: ['-n', 'list', 'ruleset'], input: undefined },
    { why: 'a file other than stdin', args: ['-f', '/etc/nftables.conf'], input: undefined },
    { why: '-f - without its text', args: ['-f', '-'], input: undefined },
    { why: 'no command at all', args: ['-j'], input: undefined },
  ])('leaves $why to the command', ({ args, input }) => {
    expect(libraryCall(args, input)).toBeUndefined();
  });

  it('a command prefix or EDGENET_NFT=command runs the nft command', () => {
    expect(createNftRunner({ exec: ['ip', 'netns', 'exec', 'x'] }).mode()).toBe('command');
    const before = process.env.EDGENET_NFT;
    process.env.EDGENET_NFT = 'command';
    try {
      expect(createNftRunner().mode()).toBe('command');
    } finally {
      if (before === undefined) delete process.env.EDGENET_NFT;
      else process.env.EDGENET_NFT = before;
    }
  });
});
