import { assign, fromPromise, setup } from 'xstate';
import { backoffMs } from './specs.ts';
import { notProvided } from './not-provided.ts';

// The device actor owns what no single NI does: the base of table inet edgenet (base chains, the port-forward hook,
// no foreign rule or chain in it) and net.ipv4.ip_forward in edgenet's namespace. Drift found by the audit takes it
// to `degraded` with the reason; the repair is its own, one transaction (and one sysctl write), no NI moves.

export interface DeviceSpec {
  /** a local NI exists: the table's base must be there */
  firewall: boolean;
  /** a local NI has a port: net.ipv4.ip_forward must be 1 */
  forwarding: boolean;
}

export interface DeviceContext {
  /** tells this context from an NI's or an endpoint's */
  device: true;
  spec: DeviceSpec;
  /** what is wrong, while degraded */
  problem?: string;
  retries: number;
  reason?: string;
}

export type DeviceEvent = { type: 'UPDATE'; spec: DeviceSpec } | { type: 'DRIFT'; detail: string };

export const deviceMachine = setup({
  types: {} as { context: DeviceContext; input: DeviceSpec; events: DeviceEvent },
  actors: {
    /** Converge the table's base (and ip_forward when wanted); idempotent, intact: no write. */
    ensureDevice: fromPromise<void, DeviceSpec>(notProvided('ensureDevice')),
  },
  delays: {
    retryDelay: ({ context }) => backoffMs(context.retries),
  },
  actions: {
    takeUpdate: assign(({ event }) => (event.type === 'UPDATE' ? { spec: event.spec, reason: 'update' } : {})),
    markDrift: assign(({ event }) => (event.type === 'DRIFT' ? { problem: event.detail, reason: event.detail, retries: 0 } : {})),
  },
}).createMachine({
  id: 'device',
  initial: 'pending',
  context: ({ input }) => ({ device: true, spec: input, retries: 0, reason: 'started' }),
  states: {
    pending: { always: 'creating' },
    creating: {
      invoke: {
        src: 'ensureDevice',
        input: ({ context }) => context.spec,
        onDone: { target: 'ready', actions: assign({ problem: undefined, retries: 0, reason: 'repaired' }) },
        onError: {
          target: 'degraded',
          actions: assign(({ context, event }) => {
            const problem = `repair failed: ${event.error instanceof Error ? event.error.message : String(event.error)}`;
            return { problem, reason: problem, retries: context.retries + 1 };
          }),
        },
      },
      on: { UPDATE: { target: 'creating', reenter: true, actions: 'takeUpdate' } },
    },
    ready: {
      on: {
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
        DRIFT: { target: 'degraded', actions: 'markDrift' },
      },
    },
    degraded: {
      after: { retryDelay: 'creating' },
      on: {
        // a repair already scheduled is not pushed back by more news (DRIFT is not handled here)
        UPDATE: { target: 'creating', actions: 'takeUpdate' },
      },
    },
  },
});
