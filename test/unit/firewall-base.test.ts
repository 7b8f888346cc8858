// The base of table inet edgenet, audited from a listing: what is ours, what is foreign, and the repair.
import { describe, expect, it } from 'vitest';
import { auditBase, BASE_COMMENT, ensureBaseCommands, isOwnedChain, type BaseListing } from '../../src/drivers/firewall-base.ts';

const chain = (name: string, attrs: Record<string, string | number> = {}) => ({ name, attrs: { family: 'inet', table: 'edgenet', name, ...attrs } });
const intact = (): BaseListing => ({
  chains: [
    chain('forward', { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' }),
    chain('input', { type: 'filter', hook: 'input', prio: 0, policy: 'accept' }),
    chain('postrouting', { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }),
    chain('portfwd'),
    chain('fwd-lan'),
    chain('in-lan'),
  ],
  rules: [
    { chain: 'forward', handle: 4, comment: BASE_COMMENT, expr: [{ jump: { target: 'portfwd' } }] },
    { chain: 'forward', handle: 5, comment: 'edgenet ni=lan spec=abc123', expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'enbr-lan' } }, { jump: { target: 'fwd-lan' } }] },
    { chain: 'input', handle: 6, comment: 'edgenet ni=lan spec=abc123', expr: [{ jump: { target: 'in-lan' } }] },
    { chain: 'fwd-lan', handle: 7, expr: [{ accept: null }] },
  ],
});

describe('firewall base audit', () => {
  it('an intact base has no problem and needs no repair; the ensure commands do not add the hook twice', () => {
    expect(auditBase(intact())).toEqual({ problems: [], repair: [] });
    expect(JSON.stringify(ensureBaseCommands(intact()))).not.toContain('insert');
    expect(JSON.stringify(ensureBaseCommands(undefined))).toContain('insert');
  });

  const cases: { name: string; tamper: (l: BaseListing) => void; problem: RegExp; repair: RegExp }[] = [
    {
      name: 'an accept inserted at the top of forward',
      tamper: (l) => l.rules.unshift({ chain: 'forward', handle: 9, expr: [{ accept: null }] }),
      problem: /foreign rule in base chain forward: accept/,
      repair: /"delete":\{"rule":\{[^}]*"handle":9/,
    },
    {
      name: 'a rule faking an NI comment but jumping elsewhere',
      tamper: (l) => l.rules.push({ chain: 'input', handle: 10, comment: 'edgenet ni=lan spec=abc123', expr: [{ jump: { target: 'fwd-other' } }] }),
      problem: /foreign rule in base chain input/,
      repair: /"handle":10/,
    },
    {
      name: 'an extra chain, jumped to from a base chain',
      tamper: (l) => {
        l.chains.push(chain('sneaky'));
        l.rules.push({ chain: 'input', handle: 11, expr: [{ jump: { target: 'sneaky' } }] });
      },
      problem: /foreign chain sneaky/,
      repair: /"handle":11.*"flush":\{"chain":\{[^}]*"sneaky".*"delete":\{"chain":\{[^}]*"sneaky"/,
    },
    {
      name: 'the forward policy turned to drop',
      tamper: (l) => {
        const fwd = l.chains[0];
        if (fwd) fwd.attrs.policy = 'drop';
      },
      problem: /base chain forward changed \(policy "drop", want "accept"\)/,
      repair: /"add":\{"chain":\{[^}]*"name":"forward"[^}]*"policy":"accept"/,
    },
    {
      name: 'the port-forward hook deleted',
      tamper: (l) => l.rules.splice(0, 1),
      problem: /forward does not start with jump portfwd/,
      repair: /"insert":\{"rule":\{[^}]*"chain":"forward"/,
    },
  ];
  it.each(cases)('$name: named and repaired', ({ tamper, problem, repair }) => {
    const l = intact();
    tamper(l);
    const audit = auditBase(l);
    expect(audit.problems.join('\n')).toMatch(problem);
    expect(JSON.stringify(audit.repair)).toMatch(repair);
    // the NI's own rules are never part of a base repair
    expect(JSON.stringify(audit.repair)).not.toMatch(/"handle":(5|6|7)\b/);
  });

  it('knows which chain names are ours', () => {
    expect(['forward', 'portfwd', 'fwd-lan', 'in-x', 'nat-y', 'acl-forward', 'ep-0123456789-out'].every(isOwnedChain)).toBe(true);
    expect(['sneaky', 'FORWARD', 'docker'].some(isOwnedChain)).toBe(false);
  });
});
