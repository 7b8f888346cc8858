import { assign, cancel, enqueueActions, fromPromise, raise, sendParent, setup } from 'xstate';
import { backoffMs, niPorts, type BridgeHandle, type NiSpec } from './specs.ts';
import { notProvided } from './not-provided.ts';
import { selectUplink, usable, type UplinkSelection } from './uplink-selection.ts';

/** Conditions that keep an NI `degraded` while it still serves its apps. */
export interface NiProblems {
  /** the port is absent or has no carrier (with several ports: none of them is up) */
  port?: string;
  /** BPDU guard has disabled one or more of the NI's ports */
  bpdu?: string;
  /** the NI's dnsmasq is not running */
  dhcpdns?: string;
  /** a kernel operation failed or an owned object was changed behind our back: repaired by re-creating */
  error?: string;
}

/** What the NI knows of one of its ports (from the port's actor, via the system actor). */
export interface PortSeen {
  present: boolean;
  carrier: boolean;
  /** set while BPDU guard keeps the port disabled: why, and how it comes back */
  guard?: string;
  /** local NIs with several ports: the last reachability probe of the port (absent: none, or none finished yet) */
  probe?: { ok: boolean; detail: string };
  /** local NIs with several ports: the port came back less than the hold-down ago (not preferred yet) */
  held?: boolean;
}

export interface NiContext {
  spec: NiSpec;
  /** by port name: the NI's ports only */
  portStates: Record<string, PortSeen>;
  bridge?: BridgeHandle;
  problems: NiProblems;
  retries: number;
  /** why the NI entered its current state */
  reason?: string;
  /** local NIs with several ports: the port its default route goes out of in the kernel, and why */
  selected?: UplinkSelection;
  /** the selection being written (createNi or switchUplink under way) */
  selecting?: UplinkSelection;
}

/** What switchUplink is asked to do: point the NI's default route out of `port` and flush its connections. */
export interface SwitchUplinkInput {
  spec: NiSpec;
  port: string;
}

export interface NiInput {
  spec: NiSpec;
  /** last known state of the NI's port, when it has one */
  port?: { present: boolean; carrier: boolean };
  /** last known states of its ports by name (an NI with several ports) */
  portStates?: Record<string, PortSeen>;
}

export type NiEvent =
  | { type: 'UPDATE'; spec: NiSpec; fields: string[] }
  | { type: 'DELETE' }
  | { type: 'PORT_STATE'; port: string; present: boolean; carrier: boolean; guard?: string }
  | { type: 'PORT_PROBE'; port: string; ok: boolean; detail: string }
  | { type: 'HOLD_DOWN_OVER'; port: string }
  | { type: 'BRIDGE_GONE' }
  | { type: 'DRIFT'; detail: string }
  | { type: 'DHCPDNS_EXITED'; detail: string }
  | { type: 'DHCPDNS_STARTED'; pid: number };

/** Sent to the parent (the system actor), which forwards them to the NI's members. */
export type NiNotification =
  | { type: 'NI_UP'; id: string; name: string; bridge: BridgeHandle }
  | { type: 'NI_DOWN'; id: string; name: string }
  | { type: 'CHILD_DELETED'; id: string };

/** Attempts at deleting before giving up (kernel objects left are removed by the sweep at the next start). */
export const DELETE_TRIES = 3;

function portName(spec: NiSpec, port: string): string {
  return `port ${port}${port === spec.port && spec.portIfname ? ` (${spec.portIfname})` : ''}`;
}

function onePortProblem(spec: NiSpec, name: string, port: PortSeen | undefined): string | undefined {
  if (!port) return `${portName(spec, name)} not seen yet`;
  if (!port.present) return `${portName(spec, name)} not present`;
  return port.carrier ? undefined : `${portName(spec, name)} has no carrier`;
}

/**
 * One port: its own problem. Several: the NI is degraded only when none of them forwards (a port down among
 * others is that port's business); BPDU guard's disabled ports are a problem of their own either way.
 */
function portProblems(spec: NiSpec, states: Record<string, PortSeen>): Pick<NiProblems, 'port' | 'bpdu'> {
  const names = niPorts(spec);
  const guarded = names.flatMap((n) => (states[n]?.guard !== undefined ? [states[n]?.guard ?? ''] : []));
  const bpdu = guarded.length ? guarded.join('; ') : undefined;
  const problems = names.map((n) => onePortProblem(spec, n, states[n]));
  if (names.length <= 1) return { port: problems[0], bpdu };
  const up = names.filter((n, i) => problems[i] === undefined && states[n]?.guard === undefined);
  return { port: up.length ? undefined : `no port up: ${problems.map((p, i) => p ?? `port ${names[i] ?? ''} disabled by BPDU guard`).join('; ')}`, bpdu };
}

