import { assign, enqueueActions, fromPromise, sendParent, setup } from 'xstate';
import { backoffMs, memberBridgeNetwork, memberIfname, type BridgeHandle, type LinkSeen, type MemberSpec } from './specs.ts';
import { notProvided } from './not-provided.ts';

// One machine for every member of a network instance: an app's veth or tap, or a port (host NIC).

export interface EndpointContext {
  spec: MemberSpec;
  /** the NI's bridge, once the NI reports it up (members that are enslaved only) */
  bridge?: BridgeHandle;
  /** does the interface (tap, port) or the app's netns (veth) exist? undefined until probed */
  present?: boolean;
  /** ports: carrier of the NIC */
  carrier: boolean;
  /** host-side ifindex once attached */
  ifindex?: number;
  /** a failed operation or a change behind our back: repaired by attaching again */
  problem?: string;
  /** BPDU guard has disabled the interface on its bridge: why, and how it comes back (not by re-attaching) */
  guard?: string;
  retries: number;
  /** the last probe failed: it is retried with backoff */
  probeFailed?: boolean;
  /** attach said "missing" although an event or probe said present: probe again after the backoff (a netns file
   * seen before `ip netns add` bind-mounted it sends no second event) */
  recheck?: boolean;
  /** why the member entered its current state */
  reason?: string;
}

export interface EndpointInput {
  spec: MemberSpec;
  bridge?: BridgeHandle;
}

export type EndpointEvent =
  | { type: 'UPDATE'; spec: MemberSpec; fields: string[] }
  | { type: 'DELETE' }
  | { type: 'NI_UP'; bridge: BridgeHandle }
  | { type: 'NI_DOWN' }
  | { type: 'LINK_NEW'; link: LinkSeen }
  | { type: 'LINK_DEL'; link: LinkSeen }
  | { type: 'NETNS_ADDED' }
  | { type: 'NETNS_REMOVED' }
  /** the interface's STP state on its bridge changed; `guardTripped`: BPDU guard disabled it */
  | { type: 'BRIDGE_PORT'; state: string; guardTripped: boolean };

export interface ProbeResult {
  present: boolean;
  carrier?: boolean;
  /** bridge ifindex the host-side interface is enslaved to, when it exists */
  master?: number;
}

export interface AttachInput {
  spec: MemberSpec;
  bridge?: BridgeHandle;
}

export interface AttachOutput {
  ifindex: number;
  carrier: boolean;
  /** BPDU guard keeps the interface disabled (found when attaching, e.g. after a restart) */
  guardTripped?: boolean;
}

/** The system actor forwards this to the NI that uses the port. */
export interface PortStateNotification {
  type: 'PORT_STATE';
  port: string;
  present: boolean;
  carrier: boolean;
  guard?: string;
}

/** Attempts at detaching before giving up (what is left is removed by the sweep at the next start). */
export const DETACH_TRIES = 3;

/** Errors that mean "the outside world has not brought it yet": wait in `pending`, don't retry. */
export function isMissingError(err: unknown): boolean {
  const errno = typeof err === 'object' && err !== null && 'errno' in err ? (err as { errno: unknown }).errno : undefined;
  return errno === 'ENOENT' || errno === 'ENODEV';
}

function describe(spec: MemberSpec): string {
  if (spec.kind === 'port') return `port ${spec.name} (${spec.ifname})`;
  if (spec.kind === 'tap') return `tap ${spec.hostIfname}`;
  return `veth ${spec.hostIfname}`;
}

/** What status says about a member BPDU guard has disabled. */
export function guardReason(spec: MemberSpec): string {
  return `${describe(spec)} disabled by BPDU guard: a BPDU arrived on it; it forwards again after its carrier cycles (unplug/replug, or the peer's link down and up)`;
}

function waitingReason(context: EndpointContext): string {
  const { spec } = context;
  if (context.present === false) {
    if (spec.kind === 'veth') return `waiting for netns ${String(spec.netns)}`;
    return `waiting for ${spec.kind === 'tap' ? 'tap' : 'port'} ${memberIfname(spec)} to appear`;
  }
  const ni = memberBridgeNetwork(spec);
  if (ni && !context.bridge) return `waiting for network ${ni}`;
  return 'probing';
}

