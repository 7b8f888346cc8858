import { assign, cancel, enqueueActions, fromPromise, raise, sendParent, setup } from 'xstate';
import { backoffMs, type BridgeHandle, type NiSpec } from './specs.ts';
import { notProvided } from './not-provided.ts';
import { selectUplink, uplinkNames, uplinkTrouble, usable, type UplinkSelection, type UplinkState } from './uplink-selection.ts';

/** Conditions that keep an NI `degraded` while it still serves its apps. */
export interface NiProblems {
  /** the port is absent or has no carrier */
  port?: string;
  /** the NI's dnsmasq is not running */
  dhcpdns?: string;
  /** a kernel operation failed or an owned object was changed behind our back: repaired by re-creating */
  error?: string;
}

export interface NiContext {
  spec: NiSpec;
  bridge?: BridgeHandle;
  problems: NiProblems;
  retries: number;
  /** why the NI entered its current state */
  reason?: string;
  /** local NIs: what each of its ports can do now */
  uplinks: Record<string, UplinkState>;
  /** local NIs: the port its default route goes out of in the kernel, and why it was selected */
  selected?: UplinkSelection;
  /** the selection being written (createNi or switchUplink under way) */
  selecting?: UplinkSelection;
}

export interface NiInput {
  spec: NiSpec;
  /** last known state of the NI's port, when it has one */
  port?: { present: boolean; carrier: boolean };
  /** last known state of each of its ports, by port name (local NIs with several ports) */
  ports?: Record<string, { present: boolean; carrier: boolean }>;
}

/** What switchUplink is asked to do: point the NI's default route out of `port` and flush its connections. */
export interface SwitchUplinkInput {
  spec: NiSpec;
  port: string;
}

export type NiEvent =
  | { type: 'UPDATE'; spec: NiSpec; fields: string[] }
  | { type: 'DELETE' }
  | { type: 'PORT_STATE'; port: string; present: boolean; carrier: boolean }
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

function portProblem(spec: NiSpec, port: { present: boolean; carrier: boolean } | undefined): string | undefined {
  if (!spec.port) return undefined;
  const name = `port ${spec.port}${spec.portIfname ? ` (${spec.portIfname})` : ''}`;
  if (!port) return `${name} not seen yet`;
  if (!port.present) return `${name} not present`;
  return port.carrier ? undefined : `${name} has no carrier`;
}

/** The NI is carried while any of its ports is (several ports); one port: that port's own trouble. */
function uplinksProblem(spec: NiSpec, uplinks: Record<string, UplinkState>): string | undefined {
  const list = spec.uplinks ?? [];
  if (list.length === 0) return portProblem(spec, spec.port ? uplinks[spec.port] : undefined);
  if (list.some((u) => usable(uplinks[u.name]))) return undefined;
  const troubles = list.map((u) => uplinkTrouble(u, uplinks[u.name]));
  return list.length === 1 ? troubles[0] : `no port carries the network: ${troubles.join('; ')}`;
}

function initialUplinks(input: NiInput): Record<string, UplinkState> {
  const out: Record<string, UplinkState> = {};
  for (const name of uplinkNames(input.spec)) {
    const seen = input.ports?.[name] ?? (name === input.spec.port ? input.port : undefined);
    if (seen) out[name] = { present: seen.present, carrier: seen.carrier, held: false };
  }
  return out;
}

/** The selection the NI should have now (several ports), given what is in the kernel. */
function wantedUplink(context: NiContext): UplinkSelection | undefined {
  const list = context.spec.uplinks ?? [];
  if (list.length < 2) return undefined;
  return selectUplink(list, context.uplinks, context.selected?.port);
}

/** Carries a state update of one port into the NI's view: a port that comes back is held down before it is preferred. */
function trackUplink(
  context: NiContext,
  port: string,
  next: (prev: UplinkState | undefined) => UplinkState,
): { uplinks: Record<string, UplinkState>; cameBack: boolean; wentAway: boolean } {
  const prev = context.uplinks[port];
  const state = next(prev);
  const several = (context.spec.uplinks?.length ?? 0) > 1;
  const cameBack = several && prev !== undefined && !usable(prev) && usable(state) && (context.spec.holdDownMs ?? 0) > 0;
  const wentAway = usable(prev) && !usable(state);
  return { uplinks: { ...context.uplinks, [port]: { ...state, held: cameBack || (state.held && !wentAway) } }, cameBack, wentAway };
}