/** The states of the ports the spec names (others are forgotten). */
function statesOf(spec: NiSpec, states: Record<string, PortSeen>): Record<string, PortSeen> {
  const out: Record<string, PortSeen> = {};
  for (const n of niPorts(spec)) if (states[n]) out[n] = states[n];
  return out;
}

/** The selection the NI should have now (a local NI with several ports), given what is in the kernel. */
function wantedUplink(context: NiContext): UplinkSelection | undefined {
  const list = context.spec.uplinks ?? [];
  if (list.length < 2) return undefined;
  return selectUplink(list, context.portStates, context.selected?.port);
}

/** A port of a multi-port local NI that starts carrying again is held down before it is preferred. */
function holdDown(context: NiContext, port: string, prev: PortSeen | undefined, next: PortSeen): { seen: PortSeen; cameBack: boolean; wentAway: boolean } {
  const several = (context.spec.uplinks?.length ?? 0) > 1;
  const cameBack = several && prev !== undefined && !usable(prev) && usable(next) && (context.spec.holdDownMs ?? 0) > 0;
  const wentAway = usable(prev) && !usable(next);
  const held = cameBack || (prev?.held === true && !wentAway);
  const { held: _h, ...rest } = next;
  return { seen: held ? { ...rest, held } : rest, cameBack, wentAway };
}

function hasProblems(p: NiProblems): boolean {
  return p.port !== undefined || p.bpdu !== undefined || p.dhcpdns !== undefined || p.error !== undefined;
}

export function niProblemText(p: NiProblems): string | undefined {
  const parts = [p.error, p.port, p.bpdu, p.dhcpdns].filter((x): x is string => x !== undefined);
  return parts.length ? parts.join('; ') : undefined;
}

