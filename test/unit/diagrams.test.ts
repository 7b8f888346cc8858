// The committed diagrams are what the machines generate; a machine that gains a state without regenerating fails here.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createMachine, fromPromise, not, setup, type AnyStateMachine } from 'xstate';
import { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import { endpointMachine } from '../../machines/endpoint.machine.ts';
import { diagramFiles, EDGENET_DIAGRAMS, machineToMermaid, type DiagramSource } from '../../src/util/diagrams.ts';

const DIR = join(import.meta.dirname, '..', '..', 'diagrams');

/** What differs between the committed diagrams/ and what `sources` generate. */
function drift(sources: readonly DiagramSource[]): string[] {
  const files = diagramFiles(sources);
  const problems: string[] = [];
  for (const [name, text] of files) {
    let committed: string | undefined;
    try {
      committed = readFileSync(join(DIR, name), 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed === undefined) problems.push(`diagrams/${name} is missing`);
    else if (committed !== text) problems.push(`diagrams/${name} differs`);
  }
  let present: string[] = [];
  try {
    present = readdirSync(DIR);
  } catch {
    present = [];
  }
  for (const name of present) if (name.endsWith('.mmd') && !files.has(name)) problems.push(`diagrams/${name} has no machine`);
  return problems;
}

describe('committed diagrams', () => {
  it('are what the machines generate', () => {
    const problems = drift(EDGENET_DIAGRAMS);
    expect(problems, `${problems.join('; ')}: run npm run diagrams`).toEqual([]);
  });

  it('stop matching when a machine gains a state without regenerating', () => {
    const config = networkInstanceMachine.config;
    const grown = createMachine({
      ...config,
      states: { ...config.states, quarantined: { on: { RELEASE: 'creating' } } },
    } as typeof config) as AnyStateMachine;
    const sources = EDGENET_DIAGRAMS.map((s) => (s.machine === networkInstanceMachine ? { ...s, machine: grown } : s));
    expect(machineToMermaid(grown)).toContain('  quarantined --> creating : RELEASE\n');
    expect(drift(sources)).toEqual(['diagrams/network-instance.mmd differs', 'diagrams/README.md differs']);
  });

  /** What Mermaid draws as each state's name: the first line of its label, or its id when it has none. */
  function drawnNames(text: string): Set<string> {
    const names = new Set<string>();
    for (const m of text.matchAll(/^\s*state "([^"<]*)(?:<br\/>[^"]*)?" as (\w+)$/gm)) names.add(m[1] ?? '');
    const labelled = new Set([...text.matchAll(/^\s*state "[^"]*" as (\w+)$/gm)].map((m) => m[1]));
    const ids = [...text.matchAll(/^\s*(?:state )?(\w+)(?= -->| \{|$)|--> (\w+)(?: :|$)/gm)].map((m) => m[1] ?? m[2] ?? '');
    for (const id of ids) if (id !== '' && !labelled.has(id)) names.add(id);
    return names;
  }

  const allStates = (machine: AnyStateMachine): string[] => {
    const out: string[] = [];
    const walk = (node: AnyStateMachine['root']): void => {
      for (const child of Object.values(node.states)) {
        out.push(child.key);
        walk(child);
      }
    };
    walk(machine.root);
    return out;
  };

  it('draw every state under its own name: nested ones too, none replaced by a description (issue 19, acceptance 3)', () => {
    for (const { machine, name, overview } of EDGENET_DIAGRAMS) {
      const text = machineToMermaid(machine, { overview: overview === true });
      // `id : text` would make Mermaid draw the text instead of the name
      expect(text, name).not.toMatch(/^\s*\w+ : /m);
      const drawn = drawnNames(text);
      const expected = overview ? Object.keys(machine.root.states) : allStates(machine);
      for (const state of expected) expect([...drawn], `${name}: state ${state}`).toContain(state);
    }
  });

  it('show the five top-level states of every NI and endpoint diagram, and the device\'s four', () => {
    const five = ['pending', 'creating', 'ready', 'degraded', 'deleting'];
    for (const { machine, name, overview } of EDGENET_DIAGRAMS) {
      const drawn = drawnNames(machineToMermaid(machine, { overview: overview === true }));
      if (name.startsWith('endpoint') || name === 'network-instance') expect([...drawn], name).toEqual(expect.arrayContaining(five));
      if (name === 'device') expect([...drawn], name).toEqual(expect.arrayContaining(five.slice(0, 4)));
    }
  });

  it('are rendered to SVG from the current .mmd (npm run diagrams:svg), every state name drawn as SVG text', () => {
    for (const { machine, name, overview } of EDGENET_DIAGRAMS) {
      const mmd = readFileSync(join(DIR, `${name}.mmd`), 'utf8');
      let svg = '';
      try {
        svg = readFileSync(join(DIR, `${name}.svg`), 'utf8');
      } catch {
        svg = '';
      }
      expect(svg, `diagrams/${name}.svg is missing: run npm run diagrams:svg`).not.toBe('');
      const header = svg.split('\n', 1)[0] ?? '';
      expect(header, `diagrams/${name}.svg is stale: run npm run diagrams:svg`).toContain(`sha256 ${createHash('sha256').update(mmd).digest('hex')}`);
      const texts = new Set([...svg.matchAll(/>([^<>]+)</g)].map((m) => (m[1] ?? '').trim()));
      const expected = overview ? Object.keys(machine.root.states) : allStates(machine);
      for (const state of expected) expect([...texts], `${name}.svg: state ${state}`).toContain(state);
      // nothing in it fetches anything (no fonts, no images from elsewhere)
      expect(svg).not.toMatch(/https?:\/\/(?!www\.w3\.org\/)/);
    }
  });

  it('the endpoint overview folds nested states into their top-level state and merges arrows per pair', () => {
    const text = machineToMermaid(endpointMachine, { overview: true });
    expect(text).not.toMatch(/verifying|idle|working|waiting/);
    // ready's nested verifying state leaves for degraded: drawn from ready, with ready's own arrow there
    expect(text).toMatch(/^ {2}ready --> degraded : always \[unhealthy\]<br\/>done \w+ \[stillDetached\]$/m);
    expect(text).toContain('  deleting --> deleted : done detach<br/>error detach\n');
    const arrows = text.split('\n').filter((l) => l.includes('-->'));
    expect(new Set(arrows.map((l) => l.split(' : ')[0])).size).toBe(arrows.length);
    expect(arrows.length).toBeLessThanOrEqual(20);
  });
});

describe('machineToMermaid', () => {
  const logic = setup({
    actors: { load: fromPromise<number, void>(async () => 1) },
    guards: { ok: () => true, bad: () => false },
  });
  const machine = logic.createMachine({
    id: 'sample',
    initial: 'idle',
    on: { RESET: '.idle', PING: {} },
    states: {
      idle: { on: { GO: 'working', PING: {} } },
      working: {
        initial: 'loading',
        invoke: { src: 'load', onDone: { target: 'done', guard: 'ok' }, onError: 'idle' },
        on: { STOP: 'stopped' },
        states: {
          loading: { after: { 500: 'slow' }, always: { guard: not('bad'), target: 'ready' } },
          slow: {},
          ready: { on: { AGAIN: '#sample.working.loading' } },
        },
      },
      both: {
        type: 'parallel',
        states: {
          left: { initial: 'ready', states: { ready: { on: { FLIP: 'slow' } }, slow: {} } },
          right: { initial: 'a', states: { a: {} } },
        },
      },
      stopped: { on: { BOTH: 'both' } },
      done: { type: 'final' },
    },
  });

  it('draws states, initial and final markers, labelled arrows, invocations and handlers that stay', () => {
    expect(machineToMermaid(machine)).toBe(`stateDiagram-v2
  %% machine "sample", generated by \`npm run diagrams\` from its definition: do not edit
  state "idle<br/>stays on PING" as idle
  state working {
    state "slow" as working_slow
    state "ready" as working_ready
    [*] --> loading
    loading --> working_slow : after 500ms
    loading --> working_ready : always [not(bad)]
    working_ready --> loading : AGAIN
  }
  note right of working : invokes load
  state both {
    state left {
      state "ready" as both_left_ready
      state "slow" as both_left_slow
      [*] --> both_left_ready
      both_left_ready --> both_left_slow : FLIP
    }
    --
    state right {
      [*] --> a
    }
  }
  [*] --> idle
  note left of idle : in every state, stays on PING
  idle --> working : GO
  working --> idle : RESET<br/>error load
  working --> stopped : STOP
  working --> done : done load [ok]
  both --> idle : RESET
  stopped --> idle : RESET
  stopped --> both : BOTH
  done --> [*]
`);
  });

  it('lists a transition back to the same state as staying, unless it re-enters (then it is a loop)', () => {
    const loops = createMachine({ id: 'loops', initial: 'a', states: { a: { on: { X: 'a', Y: { target: 'a', reenter: true }, Z: 'b' } }, b: {} } });
    const text = machineToMermaid(loops);
    expect(text).toContain('  state "a<br/>stays on X" as a\n');
    expect(text).toContain('  a --> a : Y\n');
    expect(text).toContain('  a --> b : Z\n');
  });

  it('is deterministic and independent of the order handlers are written in', () => {
    const config = machine.config as Parameters<typeof createMachine>[0];
    const reordered = createMachine({ ...config, states: { ...config.states, idle: { on: { PING: {}, GO: 'working' } } } });
    expect(machineToMermaid(machine)).toBe(machineToMermaid(machine));
    expect(machineToMermaid(reordered)).toBe(machineToMermaid(machine));
  });
});
