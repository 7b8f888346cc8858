// Anti-spoofing transactions in nft's own syntax: exactly the commands firewall-acl.ts renders for an app without
// ACLs, and nothing else (ACLs, NAT rules, base chains, unexpected values stay JSON).
import { describe, expect, it } from 'vitest';
import { antiSpoofText } from '../../src/drivers/firewall-acl-text.ts';
import { endpointNames, endpointTag, ensureCommands, removalCommands, type EndpointRules } from '../../src/drivers/firewall-acl.ts';

const none = { inetChains: [], inetCounters: [], inetSets: [], elements: [], natRules: [], bridgeChain: false, bridgeCounter: false };
const ep: EndpointRules = {
  key: 'web/lan',
  app: 'web',
  network: 'lan',
  bridge: 'enbr-lan',
  hostIfname: 'env0123456789ab',
  mac: '02:fe:e3:67:42:0c',
  ip: '10.50.0.10',
  gateway: '10.50.0.1',
  subnet: '10.50.0.0/24',
  ports: [],
  antiSpoof: true,
  exempt: ['10.60.0.0/24'],
  staticHosts: [],
};

describe('anti-spoofing in nft syntax', () => {
  it('renders a new app\'s anti-spoofing chain, counter, rules and map element', () => {
    const h = endpointNames(ep.key).spoof;
    const text = antiSpoofText(ensureCommands(ep, none, 'abcdef0123456789', false));
    expect(text).toBe(
      [
        `add counter bridge edgenet ${h}`,
        `add chain bridge edgenet ${h}`,
        `add rule bridge edgenet ${h} ether saddr != 02:fe:e3:67:42:0c counter name ${h} drop comment "edgenet ep=${endpointTag(ep.key)} spec=abcdef0123456789"`,
        `add rule bridge edgenet ${h} ether type arp arp saddr ether != 02:fe:e3:67:42:0c counter name ${h} drop`,
        `add rule bridge edgenet ${h} ether type arp arp saddr ip != { 10.50.0.10, 0.0.0.0 } counter name ${h} drop`,
        `add rule bridge edgenet ${h} ether type ip ip saddr != { 10.50.0.10, 0.0.0.0, 10.60.0.0/24 } counter name ${h} drop`,
        `add rule bridge edgenet ${h} ether type ip udp sport 67 counter name ${h} drop`,
        `add element bridge edgenet spoof { "env0123456789ab" : jump ${h} }`,
        '',
      ].join('\n'),
    );
  });

  it('renders its removal', () => {
    const h = endpointNames(ep.key).spoof;
    const present = { ...none, bridgeChain: true, bridgeCounter: true, elements: [{ map: 'spoof', key: ep.hostIfname, family: 'bridge' as const }] };
    expect(antiSpoofText(removalCommands(ep.key, present))).toBe(
      [`delete element bridge edgenet spoof { "env0123456789ab" }`, `flush chain bridge edgenet ${h}`, `delete chain bridge edgenet ${h}`, `delete counter bridge edgenet ${h}`, ''].join('\n'),
    );
  });

  it('leaves everything else to JSON', () => {
    // ACLs: inet chains, maps, counters
    expect(antiSpoofText(ensureCommands({ ...ep, acls: [{ action: 'allow', match: { protocol: 'tcp', fport: 80 } }] }, none, 's', false))).toBeUndefined();
    // the base chains (plumbing)
    expect(antiSpoofText(ensureCommands(ep, none, 's', true))).toBeUndefined();
    // a value that is not what it must be is never pasted into the text
    expect(antiSpoofText(ensureCommands({ ...ep, mac: '02:fe:e3:67:42:0c drop' }, none, 's', false))).toBeUndefined();
    expect(antiSpoofText(ensureCommands({ ...ep, hostIfname: 'a" } ; flush ruleset' }, none, 's', false))).toBeUndefined();
    expect(antiSpoofText([])).toBeUndefined();
  });
});