export const networkInstanceMachine = setup({
  types: {} as { context: NiContext; input: NiInput; events: NiEvent },
  actors: {
    /**
     * Converge what the NI's members need to the spec: the bridge, its address and the NI's rules; idempotent.
     * `ifindex`: the bridge it made before. Members attach once this is done.
     */
    createNi: fromPromise<BridgeHandle, NiSpec & { ifindex?: number }>(notProvided('createNi')),
    /** Then the NI's services (its routing table, dnsmasq), while its members attach; idempotent. */
    createServices: fromPromise<void, NiSpec>(notProvided('createServices')),
    /** Remove the NI's kernel objects; absent is success. */
    deleteNi: fromPromise<void, NiSpec>(notProvided('deleteNi')),
    /** A local NI with several ports: move its default route to another port and flush its connections (nothing else). */
    switchUplink: fromPromise<void, SwitchUplinkInput>(notProvided('switchUplink')),
  },
  guards: {
    hasProblems: ({ context }) => hasProblems(context.problems),
    noProblems: ({ context }) => !hasProblems(context.problems),
    failed: ({ context }) => context.problems.error !== undefined,
    mayRetryDelete: ({ context }) => context.retries < DELETE_TRIES - 1,
    uplinkChanged: ({ context }) => {
      const want = wantedUplink(context);
      return want?.port !== undefined && want.port !== context.selected?.port;
    },
  },
  delays: {
    retryDelay: ({ context }) => backoffMs(context.retries),
  },
  actions: {
    notifyUp: sendParent(({ context, self }): NiNotification => ({
      type: 'NI_UP',
      id: self.id,
      name: context.spec.name,
      bridge: context.bridge ?? { name: context.spec.bridge, ifindex: 0 },
    })),
    notifyDown: sendParent(({ context, self }): NiNotification => ({ type: 'NI_DOWN', id: self.id, name: context.spec.name })),
    notifyDeleted: sendParent(({ self }): NiNotification => ({ type: 'CHILD_DELETED', id: self.id })),
    trackPort: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PORT_STATE' || !niPorts(context.spec).includes(event.port)) return;
      const prev = context.portStates[event.port];
      const { seen, cameBack, wentAway } = holdDown(context, event.port, prev, {
        present: event.present,
        carrier: event.carrier,
        ...(event.guard !== undefined && { guard: event.guard }),
        ...(prev?.probe !== undefined && { probe: prev.probe }),
        ...(prev?.held !== undefined && { held: prev.held }),
      });
      const portStates = { ...context.portStates, [event.port]: seen };
      const found = portProblems(context.spec, portStates);
      const mine = onePortProblem(context.spec, event.port, seen) ?? event.guard;
      enqueue.assign({ portStates, problems: { ...context.problems, ...found }, reason: found.port ?? mine ?? found.bpdu ?? `port ${event.port} up` });
      const id = `hold-down:${event.port}`;
      if (wentAway) enqueue(cancel(id));
      if (cameBack) enqueue(raise({ type: 'HOLD_DOWN_OVER', port: event.port }, { id, delay: context.spec.holdDownMs ?? 0 }));
    }),
    trackProbe: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PORT_PROBE' || !niPorts(context.spec).includes(event.port)) return;
      const prev = context.portStates[event.port];
      const next: PortSeen = { ...(prev ?? { present: false, carrier: false }), probe: { ok: event.ok, detail: event.detail } };
      const { seen, cameBack, wentAway } = holdDown(context, event.port, prev, next);
      enqueue.assign({ portStates: { ...context.portStates, [event.port]: seen } });
      const id = `hold-down:${event.port}`;
      if (wentAway) enqueue(cancel(id));
      if (cameBack) enqueue(raise({ type: 'HOLD_DOWN_OVER', port: event.port }, { id, delay: context.spec.holdDownMs ?? 0 }));
    }),
    holdDownOver: assign(({ context, event }) => {
      if (event.type !== 'HOLD_DOWN_OVER') return {};
      const prev = context.portStates[event.port];
      if (!prev) return {};
      const { held: _h, ...rest } = prev;
      return { portStates: { ...context.portStates, [event.port]: rest } };
    }),
    switchFailed: assign(({ context, event }) => {
      const err = (event as { error?: unknown }).error;
      const error = `switching to port ${context.selecting?.port ?? '?'} failed: ${err instanceof Error ? err.message : String(err)}`;
      return { problems: { ...context.problems, error }, reason: error, retries: context.retries + 1, selecting: undefined };
    }),
    startSelecting: assign(({ context }) => ({ selecting: wantedUplink(context) })),
    selected: assign(({ context }) => ({
      selected: context.selecting ?? context.selected,
      selecting: undefined,
      ...(context.selecting?.port !== undefined && context.selected?.port !== undefined && context.selecting.port !== context.selected.port
        ? { reason: `switched to port ${context.selecting.port}: ${context.selecting.reason}` }
        : {}),
    })),
    dhcpdnsExited: assign(({ context, event }) => {
      if (event.type !== 'DHCPDNS_EXITED') return {};
      return { problems: { ...context.problems, dhcpdns: event.detail }, reason: event.detail };
    }),
    dhcpdnsStarted: assign(({ context, event }) => {
      if (event.type !== 'DHCPDNS_STARTED') return {};
      return { problems: { ...context.problems, dhcpdns: undefined }, reason: `dnsmasq running (pid ${event.pid})` };
    }),
    createFailed: assign(({ context, event }) => {
      const err = (event as { error?: unknown }).error;
      const error = `create failed: ${err instanceof Error ? err.message : String(err)}`;
      return { problems: { ...context.problems, error }, reason: error, retries: context.retries + 1 };
    }),
    markBroken: assign(({ context, event }) => {
      const error =
        event.type === 'BRIDGE_GONE'
          ? `bridge ${context.spec.bridge} deleted behind edgenet's back`
          : event.type === 'DRIFT'
            ? event.detail
            : 'unknown problem';
      return { problems: { ...context.problems, error }, reason: error, retries: 0 };
    }),
    deleteFailed: assign(({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      return { retries: context.retries + 1, reason: `delete failed: ${error instanceof Error ? error.message : String(error)}` };
    }),
    takeUpdate: assign(({ context, event }) => {
      if (event.type !== 'UPDATE') return {};
      // the port problem follows the new ports until the system actor reports their states
      const portStates = statesOf(event.spec, context.portStates);
      const problems = { ...context.problems, ...portProblems(event.spec, portStates) };
      return { spec: event.spec, portStates, problems, reason: `update: ${event.fields.join(', ')}` };
    }),
  },
}).createMachine({
  id: 'networkInstance',
  initial: 'pending',
  context: ({ input }) => {
    const given = input.portStates ?? (input.port && input.spec.port !== undefined ? { [input.spec.port]: input.port } : {});
    const portStates = statesOf(input.spec, given);
    return { spec: input.spec, portStates, problems: portProblems(input.spec, portStates), retries: 0, reason: 'new in config' };
  },
  on: {
    PORT_STATE: { actions: 'trackPort' },
    PORT_PROBE: { actions: 'trackProbe' },
    HOLD_DOWN_OVER: { actions: 'holdDownOver' },
    DHCPDNS_EXITED: { actions: 'dhcpdnsExited' },
    DHCPDNS_STARTED: { actions: 'dhcpdnsStarted' },
  },
  states: {
    pending: {
      always: 'creating',
    },
    creating: {
      entry: 'startSelecting',
      // the bridge first (then the members may attach: NI_UP), the services beside them; the NI is `ready` when both are
      initial: 'bridge',
      states: {
        bridge: {
          invoke: {
            src: 'createNi',
            // several ports: the NI's table is made with the default route out of the port selected now
            input: ({ context }) => ({
              ...context.spec,
              ...(context.bridge && { ifindex: context.bridge.ifindex }),
              ...(context.selecting?.port !== undefined && { selectedUplink: context.selecting.port }),
            }),
            onDone: {
              target: 'services',
              actions: [assign(({ event }) => ({ bridge: event.output })), 'notifyUp'],
            },
            onError: { target: '#networkInstance.degraded', actions: 'createFailed' },
          },
        },
        services: {
          invoke: {
            src: 'createServices',
            input: ({ context }) => ({
              ...context.spec,
              ...(context.selecting?.port !== undefined && { selectedUplink: context.selecting.port }),
            }),
            onDone: {
              target: '#networkInstance.ready',
              actions: [assign(({ context }) => ({ retries: 0, problems: { ...context.problems, error: undefined, dhcpdns: undefined } })), 'selected'],
            },
            onError: { target: '#networkInstance.degraded', actions: 'createFailed' },
          },
        },
      },
      on: {
        UPDATE: { target: 'creating', reenter: true, actions: 'takeUpdate' },
        DELETE: 'deleting',
        // the bridge went while being made: make it again rather than report a dead ifindex, after the backoff
        // (counted as a failed attempt: a bridge deleted over and over is retried slower and slower, not at once)
        BRIDGE_GONE: {
          target: 'degraded',
          actions: [
            assign(({ context }) => {
              const error = `bridge ${context.spec.bridge} deleted behind edgenet's back`;
              return { problems: { ...context.problems, error }, reason: error, retries: context.retries + 1 };
            }),
            'notifyDown',
          ],
        },
      },
    },
    ready: {
      always: { guard: 'hasProblems', target: 'degraded' },
      ...uplinkStates(),
      on: {
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
        DELETE: 'deleting',
        BRIDGE_GONE: { target: 'degraded', actions: ['markBroken', 'notifyDown'] },
        DRIFT: { target: 'degraded', actions: 'markBroken' },
      },
    },
    degraded: {
      always: { guard: 'noProblems', target: 'ready' },
      ...uplinkStates(),
      after: { retryDelay: { guard: 'failed', target: 'creating' } },
      on: {
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
        DELETE: 'deleting',
        // a repair already scheduled is not pushed back by the same news; else re-enter to start the retry timer
        BRIDGE_GONE: [
          { guard: 'failed', actions: 'notifyDown' },
          { target: 'degraded', reenter: true, actions: ['markBroken', 'notifyDown'] },
        ],
        DRIFT: [{ guard: 'failed' }, { target: 'degraded', reenter: true, actions: 'markBroken' }],
      },
    },
    deleting: {
      entry: ['notifyDown', assign({ reason: 'removed from config', retries: 0 })],
      initial: 'working',
      states: {
        working: {
          invoke: {
            src: 'deleteNi',
            input: ({ context }) => context.spec,
            onDone: '#networkInstance.deleted',
            onError: [
              // a few tries with backoff; then give up (the sweep at the next start removes what is left)
              { guard: 'mayRetryDelete', target: 'waiting', actions: 'deleteFailed' },
              { target: '#networkInstance.deleted', actions: 'deleteFailed' },
            ],
          },
        },
        waiting: { after: { retryDelay: 'working' } },
      },
    },
    deleted: {
      type: 'final',
      entry: 'notifyDeleted',
    },
  },
});

/**
 * Inside ready and degraded: a local NI with several ports keeps its default route out of the selected port.
 * A change of selection is a switchover of this NI alone (one route, its connections flushed).
 */
function uplinkStates() {
  return {
    initial: 'steady' as const,
    states: {
      steady: {
        always: { guard: 'uplinkChanged' as const, target: 'switching' as const },
      },
      switching: {
        entry: 'startSelecting' as const,
        invoke: {
          src: 'switchUplink' as const,
          input: ({ context }: { context: NiContext }): SwitchUplinkInput => ({ spec: context.spec, port: context.selecting?.port ?? '' }),
          onDone: { target: 'steady' as const, actions: 'selected' as const },
          onError: { target: '#networkInstance.degraded' as const, actions: 'switchFailed' as const },
        },
      },
    },
  };
}