export const endpointMachine = setup({
  types: {} as { context: EndpointContext; input: EndpointInput; events: EndpointEvent },
  actors: {
    /** Does the interface / app netns exist now? */
    probe: fromPromise<ProbeResult, MemberSpec>(notProvided('probe')),
    /** the probe, asking the kernel itself (a cache may still hold what the event being verified reported) */
    verify: fromPromise<ProbeResult, MemberSpec>(notProvided('verify')),
    /** veth: create the pair into the app's netns and enslave; tap/port: enslave (ports on switch NIs only), MTU, up. Idempotent. */
    attach: fromPromise<AttachOutput, AttachInput>(notProvided('attach')),
    /** veth: delete the host end; tap/port: release from the bridge. Absent is success. */
    detach: fromPromise<void, MemberSpec>(notProvided('detach')),
  },
  guards: {
    canAttach: ({ context }) => context.present === true && (memberBridgeNetwork(context.spec) === undefined || context.bridge !== undefined),
    missing: ({ event }) => isMissingError((event as { error?: unknown }).error),
    unhealthy: ({ context }) => context.problem !== undefined || context.guard !== undefined || (context.spec.kind === 'port' && !context.carrier),
    healthy: ({ context }) => context.problem === undefined && context.guard === undefined && (context.spec.kind !== 'port' || context.carrier),
    failed: ({ context }) => context.problem !== undefined,
    // a veth whose attempt failed and is waiting for its retry: its LINK_DEL is the undo of the half-built pair
    vethInBackoff: ({ context }) => context.spec.kind === 'veth' && context.retries > 0 && context.problem !== undefined,
    isVeth: ({ context }) => context.spec.kind === 'veth',
    probeFailed: ({ context }) => context.probeFailed === true,
    probeDue: ({ context }) => context.probeFailed === true || context.recheck === true,
    mayRetryDelete: ({ context }) => context.retries < DETACH_TRIES - 1,
    ownLinkDetached: ({ context, event }) =>
      event.type === 'LINK_NEW' &&
      memberBridgeNetwork(context.spec) !== undefined &&
      context.bridge !== undefined &&
      event.link.master !== context.bridge.ifindex,
    stillDetached: ({ context, event }) => {
      const out = (event as { output?: ProbeResult }).output;
      return out !== undefined && out.present && context.bridge !== undefined && out.master !== context.bridge.ifindex;
    },
    bridgeMoved: ({ context, event }) => event.type === 'NI_UP' && event.bridge.ifindex !== context.bridge?.ifindex,
  },
  delays: {
    retryDelay: ({ context }) => backoffMs(context.retries),
  },
  actions: {
    reportPort: enqueueActions(({ context, enqueue }) => {
      if (context.spec.kind !== 'port') return;
      const present = context.present === true;
      const note: PortStateNotification = {
        type: 'PORT_STATE',
        port: context.spec.name,
        present,
        carrier: present && context.carrier,
        ...(context.guard !== undefined && { guard: context.guard }),
      };
      enqueue.sendParent(note);
    }),
    notifyDeleted: sendParent(({ self }) => ({ type: 'CHILD_DELETED', id: self.id })),
    bridgePortSeen: assign(({ context, event }) => {
      if (event.type !== 'BRIDGE_PORT') return {};
      if (event.guardTripped) return { guard: guardReason(context.spec), reason: guardReason(context.spec) };
      return context.guard === undefined ? {} : { guard: undefined, reason: `${describe(context.spec)} no longer held by BPDU guard (STP state ${event.state})` };
    }),
    linkSeen: assign(({ context, event }) => {
      if (event.type !== 'LINK_NEW') return {};
      const carrier = event.link.carrier;
      const reason =
        context.spec.kind === 'port' && carrier !== context.carrier
          ? `${describe(context.spec)} ${carrier ? 'has carrier' : 'lost carrier'}`
          : context.reason;
      return { present: true, carrier, reason };
    }),
    // a veth's host end may be deleted while its netns lives on: then the probe decides (re-create, or wait for the netns)
    linkGone: assign(({ context }) => ({
      present: context.spec.kind === 'veth' && context.present !== false ? undefined : false,
      ifindex: undefined,
      reason: `${describe(context.spec)} gone`,
    })),
    netnsGone: assign(({ context }) => ({
      present: false,
      reason: context.spec.kind === 'veth' ? `netns ${String(context.spec.netns)} removed` : context.reason,
    })),
    netnsBack: assign({ present: true }),
    detachFailed: assign(({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      return { retries: context.retries + 1, reason: `detach failed: ${error instanceof Error ? error.message : String(error)}` };
    }),
    markDetached: assign(({ context }) => {
      const problem = `${describe(context.spec)} detached from ${context.bridge?.name ?? 'its bridge'} behind edgenet's back`;
      return { problem, reason: problem, retries: 0 };
    }),
    takeBridge: assign(({ event }) => (event.type === 'NI_UP' ? { bridge: event.bridge } : {})),
    takeUpdate: assign(({ event }) => (event.type === 'UPDATE' ? { spec: event.spec, reason: `update: ${event.fields.join(', ')}` } : {})),
  },
}).createMachine({
  id: 'endpoint',
  initial: 'pending',
  context: ({ input }) => ({ spec: input.spec, bridge: input.bridge, carrier: false, retries: 0, reason: 'new in config' }),
  on: {
    DELETE: '.deleting',
    BRIDGE_PORT: { actions: ['bridgePortSeen', 'reportPort'] },
  },
  states: {
    pending: {
      invoke: {
        src: 'probe',
        input: ({ context }) => context.spec,
        onDone: {
          actions: [
            assign(({ context, event }) => {
              // a known absence (LINK_DEL, NETNS_REMOVED, attach said ENOENT) ends with LINK_NEW / NETNS_ADDED, not
              // with a probe: else an attach that keeps failing ENOENT while the probe sees the object loops unthrottled
              if (context.present === false) return { carrier: event.output.carrier ?? context.carrier };
              const next = { ...context, present: event.output.present, carrier: event.output.carrier ?? context.carrier };
              return { present: next.present, carrier: next.carrier, reason: waitingReason(next) };
            }),
            'reportPort',
          ],
        },
        onError: {
          actions: assign(({ context, event }) => ({ probeFailed: true, retries: context.retries + 1, reason: `probe failed: ${String(event.error)}` })),
        },
      },
      always: { guard: 'canAttach', target: 'creating', actions: assign({ reason: 'attaching' }) },
      after: {
        retryDelay: {
          guard: 'probeDue',
          target: 'pending',
          reenter: true,
          actions: assign(({ context }) => ({ probeFailed: false, recheck: false, present: context.recheck === true ? undefined : context.present })),
        },
      },
      on: {
        NI_UP: { actions: 'takeBridge' },
        NI_DOWN: { actions: assign({ bridge: undefined }) },
        LINK_NEW: { actions: ['linkSeen', 'reportPort'] },
        // re-enter: a veth whose presence became unknown is probed again
        LINK_DEL: { target: 'pending', reenter: true, actions: ['linkGone', 'reportPort'] },
        NETNS_ADDED: { actions: 'netnsBack' },
        NETNS_REMOVED: { actions: 'netnsGone' },
        UPDATE: { target: 'pending', reenter: true, actions: ['takeUpdate', assign({ present: undefined })] },
      },
    },
    creating: {
      invoke: {
        src: 'attach',
        input: ({ context }) => ({ spec: context.spec, bridge: context.bridge }),
        onDone: {
          target: 'ready',
          actions: [
            assign(({ context, event }) => ({
              ifindex: event.output.ifindex,
              carrier: event.output.carrier,
              problem: undefined,
              guard: event.output.guardTripped === true ? guardReason(context.spec) : undefined,
              retries: 0,
              reason:
                event.output.guardTripped === true
                  ? guardReason(context.spec)
                  : context.spec.kind === 'port' && !event.output.carrier
                    ? `${describe(context.spec)} has no carrier`
                    : 'attached',
            })),
            'reportPort',
          ],
        },
        onError: [
          {
            guard: 'missing',
            target: 'pending',
            actions: assign(({ context }) => ({
              present: false,
              // taps and ports come back with a LINK_NEW; a netns seen half-made sends nothing more
              recheck: context.spec.kind === 'veth',
              retries: context.spec.kind === 'veth' ? context.retries + 1 : context.retries,
              reason: waitingReason({ ...context, present: false }),
            })),
          },
          {
            target: 'degraded',
            actions: assign(({ context, event }) => {
              const problem = `attach failed: ${event.error instanceof Error ? event.error.message : String(event.error)}`;
              return { problem, reason: problem, retries: context.retries + 1 };
            }),
          },
        ],
      },
      on: {
        UPDATE: { target: 'creating', reenter: true, actions: 'takeUpdate' },
        NI_UP: { target: 'creating', reenter: true, actions: 'takeBridge' },
        NI_DOWN: { target: 'pending', actions: assign({ bridge: undefined }) },
        LINK_DEL: [
          // a veth's LINK_DEL while its attach runs is that attach undoing a half-built pair (or a stale event of
          // the one before): the attach's own outcome decides, or the retry would skip its backoff
          { guard: 'isVeth', actions: assign({ ifindex: undefined }) },
          { target: 'pending', actions: ['linkGone', 'reportPort'] },
        ],
        LINK_NEW: { actions: 'linkSeen' },
        NETNS_REMOVED: { target: 'pending', actions: 'netnsGone' },
      },
    },
    ready: {
      always: { guard: 'unhealthy', target: 'degraded' },
      initial: 'idle',
      states: {
        idle: {},
        // a link event said "detached": events can be stale (sent before our own enslave), so ask the kernel first
        verifying: {
          invoke: {
            src: 'verify',
            input: ({ context }) => context.spec,
            onDone: [
              {
                guard: 'stillDetached',
                target: '#endpoint.degraded',
                actions: 'markDetached',
              },
              { target: 'idle' },
            ],
            onError: { target: 'idle' },
          },
        },
      },
      on: {
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
        NI_UP: [{ guard: 'bridgeMoved', target: 'creating', actions: 'takeBridge' }, { actions: 'takeBridge' }],
        NI_DOWN: { target: 'pending', actions: assign({ bridge: undefined, reason: 'network down' }) },
        LINK_DEL: { target: 'pending', actions: ['linkGone', 'reportPort'] },
        LINK_NEW: [
          { guard: 'ownLinkDetached', target: '.verifying', actions: ['linkSeen', 'reportPort'] },
          { actions: ['linkSeen', 'reportPort'] },
        ],
        NETNS_REMOVED: { target: 'pending', actions: 'netnsGone' },
      },
    },
    degraded: {
      always: { guard: 'healthy', target: 'ready' },
      after: { retryDelay: { guard: 'failed', target: 'creating' } },
      on: {
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
        NI_UP: [{ guard: 'bridgeMoved', target: 'creating', actions: 'takeBridge' }, { actions: 'takeBridge' }],
        NI_DOWN: { target: 'pending', actions: assign({ bridge: undefined, problem: undefined, reason: 'network down' }) },
        LINK_DEL: [
          // the undo of the failed attempt's half-built pair: the retry waits its backoff all the same
          { guard: 'vethInBackoff', actions: assign({ ifindex: undefined }) },
          { target: 'pending', actions: ['linkGone', 'reportPort', assign({ problem: undefined })] },
        ],
        LINK_NEW: [
          {
            guard: 'ownLinkDetached',
            target: 'degraded',
            reenter: true,
            actions: ['linkSeen', 'reportPort', 'markDetached'],
          },
          { actions: ['linkSeen', 'reportPort'] },
        ],
        NETNS_REMOVED: { target: 'pending', actions: ['netnsGone', assign({ problem: undefined })] },
      },
    },
    deleting: {
      entry: assign({ reason: 'removed from config', retries: 0 }),
      initial: 'working',
      states: {
        working: {
          invoke: {
            src: 'detach',
            input: ({ context }) => context.spec,
            onDone: '#endpoint.deleted',
            onError: [
              // a few tries with backoff; then give up (the sweep at the next start removes what is left)
              { guard: 'mayRetryDelete', target: 'waiting', actions: 'detachFailed' },
              { target: '#endpoint.deleted', actions: 'detachFailed' },
            ],
          },
        },
        waiting: { after: { retryDelay: 'working' } },
      },
      on: { DELETE: {} },
    },
    deleted: {
      type: 'final',
      entry: 'notifyDeleted',
    },
  },
});