function hasProblems(p: NiProblems): boolean {
  return p.port !== undefined || p.dhcpdns !== undefined || p.error !== undefined;
}

export function niProblemText(p: NiProblems): string | undefined {
  const parts = [p.error, p.port, p.dhcpdns].filter((x): x is string => x !== undefined);
  return parts.length ? parts.join('; ') : undefined;
}

export const networkInstanceMachine = setup({
  types: {} as { context: NiContext; input: NiInput; events: NiEvent },
  actors: {
    /** Converge the NI's kernel objects (bridge, address, rules, dnsmasq) to the spec; idempotent. */
    createNi: fromPromise<BridgeHandle, NiSpec>(notProvided('createNi')),
    /** Remove the NI's kernel objects; absent is success. */
    deleteNi: fromPromise<void, NiSpec>(notProvided('deleteNi')),
    /** Several ports: move the NI's default route to another port and flush its connections (nothing else). */
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
      if (event.type !== 'PORT_STATE' && event.type !== 'PORT_PROBE') return;
      const { uplinks, cameBack, wentAway } = trackUplink(context, event.port, (prev) =>
        event.type === 'PORT_STATE'
          ? { ...(prev ?? { held: false }), present: event.present, carrier: event.carrier }
          : { ...(prev ?? { present: false, carrier: false, held: false }), probe: { ok: event.ok, detail: event.detail } },
      );
      const port = uplinksProblem(context.spec, uplinks);
      const what = event.type === 'PORT_STATE' ? (event.carrier ? 'up' : 'down') : event.ok ? 'probe ok' : `probe failed: ${event.detail}`;
      // a reason names the state's cause: keep the last one when the news does not change the NI's health
      enqueue.assign({ uplinks, problems: { ...context.problems, port }, reason: port ?? `port ${event.port} ${what}` });
      const id = `hold-down:${event.port}`;
      if (wentAway) enqueue(cancel(id));
      if (cameBack) enqueue(raise({ type: 'HOLD_DOWN_OVER', port: event.port }, { id, delay: context.spec.holdDownMs ?? 0 }));
    }),
    holdDownOver: assign(({ context, event }) => {
      if (event.type !== 'HOLD_DOWN_OVER') return {};
      const prev = context.uplinks[event.port];
      return prev ? { uplinks: { ...context.uplinks, [event.port]: { ...prev, held: false } } } : {};
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
      const problems = { ...context.problems, port: portProblemAfterUpdate(context, event.spec) };
      return { spec: event.spec, problems, reason: `update: ${event.fields.join(', ')}` };
    }),
  },
}).createMachine({
  id: 'networkInstance',
  initial: 'pending',
  context: ({ input }) => {
    const uplinks = initialUplinks(input);
    return { spec: input.spec, problems: { port: uplinksProblem(input.spec, uplinks) }, retries: 0, reason: 'new in config', uplinks };
  },
  on: {
    PORT_STATE: { actions: 'trackPort' },
    PORT_PROBE: { actions: 'trackPort' },
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
      invoke: {
        src: 'createNi',
        // several ports: the NI's table is made with the default route out of the port selected now
        input: ({ context }) => (context.selecting?.port !== undefined ? { ...context.spec, selectedUplink: context.selecting.port } : context.spec),
        onDone: {
          target: 'ready',
          actions: [
            assign(({ context, event }) => ({
              bridge: event.output,
              retries: 0,
              problems: { ...context.problems, error: undefined, dhcpdns: undefined },
            })),
            'selected',
            'notifyUp',
          ],
        },
        onError: {
          target: 'degraded',
          actions: assign(({ context, event }) => {
            const error = `create failed: ${event.error instanceof Error ? event.error.message : String(event.error)}`;
            return { problems: { ...context.problems, error }, reason: error, retries: context.retries + 1 };
          }),
        },
      },
      on: {
        UPDATE: { target: 'creating', reenter: true, actions: 'takeUpdate' },
        DELETE: 'deleting',
        // the bridge went while being made: make it again rather than report a dead ifindex
        BRIDGE_GONE: { target: 'creating', reenter: true },
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

// A port change in an update: the port problem follows the new ports until the system actor reports their state.
function portProblemAfterUpdate(context: NiContext, next: NiSpec): string | undefined {
  return uplinksProblem(next, context.uplinks);
}

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
          onError: {
            target: '#networkInstance.degraded' as const,
            actions: 'switchFailed' as const,
          },
        },
      },
    },
  };
}
