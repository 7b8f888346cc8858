// Fake kernel actors for the machines' unit tests: a tiny in-memory kernel (bridges, links, netns) behind
// controllable fromPromise actors that record every call, so tests assert on state and on the order of operations.
import { createActor, createMachine, fromPromise, type Actor, type AnyStateMachine, type EventObject, type InputFrom } from 'xstate';
import { endpointMachine, type AttachInput, type AttachOutput, type ProbeResult } from '../../machines/endpoint.machine.ts';
import { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import { systemMachine } from '../../machines/system.machine.ts';
import type { BridgeHandle, LinkSeen, MemberSpec, NiSpec } from '../../machines/specs.ts';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An error as the drivers throw it: with the errno the machines branch on. */
export function errnoError(errno: string, message = errno): Error & { errno: string } {
  return Object.assign(new Error(message), { errno });
}

export interface FakeCall<I, O> {
  input: I;
  signal: AbortSignal;
  settled: boolean;
  /** settle as the fake kernel would (or with `value`) */
  resolve(value?: O): void;
  reject(error: unknown): void;
}

type Behaviour<I, O> = (input: I) => O | Promise<O>;

/**
 * One kernel operation. By default it runs the fake kernel's behaviour at once; after `hold()` each call waits
 * for the test to settle it (`open[0].resolve()`), so intermediate states can be asserted.
 */
export class FakeOp<I, O> {
  readonly calls: FakeCall<I, O>[] = [];
  private held = false;
  private readonly scripted: Behaviour<I, O>[] = [];

  constructor(
    private readonly name: string,
    private readonly behaviour: Behaviour<I, O>,
    private readonly log: string[],
    private readonly label: (input: I) => string,
  ) {}

  /** later calls wait for the test to settle them */
  hold(): this {
    this.held = true;
    return this;
  }

  /** later calls settle at once again (open calls stay open) */
  release(): this {
    this.held = false;
    return this;
  }

  /** the next call behaves like `fn` instead of the fake kernel */
  once(fn: Behaviour<I, O>): this {
    this.scripted.push(fn);
    return this;
  }

  failOnce(error: unknown): this {
    return this.once(() => {
      throw error;
    });
  }

  get open(): FakeCall<I, O>[] {
    return this.calls.filter((c) => !c.settled);
  }

  get inputs(): I[] {
    return this.calls.map((c) => c.input);
  }

  readonly actor = fromPromise<O, I>(({ input, signal }) => {
    this.log.push(`${this.name} ${this.label(input)}`);
    const behaviour = this.scripted.shift() ?? this.behaviour;
    const result = deferred<O>();
    const settle = (run: () => O | Promise<O>): void => {
      if (call.settled) return;
      call.settled = true;
      Promise.resolve()
        .then(run)
        .then(result.resolve, result.reject);
    };
    const call: FakeCall<I, O> = {
      input,
      signal,
      settled: false,
      resolve: (value) => settle(value === undefined ? () => behaviour(input) : () => value),
      reject: (error) =>
        settle(() => {
          throw error;
        }),
    };
    this.calls.push(call);
    if (!this.held) call.resolve();
    return result.promise;
  });
}

export interface FakeLink {
  ifindex: number;
  carrier: boolean;
  master?: number;
}

/** What the fake kernel holds: bridges by name, links (taps, ports, veth host ends) by name, app namespaces. */
export class FakeKernel {
  /** every call to a fake operation, in call order: `deleteNi lan`, `detach web/lan`… */
  readonly log: string[] = [];
  readonly bridges = new Map<string, BridgeHandle>();
  readonly links = new Map<string, FakeLink>();
  readonly netns = new Set<string>();
  private nextIfindex = 10;

  ifindex(): number {
    return this.nextIfindex++;
  }

  /** a link appears (a hypervisor creates its tap, a NIC shows up); returns it as a LINK_NEW event carries it */
  addLink(ifname: string, carrier = true): LinkSeen {
    this.links.set(ifname, { ifindex: this.ifindex(), carrier });
    return this.seen(ifname);
  }

  removeLink(ifname: string): LinkSeen {
    const seen = this.seen(ifname);
    this.links.delete(ifname);
    return seen;
  }

  setCarrier(ifname: string, carrier: boolean): LinkSeen {
    const link = this.mustLink(ifname);
    link.carrier = carrier;
    return this.seen(ifname);
  }

  /** someone else releases the link from its bridge */
  releaseBehindOurBack(ifname: string): LinkSeen {
    delete this.mustLink(ifname).master;
    return this.seen(ifname);
  }

  seen(ifname: string): LinkSeen {
    const link = this.mustLink(ifname);
    return { ifindex: link.ifindex, ifname, carrier: link.carrier, up: true, ...(link.master !== undefined && { master: link.master }) };
  }

  masterOf(ifname: string): string | undefined {
    const master = this.links.get(ifname)?.master;
    return [...this.bridges.values()].find((b) => b.ifindex === master)?.name;
  }

  private mustLink(ifname: string): FakeLink {
    const link = this.links.get(ifname);
    if (!link) throw new Error(`fake kernel: no link ${ifname}`);
    return link;
  }
}

export function niFakes(kernel: FakeKernel) {
  const createNi = new FakeOp<NiSpec, BridgeHandle>(
    'createNi',
    (spec) => {
      const bridge = kernel.bridges.get(spec.bridge) ?? { name: spec.bridge, ifindex: kernel.ifindex() };
      kernel.bridges.set(spec.bridge, bridge);
      return bridge;
    },
    kernel.log,
    (spec) => spec.name,
  );
  const deleteNi = new FakeOp<NiSpec, void>(
    'deleteNi',
    (spec) => {
      const bridge = kernel.bridges.get(spec.bridge);
      kernel.bridges.delete(spec.bridge);
      // deleting a bridge releases its slaves
      for (const link of kernel.links.values()) if (bridge && link.master === bridge.ifindex) delete link.master;
    },
    kernel.log,
    (spec) => spec.name,
  );
  // the NI's services (routing table, dnsmasq): nothing in the fake kernel
  const createServices = new FakeOp<NiSpec, void>('createServices', () => undefined, kernel.log, (spec) => spec.name);
  return { createNi, createServices, deleteNi, actors: { createNi: createNi.actor, createServices: createServices.actor, deleteNi: deleteNi.actor } };
}

function memberLabel(spec: MemberSpec): string {
  return spec.key;
}

export function endpointFakes(kernel: FakeKernel) {
  const probe = new FakeOp<MemberSpec, ProbeResult>(
    'probe',
    (spec): ProbeResult => {
      const link = kernel.links.get(spec.kind === 'port' ? spec.ifname : spec.hostIfname);
      const master = link?.master !== undefined ? { master: link.master } : {};
      if (spec.kind === 'veth') return { present: spec.netns !== undefined && kernel.netns.has(String(spec.netns)), ...master };
      return link ? { present: true, carrier: link.carrier, ...master } : { present: false };
    },
    kernel.log,
    memberLabel,
  );
  const attach = new FakeOp<AttachInput, AttachOutput>(
    'attach',
    ({ spec, bridge }): AttachOutput => {
      if (spec.kind === 'veth') {
        if (spec.netns === undefined || !kernel.netns.has(String(spec.netns))) throw errnoError('ENOENT', `netns ${String(spec.netns)}: no such file`);
        if (!kernel.links.has(spec.hostIfname)) kernel.addLink(spec.hostIfname);
      }
      const ifname = spec.kind === 'port' ? spec.ifname : spec.hostIfname;
      const link = kernel.links.get(ifname);
      if (!link) throw errnoError('ENODEV', `${ifname}: no such device`);
      const enslave = spec.kind !== 'port' || spec.attach;
      if (enslave) {
        if (!bridge || ![...kernel.bridges.values()].some((b) => b.ifindex === bridge.ifindex)) throw errnoError('ENODEV', 'no such bridge');
        link.master = bridge.ifindex;
      }
      return { ifindex: link.ifindex, carrier: link.carrier };
    },
    kernel.log,
    ({ spec }) => memberLabel(spec),
  );
  const detach = new FakeOp<MemberSpec, void>(
    'detach',
    (spec) => {
      if (spec.kind === 'veth') kernel.links.delete(spec.hostIfname);
      else {
        const link = kernel.links.get(spec.kind === 'port' ? spec.ifname : spec.hostIfname);
        if (link) delete link.master;
      }
    },
    kernel.log,
    memberLabel,
  );
  return { probe, attach, detach, actors: { probe: probe.actor, verify: probe.actor, attach: attach.actor, detach: detach.actor } };
}

export type NiFakes = ReturnType<typeof niFakes>;
export type EndpointFakes = ReturnType<typeof endpointFakes>;

/** The system machine with both kinds of children doing their kernel work on one fake kernel. */
export function systemWithFakes(kernel = new FakeKernel()) {
  const ni = niFakes(kernel);
  const ep = endpointFakes(kernel);
  const machine = systemMachine.provide({
    actors: {
      networkInstance: networkInstanceMachine.provide({ actors: ni.actors }),
    },
  });
  // the member actors run outside the system actor's children (machines/member-registry.ts)
  const endpoint = endpointMachine.provide({ actors: ep.actors });
  return { kernel, ni, ep, machine, endpoint };
}

/**
 * Runs a machine as the child of a recording parent, as the system actor runs it: what the child sends its parent
 * (NI_UP, PORT_STATE, CHILD_DELETED…) lands in `sent`.
 */
export function underParent<M extends AnyStateMachine>(machine: M, input: InputFrom<M>, id = 'child') {
  const sent: EventObject[] = [];
  const parent = createMachine({
    invoke: { id, src: machine, input },
    on: {
      '*': {
        actions: ({ event }) => {
          if (!event.type.startsWith('xstate.')) sent.push(event);
        },
      },
    },
  });
  const root = createActor(parent).start();
  const child = root.getSnapshot().children[id] as Actor<M> | undefined;
  if (!child) throw new Error(`child ${id} did not start`);
  return {
    actor: child,
    sent,
    /** events of one type the child sent its parent */
    sentOf: <T extends string>(type: T) => sent.filter((e): e is EventObject & { type: T } & Record<string, unknown> => e.type === type),
    stop: () => root.stop(),
  };
}
